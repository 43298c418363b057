// `npm run mutate`: mutation testing (StrykerJS) of the modules in scripts/mutate-modules.mjs, one
// module at a time with only its own test files. Prints each module's mutation score and exits
// non-zero when any is below the required score.
//   npm run mutate                               every module
//   npm run mutate -- src/maas/credentials.ts    one module, named by a file it mutates or by name
//   npm run mutate -- --incremental spool        reuse earlier results for unchanged code and tests
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { MUTATION_MODULES, REQUIRED_SCORE } from './mutate-modules.mjs';

const args = process.argv.slice(2);
const incremental = args.includes('--incremental');
const wanted = args.filter((arg) => arg !== '--incremental');

const unknown = wanted.filter((want) => !MUTATION_MODULES.some((module) => matches(module, want)));
if (unknown.length > 0) {
  const known = MUTATION_MODULES.map((module) => `${module.name} (${module.mutate.join(', ')})`).join('; ');
  console.error(`mutate: no module ${unknown.join(', ')}; name one of: ${known}`);
  process.exit(2);
}
const modules = wanted.length === 0 ? MUTATION_MODULES : MUTATION_MODULES.filter((module) => wanted.some((want) => matches(module, want)));

const rows = [];
for (const module of modules) {
  console.log(`\n## ${module.name}: ${module.mutate.join(', ')} (tests: ${module.tests.join(', ')})`);
  const report = `reports/mutation/${module.name}.json`;
  rmSync(report, { force: true });
  const run = spawnSync(
    process.execPath,
    ['node_modules/@stryker-mutator/core/bin/stryker.js', 'run', 'stryker.config.mjs', ...(incremental ? ['--incremental'] : [])],
    { stdio: 'inherit', env: { ...process.env, MUTATE_MODULE: module.name } },
  );
  const counts = readCounts(report);
  if (counts === undefined) {
    rows.push({ module, problem: `no report (stryker exited with ${run.status ?? run.signal})` });
    continue;
  }
  rows.push({ module, counts });
}

console.log('\nmutation score by module (killed + timed out, of all valid mutants; ignored = marked equivalent):');
let failed = 0;
for (const { module, counts, problem } of rows) {
  if (problem) {
    failed += 1;
    console.log(`  FAIL ${module.name}: ${problem}`);
    continue;
  }
  for (const [file, c] of Object.entries(counts)) {
    const detected = c.Killed + c.Timeout;
    const valid = detected + c.Survived + c.NoCoverage;
    const score = valid === 0 ? 100 : (100 * detected) / valid;
    const ok = score >= REQUIRED_SCORE;
    if (!ok) failed += 1;
    console.log(
      `  ${ok ? 'ok  ' : 'FAIL'} ${file}: ${score.toFixed(2)}% (${detected}/${valid} killed; ${c.Survived} survived, ${c.NoCoverage} not covered, ${c.Ignored} ignored)`,
    );
  }
}
console.log(failed === 0 ? `every module scored at least ${REQUIRED_SCORE}%` : `${failed} module(s) below ${REQUIRED_SCORE}% or not measured`);
process.exit(failed === 0 ? 0 : 1);

function matches(module, want) {
  return module.name === want || module.mutate.includes(want.replace(/^\.\//, ''));
}

// Mutant counts by status for each file in a Stryker JSON report, or undefined without one.
function readCounts(path) {
  let report;
  try {
    report = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
  const counts = {};
  for (const [file, { mutants }] of Object.entries(report.files)) {
    const c = { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, Ignored: 0, CompileError: 0, RuntimeError: 0, Pending: 0 };
    for (const mutant of mutants) c[mutant.status] = (c[mutant.status] ?? 0) + 1;
    counts[file] = c;
  }
  return counts;
}
