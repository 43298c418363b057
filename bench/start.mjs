// Start-up: `maas-run-scripts --version` as users start it (the npm bin, which runs the single
// file with V8's code cache), side by side with a bare `node -e 0` in the same run, rounds
// alternating, medians compared. Target: ≤ 1.3× the bare start (a miss exits non-zero). The
// single file run directly by node (no code cache; how a host without npm runs it) is shown too.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
const TARGET = 1.3;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const env = { ...process.env };
delete env.NODE_OPTIONS;

const variants = {
  bare: ['-e', '0'],
  bin: ['bin/maas-run-scripts', '--version'],
  single: ['build/maas-run-scripts', '--version'],
};

function timed(args) {
  const start = performance.now();
  const child = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - start;
  if (child.status !== 0) throw new Error(`node ${args.join(' ')} exited ${child.status}: ${child.stderr}`);
  return ms;
}

// Warm-up: page cache, and the bin's code cache written by its first run.
for (let round = 0; round < 3; round += 1) for (const args of Object.values(variants)) timed(args);
const times = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
for (let round = 0; round < ROUNDS; round += 1) {
  const names = Object.keys(variants);
  if (round % 2 === 1) names.reverse();
  for (const name of names) times[name].push(timed(variants[name]));
}
const bare = median(times.bare);
const ratio = median(times.bin) / bare;
console.log(`  node -e 0:                           median ${bare.toFixed(1)} ms [nproc ${availableParallelism()}, Node ${process.version}]`);
console.log(`  node build/maas-run-scripts --version: median ${median(times.single).toFixed(1)} ms (${(median(times.single) / bare).toFixed(2)}× bare; no code cache)`);
console.log(`  maas-run-scripts --version (the bin): median ${median(times.bin).toFixed(1)} ms`);
console.log(`  --version / bare start = ${ratio.toFixed(2)}× (target ≤ ${TARGET}×) ${ratio <= TARGET ? 'OK' : 'OVER TARGET'} [${ROUNDS} rounds]`);
if (ratio > TARGET) process.exitCode = 1; // a missed target fails npm run bench
