// `npm run bench`: runs every bench/*.mjs in turn (each prints its own figures, measured side
// by side in one run as ratios), after `npm run build`. Pass names to run only some: `npm run bench -- server`.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const only = process.argv.slice(2);
// Every figure compares Node processes with each other, so what the environment adds to every
// Node start is left out: NODE_EXTRA_CA_CERTS makes Node parse a CA bundle at start-up (tens of
// ms on some machines), which would hide the tool's own start-up cost in both sides of a ratio,
// and NODE_OPTIONS could change what is measured. The benches and every process they start run
// without them.
const env = { ...process.env };
const left = ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS'].filter((name) => env[name] !== undefined);
for (const name of left) delete env[name];
if (left.length > 0) console.log(`(run without ${left.join(' and ')}, set in this environment: see scripts/bench.mjs)`);
const files = readdirSync('bench').filter((f) => f.endsWith('.mjs')).sort()
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)));
if (files.length === 0) {
  console.error('no benchmarks found under bench/');
  process.exit(1);
}
// The bin's code caches (bin/maas-run-scripts) are those the benchmarked runs write themselves, in
// a directory of this run: what a user's repeated runs of a command find, whatever other runs
// (a test suite) left in ~/.cache.
const cacheHome = mkdtempSync(join(tmpdir(), 'bench-cache-'));
env.XDG_CACHE_HOME = cacheHome;
let failed = 0;
for (const file of files) {
  console.log(`\n## ${file.replace(/\.mjs$/, '')}`);
  const run = spawnSync(process.execPath, ['--expose-gc', `bench/${file}`], { stdio: 'inherit', env });
  if (run.status !== 0) failed += 1;
}
rmSync(cacheHome, { recursive: true, force: true });
process.exit(failed === 0 ? 0 : 1);
