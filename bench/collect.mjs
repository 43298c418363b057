// The whole concurrent collect against its slowest single collector, measured side by side in
// this run (target: concurrent ≤ 1.3 × slowest). Rounds alternate the two so machine noise
// hits both alike; medians are compared.
import { performance } from 'node:perf_hooks';
import { deployInfoCollectors } from '../dist/collectors/index.js';
import { createHost } from '../dist/src/host/host.js';
import { runCollector, runCollectors } from '../dist/src/runner/run-collectors.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const TARGET = 1.3;
// A fresh Host for every run, as each command run creates one: what a Host shares between its
// collectors (walks of /sys) must not carry over from one measured run to the next.
const host = () => createHost();

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timed(fn) {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

// Warm-up: fills the page cache and the tool lookups, as on a machine that has run before.
await runCollectors(deployInfoCollectors, host());

const single = new Map(deployInfoCollectors.map((c) => [c.name, []]));
const slowest = [];
const together = [];
const failed = new Set();
for (let round = 0; round < ROUNDS; round += 1) {
  let worst = 0;
  for (const collector of deployInfoCollectors) {
    const { ms, value } = await timed(() => runCollector(collector, host()));
    if (value.output.exitCode !== 0) failed.add(collector.name);
    single.get(collector.name).push(ms);
    worst = Math.max(worst, ms);
  }
  slowest.push(worst);
  together.push((await timed(() => runCollectors(deployInfoCollectors, host()))).ms);
}

for (const [name, times] of single) console.log(`  ${name.padEnd(14)} alone: median ${median(times).toFixed(1)} ms${failed.has(name) ? ' (failed here: tool missing?)' : ''}`);
const ratio = median(together) / median(slowest);
console.log(`  slowest single collector: median ${median(slowest).toFixed(1)} ms`);
console.log(`  all ${deployInfoCollectors.length} concurrently:     median ${median(together).toFixed(1)} ms`);
console.log(`  concurrent / slowest = ${ratio.toFixed(2)}× (target ≤ ${TARGET}×) ${ratio <= TARGET ? 'OK' : 'OVER TARGET'} [${ROUNDS} rounds, ${process.getuid?.() === 0 ? 'root' : 'not root'}]`);
if (ratio > TARGET) process.exitCode = 1; // a missed target fails npm run bench
if (failed.size > 0) {
  // A collector whose tool is missing ends at once: the ratio is not the one the target is for.
  console.log(`  not measured: ${[...failed].join(', ')} failed here (a tool missing?); install lshw, pciutils, usbutils and dmidecode, then run again`);
  process.exitCode = 1;
}
