// `npm run bench`: runs every bench/*.mjs in turn (each prints its own figures, measured side
// by side in one run as ratios), after `npm run build`. Pass names to run only some: `npm run bench -- server`.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const only = process.argv.slice(2);
const files = readdirSync('bench').filter((f) => f.endsWith('.mjs')).sort()
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)));
let failed = 0;
for (const file of files) {
  console.log(`\n## ${file.replace(/\.mjs$/, '')}`);
  const run = spawnSync(process.execPath, ['--expose-gc', `bench/${file}`], { stdio: 'inherit' });
  if (run.status !== 0) failed += 1;
}
if (files.length === 0) {
  console.error('no benchmarks found under bench/');
  process.exit(1);
}
process.exit(failed === 0 ? 0 : 1);
