// `npm run fuzz`: every fuzz target of test/fuzz/ run with many cases (FUZZ_RUNS, default
// 100,000 per target), then one line per target: cases run, crashes, hangs, answers 500 and
// broken rules (round-trips, confinement, secrets). Exits non-zero when any target found anything,
// ran fewer cases than asked, or did not report at all (its worker hung or died).
//
//   npm run fuzz                        100,000 cases per target
//   FUZZ_RUNS=5000 npm run fuzz         fewer, for a quick look
//   npm run fuzz -- test/fuzz/server-http.test.ts   one file only
//   FUZZ_SEED=42 npm run fuzz           replay a run with a fixed seed
//   FUZZ_TIME_LIMIT_MINUTES=240         the whole run is stopped after this long (default 240)
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const runs = Number.parseInt(process.env.FUZZ_RUNS ?? '100000', 10);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`FUZZ_RUNS must be a positive whole number of cases per target, got '${process.env.FUZZ_RUNS}'`);
  process.exit(2);
}
const limitMinutes = Number(process.env.FUZZ_TIME_LIMIT_MINUTES ?? '240');
const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : readdirSync('test/fuzz').filter((name) => name.endsWith('.test.ts')).map((name) => join('test/fuzz', name));

// The targets each file declares: fuzz('name', …) calls.
const expected = files.flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/\bfuzz\(\s*'([^']+)'/g)].map((m) => m[1]));

const dir = mkdtempSync(join(tmpdir(), 'fuzz-report-'));
const report = join(dir, 'tallies.jsonl');
console.log(`fuzzing ${expected.length} targets with ${runs} cases each${process.env.FUZZ_SEED ? ` (seed ${process.env.FUZZ_SEED})` : ''}`);
const started = Date.now();
// One vitest per file, all at once: the files' targets are independent, and vitest alone would
// run the files one after another on a machine with few cores.
const children = files.map((file) =>
  spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--reporter=dot', '--maxWorkers=1', file], {
    stdio: 'inherit',
    env: { ...process.env, FUZZ_RUNS: String(runs), FUZZ_REPORT: report },
  }),
);
const timer = setTimeout(() => {
  console.error(`fuzzing stopped after ${limitMinutes} minutes: the targets without a line below did not finish`);
  for (const child of children) child.kill('SIGTERM');
}, limitMinutes * 60_000);
const codes = await Promise.all(children.map((child) => new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)))));
const exitCode = codes.find((code) => code !== 0) ?? 0;
clearTimeout(timer);

let tallies = [];
try {
  tallies = readFileSync(report, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
} catch {
  // No target finished: every one is reported missing below.
}
rmSync(dir, { recursive: true, force: true });

const columns = ['target', 'cases', 'crashes', 'hangs', '500s', 'broken', 'seconds'];
const rows = tallies.map((t) => [t.target, t.cases, t.crash, t.hang, t.status500, t.wrong, t.seconds].map(String));
const missing = expected.filter((name) => !tallies.some((t) => t.target === name));
for (const name of missing) rows.push([name, '-', '-', 'no end', '-', '-', '-']);
const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
const line = (cells) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
console.log('');
console.log(line(columns));
for (const row of rows) console.log(line(row));

const problems = [];
for (const t of tallies) {
  const found = t.crash + t.hang + t.status500 + t.wrong;
  if (found > 0) problems.push(`${t.target}: ${found} failing cases (first: ${t.examples[0]?.split('\n')[0] ?? '?'})`);
  if (t.cases < runs) problems.push(`${t.target}: ran ${t.cases} of ${runs} cases`);
}
for (const name of missing) problems.push(`${name}: did not report (it hung, or its worker died)`);
if (exitCode !== 0 && problems.length === 0) problems.push(`vitest exited with ${exitCode}`);
const total = tallies.reduce((sum, t) => sum + t.cases, 0);
console.log('');
console.log(`${total} cases in ${Math.round((Date.now() - started) / 1000)} s; ${problems.length === 0 ? 'no crash, no hang, no answer 500, no broken rule' : `${problems.length} problems:`}`);
for (const problem of problems) console.log(`  ${problem}`);
process.exit(problems.length === 0 ? 0 : 1);
