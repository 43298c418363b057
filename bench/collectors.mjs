// The machine-resources collector as a user runs it: `maas-run-scripts collect --only resources`
// (the npm bin, with its code cache), a fresh process printing the document, side by side with a
// bare `node -e 0` start in the same run (rounds alternate, medians compared; target ≤ 2.5×),
// plus its peak RSS (target ≤ 60 MiB). For reference, the same collector imported from
// the compiled dist/ modules (no bundle, no code cache) and the import of the Host alone.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const TIME_TARGET = 2.5;
const RSS_TARGET_MIB = 60;

const work = mkdtempSync(join(tmpdir(), 'bench-collectors-'));
// Loaded with -r into each measured process: its peak RSS, written to stderr at exit.
const peak = join(work, 'peak-rss.cjs');
writeFileSync(peak, "process.on('exit', () => process.stderr.write('maxRSS=' + process.resourceUsage().maxRSS + '\\n'));\n");

const DIST = `
const [{ createHost }, { resourcesCollector }] = await Promise.all([
  import('./dist/src/host/host.js'),
  import('./dist/collectors/resources.js'),
]);
const output = await resourcesCollector.produce(createHost());
process.stdout.write(output.stdout);
process.exitCode = output.exitCode;
`;
const HOST_ONLY = `await import('./dist/src/host/host.js');`;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Timed runs load nothing extra; the peak RSS comes from separate runs with the -r file, which
// would otherwise add its own start-up to every timed process.
function run(args, { measureRss = false } = {}) {
  const start = performance.now();
  const child = spawnSync(process.execPath, [...(measureRss ? ['-r', peak] : []), ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const ms = performance.now() - start;
  if (child.status !== 0) throw new Error(`node ${args.join(' ').slice(0, 60)}… exited ${child.status}: ${child.stderr.trim()}`);
  return { ms, stdout: child.stdout, rssMiB: Number(/maxRSS=(\d+)/.exec(child.stderr)?.[1] ?? NaN) / 1024 };
}

const variants = {
  bare: ['-e', '0'],
  bin: ['bin/maas-run-scripts', 'collect', '--only', 'resources'],
  dist: ['--input-type=module', '-e', DIST],
  host: ['--input-type=module', '-e', HOST_ONLY],
};
try {
  // Warm-up: page cache, and the bin's code cache written by its first run.
  run(variants.bare);
  const doc = JSON.parse(run(variants.bin).stdout);
  run(variants.dist);

  const times = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  const rss = { bin: [] };
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const [name, args] of Object.entries(variants)) times[name].push(run(args).ms);
  }
  for (let round = 0; round < 5; round += 1) rss.bin.push(run(variants.bin, { measureRss: true }).rssMiB);
  const m = (name) => median(times[name]);
  const ratio = m('bin') / m('bare');
  const binPeak = Math.max(...rss.bin);
  console.log(`  machine: ${doc.resources.cpu.total} CPUs, ${doc.resources.storage.disks?.length ?? 0} disks, ${Object.keys(doc.networks).length} interfaces, ${doc.resources.pci.total} PCI devices`);
  console.log(`  node -e 0:                                  median ${m('bare').toFixed(1)} ms`);
  console.log(`  maas-run-scripts collect --only resources:  median ${m('bin').toFixed(1)} ms, peak RSS ${binPeak.toFixed(1)} MiB`);
  console.log(`  for reference, from dist/ (no bundle, no code cache): median ${m('dist').toFixed(1)} ms (${(m('dist') / m('bare')).toFixed(2)}× bare); the Host's import alone ${m('host').toFixed(1)} ms`);
  console.log(`  collector / bare start = ${ratio.toFixed(2)}× (target ≤ ${TIME_TARGET}×) ${ratio <= TIME_TARGET ? 'OK' : 'OVER TARGET'} [${ROUNDS} rounds]`);
  console.log(`  peak RSS = ${binPeak.toFixed(1)} MiB (target ≤ ${RSS_TARGET_MIB} MiB) ${binPeak <= RSS_TARGET_MIB ? 'OK' : 'OVER TARGET'}`);
  if (ratio > TIME_TARGET || binPeak > RSS_TARGET_MIB) process.exitCode = 1; // a missed target fails npm run bench
} finally {
  rmSync(work, { recursive: true, force: true });
}
