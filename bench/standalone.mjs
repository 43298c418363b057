// The standalone executable (build/maas-run-scripts-linux-<arch>, built from this very Node)
// against the single file run by that Node (`node build/maas-run-scripts`): its size, and the
// start-to-exit time of `--version` and of `collect`, measured side by side. Each round runs both
// in turn, the order swapping every round so machine noise hits both alike; medians are compared.
// Target: the standalone takes at most 1.0× the single file's time for each command.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
const TARGET = 1.0;
const STANDALONE = `build/maas-run-scripts-linux-${process.arch}`;
const SINGLE = 'build/maas-run-scripts';

if (!existsSync(STANDALONE)) {
  console.error(`  ${STANDALONE} is missing: npm run build makes it (with Node >= 20.12)`);
  process.exit(1);
}

const env = { ...process.env };
delete env.NODE_OPTIONS;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;

function timed(file, args) {
  const start = performance.now();
  const child = spawnSync(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  const ms = performance.now() - start;
  // collect exits 1 when a wrapped tool (lshw…) is missing; both variants alike, so still comparable.
  if (child.status !== 0 && !(args[0] === 'collect' && child.status === 1)) throw new Error(`${file} ${args.join(' ')} exited ${child.status}: ${child.stderr}`);
  return ms;
}

const variants = {
  standalone: (args) => timed(STANDALONE, args),
  single: (args) => timed(process.execPath, [SINGLE, ...args]),
};

console.log(`  sizes: standalone ${mib(statSync(STANDALONE).size)}, the Node binary it came from ${mib(statSync(process.execPath).size)}, the single file ${mib(statSync(SINGLE).size)} (needs that Node)`);
let missed = 0;
for (const args of [['--version'], ['collect']]) {
  // Warm-up: page cache, as on a machine that has run both before.
  for (let round = 0; round < 3; round += 1) {
    variants.standalone(args);
    variants.single(args);
  }
  const times = { standalone: [], single: [] };
  for (let round = 0; round < ROUNDS; round += 1) {
    const order = round % 2 === 0 ? ['standalone', 'single'] : ['single', 'standalone'];
    for (const name of order) times[name].push(variants[name](args));
  }
  const ratio = median(times.standalone) / median(times.single);
  const ok = ratio <= TARGET;
  if (!ok) missed += 1;
  console.log(
    `  ${args.join(' ').padEnd(9)} standalone median ${median(times.standalone).toFixed(1)} ms, node ${SINGLE} median ${median(times.single).toFixed(1)} ms: ` +
      `${ratio.toFixed(2)}× (target ≤ ${TARGET.toFixed(1)}×) ${ok ? 'OK' : 'OVER TARGET'} [${ROUNDS} rounds, Node ${process.version}]`,
  );
}
process.exit(missed === 0 ? 0 : 1);
