// The machine-resources collector as a user runs it: a fresh Node process that imports it,
// collects and prints the document. Measured side by side with a bare `node -e 0` start in the
// same run (rounds alternate, medians compared; target ≤ 2.5×), plus the child's peak RSS
// (process.resourceUsage().maxRSS at exit; target ≤ 60 MiB).
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const TIME_TARGET = 2.5;
const RSS_TARGET_MIB = 60;

const COLLECT = `
const [{ createHost }, { resourcesCollector }] = await Promise.all([
  import('./dist/src/host/host.js'),
  import('./dist/collectors/resources.js'),
]);
const output = await resourcesCollector.produce(createHost());
process.stdout.write(output.stdout);
process.on('exit', () => process.stderr.write('maxRSS=' + process.resourceUsage().maxRSS + '\\n'));
process.exitCode = output.exitCode;
`;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function run(args) {
  const start = performance.now();
  const child = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const ms = performance.now() - start;
  if (child.status !== 0) throw new Error(`node ${args.join(' ').slice(0, 40)}… exited ${child.status}: ${child.stderr.trim()}`);
  return { ms, stdout: child.stdout, stderr: child.stderr };
}

// Warm-up: page cache and compiled-code cache, as on a machine that has run before.
run(['-e', '0']);
const first = run(['--input-type=module', '-e', COLLECT]);
const doc = JSON.parse(first.stdout);

// The floor the Host itself sets: importing it (and what it imports) and nothing else.
const HOST_ONLY = `await import('./dist/src/host/host.js'); process.on('exit', () => process.stderr.write('maxRSS=' + process.resourceUsage().maxRSS + '\\n'));`;

const bare = [];
const hostOnly = [];
const hostRss = [];
const collect = [];
const rss = [];
for (let round = 0; round < ROUNDS; round += 1) {
  bare.push(run(['-e', '0']).ms);
  const h = run(['--input-type=module', '-e', HOST_ONLY]);
  hostOnly.push(h.ms);
  hostRss.push(Number(/maxRSS=(\d+)/.exec(h.stderr)?.[1] ?? NaN) / 1024);
  const r = run(['--input-type=module', '-e', COLLECT]);
  collect.push(r.ms);
  rss.push(Number(/maxRSS=(\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024);
}

const ratio = median(collect) / median(bare);
const peak = Math.max(...rss);
console.log(`  machine: ${doc.resources.cpu.total} CPUs, ${doc.resources.storage.disks?.length ?? 0} disks, ${Object.keys(doc.networks).length} interfaces, ${doc.resources.pci.total} PCI devices`);
console.log(`  node -e 0:               median ${median(bare).toFixed(1)} ms`);
console.log(`  import of the Host only: median ${median(hostOnly).toFixed(1)} ms, peak RSS ${Math.max(...hostRss).toFixed(1)} MiB (${(median(hostOnly) / median(bare)).toFixed(2)}× bare: the floor under any collector)`);
console.log(`  resources collector:     median ${median(collect).toFixed(1)} ms`);
console.log(`  collector / bare start = ${ratio.toFixed(2)}× (target ≤ ${TIME_TARGET}×) ${ratio <= TIME_TARGET ? 'OK' : 'OVER TARGET'} [${ROUNDS} rounds]`);
console.log(`  peak RSS = ${peak.toFixed(1)} MiB (median ${median(rss).toFixed(1)} MiB; target ≤ ${RSS_TARGET_MIB} MiB) ${peak <= RSS_TARGET_MIB ? 'OK' : 'OVER TARGET'}`);
if (ratio > TIME_TARGET || peak > RSS_TARGET_MIB) process.exitCode = 1; // a missed target fails npm run bench
