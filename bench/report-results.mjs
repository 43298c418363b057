// report-results end to end against the bundled server (in this process, on 127.0.0.1), as a
// fresh CLI process each round: wall time, CPU time (user+sys, its children included) and peak
// RSS, side by side in the same run with each built-in collector run alone (`collect --only X`,
// also a fresh process, so each includes one Node start-up). Rounds alternate so noise hits all
// alike; medians are compared. Targets (a miss exits non-zero): report-results' wall time ≤ 1.6×
// and its CPU time ≤ 1.5× those of the slowest collector run alone (lshw, on most machines), and
// its peak RSS ≤ 60 MiB. The bare `lshw -xml` command is timed too, for reference. CPU and RSS
// come from GNU time, which the figures with targets need.
// The floor: a Node process that only starts the commands a run started here and makes as many
// requests of the same sizes (bench/helpers/floor-process.cjs), in the same rounds: what of the
// CPU target no implementation can spend on anything else; and the same process making, besides,
// the reads of the machine the collectors make (bench/helpers/record-reads.mjs notes them). Both
// are printed, not targets.
// Change-only sync: a steady-state run (same hardware, every result unchanged) beside a full run
// (--force), wall time and bytes on the wire (counted by a forwarding proxy), in the same rounds.
import { spawn } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { deployInfoCollectors } from '../dist/collectors/index.js';
import { recordCollectorReads } from './helpers/record-reads.mjs';
import { MaasClient } from '../dist/src/maas/client.js';
import { credsYaml, parseCredentials } from '../dist/src/maas/credentials.js';
import { findExecutable, SEARCH_PATH_ENV } from '../dist/src/host/run-command.js';
import { startMaasServer } from '../dist/src/server/server.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const TARGET = { wall: 1.6, cpu: 1.5, rssMiB: 60 };
const CLI = 'bin/maas-run-scripts';
const FLOOR = 'bench/helpers/floor-process.cjs';
// The commands the collectors and the tool's priority step may start (grep the sources for
// `run('` and findExecutable to update it): each installed one gets a recording wrapper for one
// run, which searches only the wrappers' directory (a command left out would count as missing).
const TOOLS = ['dmidecode', 'ethtool', 'ionice', 'ip', 'lsblk', 'lshw', 'lspci', 'lsusb', 'systemd-detect-virt', 'udevadm'];
const GNU_TIME = ['/usr/bin/time', '/bin/time'].find((p) => existsSync(p));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const work = mkdtempSync(join(tmpdir(), 'bench-report-'));
const server = await startMaasServer({ port: 0 });
let counter;
let sink;
try {
  const admin = new MaasClient({ baseUrl: server.url, credentials: parseCredentials(server.adminKey, 'admin key') });
  const machine = await admin.createMachine({ hostname: 'bench-host', deployed: 'true' });
  const token = await admin.getMachineToken(machine.system_id);
  const creds = join(work, 'creds.yaml');
  writeFileSync(creds, credsYaml({ consumer_key: token.consumer_key, endpoint: `${server.url}/metadata/status/${machine.system_id}`, token_key: token.token_key, token_secret: token.token_secret }), { mode: 0o600 });

  // Runs the CLI in a child (the server answers from this process, so spawn asynchronously).
  const measure = (args, command = [process.execPath, CLI], env = process.env) =>
    new Promise((resolve, reject) => {
      const stats = join(work, 'time.txt');
      const argv = GNU_TIME ? [GNU_TIME, '-f', '%e %U %S %M', '-o', stats, ...command, ...args] : [...command, ...args];
      const start = performance.now();
      const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env });
      let stderr = '';
      child.stderr.on('data', (c) => (stderr += c));
      child.on('error', reject);
      child.on('close', (code) => {
        const wallMs = performance.now() - start;
        if (code !== 0 && args[0] === 'report-results') return reject(new Error(`report-results failed (${code}): ${stderr.trim()}`));
        if (!GNU_TIME) return resolve({ wallMs, cpuMs: NaN, rssKiB: NaN, code });
        const [, user, sys, rss] = readFileSync(stats, 'utf8').trim().split('\n').pop().split(' ').map(Number);
        resolve({ wallMs, cpuMs: (user + sys) * 1000, rssKiB: rss, code });
      });
    });

  // Forwards to the server and counts the bytes each way, so a run's traffic can be read off.
  const traffic = { up: 0, down: 0, posts: 0, requests: 0 };
  const target = new URL(server.url);
  counter = createServer((req, res) => {
    traffic.requests += 1;
    if (req.method === 'POST') traffic.posts += 1;
    req.on('data', (c) => (traffic.up += c.length));
    const forward = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.on('data', (c) => (traffic.down += c.length));
      answer.pipe(res);
    });
    req.pipe(forward);
  });
  await new Promise((resolve) => counter.listen(0, '127.0.0.1', resolve));
  const viaCounter = `http://127.0.0.1:${counter.address().port}`;
  const counted = async (args) => {
    Object.assign(traffic, { up: 0, down: 0, posts: 0, requests: 0 });
    const r = await measure(args);
    return { ...r, up: traffic.up, down: traffic.down, posts: traffic.posts };
  };

  const reportArgs = ['report-results', '--config', creds, '--state-dir', join(work, 'state'), '--metadata-url', viaCounter];
  // A full run sends all six results; a steady-state run finds them unchanged and sends none.
  const report = () => counted([...reportArgs, '--force']);
  const steady = () => counted(reportArgs);
  const alone = (name) => measure(['collect', '--only', name, ...(name === 'resources' ? [] : ['--output', join(work, `out-${name}`)])]);
  // The command the lshw collector runs, at the priority the tool gives it (the bench runs as root or not alike).
  const lshwPath = ['/usr/bin/lshw', '/usr/sbin/lshw', '/bin/lshw', '/sbin/lshw'].find((p) => existsSync(p));
  const bareLshw = () => measure(['-xml', '-disable', 'dmi'], ['nice', '-n', '19', lshwPath]);

  await report(); // warm-up: page cache, tool lookups

  // One run through wrappers that note each command line (in files named by process id, which
  // follow the order the commands started in) gives the floor its commands, and the counting
  // proxy its traffic.
  const wrappers = join(work, 'wrappers');
  const noted = join(work, 'commands');
  mkdirSync(wrappers);
  mkdirSync(noted);
  for (const tool of TOOLS) {
    const real = await findExecutable(tool);
    if (!real) continue;
    writeFileSync(join(wrappers, tool), `#!/bin/sh\nprintf '%s\\0' '${real}' "$@" > '${noted}'/$$\nexec '${real}' "$@"\n`);
    chmodSync(join(wrappers, tool), 0o755);
  }
  Object.assign(traffic, { up: 0, down: 0, posts: 0, requests: 0 });
  await measure([...reportArgs, '--force'], undefined, { ...process.env, [SEARCH_PATH_ENV]: wrappers });
  const commands = readdirSync(noted)
    .sort((a, b) => Number(a) - Number(b))
    .map((pid) => readFileSync(join(noted, pid), 'utf8').split('\0').slice(0, -1));
  const recorded = { ...traffic };
  // The sink answers the floor's first download with as many bytes as the run received.
  const downBytes = recorded.down;
  let served = 0;
  sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end(req.method === 'GET' && served++ === 0 ? Buffer.alloc(downBytes, 0x2e) : 'OK'));
  });
  await new Promise((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const plan = join(work, 'floor-plan.json');
  mkdirSync(join(work, 'floor-spool'));
  const reads = await recordCollectorReads();
  const readsFile = join(work, 'floor-reads.json');
  writeFileSync(readsFile, JSON.stringify(reads));
  writeFileSync(plan, JSON.stringify({ commands, url: `http://127.0.0.1:${sink.address().port}/`, gets: recorded.requests - recorded.posts, posts: recorded.posts, upBytes: recorded.up, dir: join(work, 'floor-spool') }));
  const floor = (...options) => {
    served = 0;
    return measure([plan, ...options], [process.execPath, FLOOR]);
  };

  const rows = { report: [], steady: [], sumWall: [], sumCpu: [], lshw: [], floor: [], floorReads: [] };
  const perCollector = new Map(deployInfoCollectors.map((c) => [c.name, []]));
  for (let round = 0; round < ROUNDS; round += 1) {
    const r = await report();
    rows.report.push(r);
    rows.floor.push(await floor());
    rows.floorReads.push(await floor('--reads', readsFile));
    rows.steady.push(await steady());
    if (lshwPath) rows.lshw.push(await bareLshw());
    const singles = [];
    for (const collector of deployInfoCollectors) {
      const s = await alone(collector.name);
      perCollector.get(collector.name).push(s);
      singles.push(s);
    }
    rows.sumWall.push(singles.reduce((a, s) => a + s.wallMs, 0));
    rows.sumCpu.push(singles.reduce((a, s) => a + s.cpuMs, 0));
  }

  const wall = median(rows.report.map((r) => r.wallMs));
  const cpu = median(rows.report.map((r) => r.cpuMs));
  const rss = median(rows.report.map((r) => r.rssKiB));
  const peakRss = Math.max(...rows.report.map((r) => r.rssKiB));
  const medianOf = (runs) => ({ wallMs: median(runs.map((r) => r.wallMs)), cpuMs: median(runs.map((r) => r.cpuMs)), rssKiB: median(runs.map((r) => r.rssKiB)) });
  const figure = (f) => `${f.wallMs.toFixed(0)} ms wall, ${f.cpuMs.toFixed(0)} ms CPU, ${(f.rssKiB / 1024).toFixed(1)} MiB peak RSS`;
  // The reference is the lshw collector, the slowest wherever lshw is installed; picking the
  // slowest by this run's medians instead lets noise choose a light collector on a busy machine.
  let slowest;
  for (const [name, runs] of perCollector) {
    const m = medianOf(runs);
    if (name === 'lshw' || (slowest?.name !== 'lshw' && (!slowest || m.wallMs > slowest.wallMs))) slowest = { name, ...m };
    console.log(`  collect --only ${name.padEnd(13)} alone: median ${figure(m)}`);
  }
  if (rows.lshw.length > 0) console.log(`  lshw -xml (the command alone, nice 19): median ${figure(medianOf(rows.lshw))}`);
  console.log(`  report-results (6 signals to the bundled server): median ${figure({ wallMs: wall, cpuMs: cpu, rssKiB: rss })}`);
  console.log(`  wall: report / sum of collectors alone = ${(wall / median(rows.sumWall)).toFixed(2)}×`);
  let missed = 0;
  const check = (label, value, target, unit = '×') => {
    const ok = value <= target;
    if (!ok) missed += 1;
    console.log(`  ${label} = ${value.toFixed(unit === '×' ? 2 : 1)}${unit === '×' ? '×' : ` ${unit}`} (target ≤ ${target}${unit === '×' ? '×' : ` ${unit}`}) ${ok ? 'OK' : 'OVER TARGET'}`);
  };
  // A collector that fails here (its tool missing) finishes early and makes a reference that
  // flatters nothing: the figures against it are not measured.
  const failing = [...perCollector].filter(([, runs]) => runs.some((r) => r.code !== 0)).map(([name]) => name);
  if (failing.length > 0) {
    missed += 1;
    console.log(`  not measured: collect --only ${failing.join(', ')} failed here (a tool missing?); install lshw, pciutils, usbutils and dmidecode, then run again`);
  }
  check(`wall: report / slowest collector alone (${slowest.name})`, wall / slowest.wallMs, TARGET.wall);
  if (GNU_TIME) {
    check(`CPU:  report / slowest collector alone (${slowest.name})`, cpu / slowest.cpuMs, TARGET.cpu);
    check('RSS:  report-results peak (largest of the rounds)', peakRss / 1024, TARGET.rssMiB, 'MiB');
    console.log(`  CPU:  report / sum of collectors alone = ${(cpu / median(rows.sumCpu)).toFixed(2)}×`);
    if (rows.lshw.length > 0) {
      const l = medianOf(rows.lshw);
      console.log(`  for reference, report / bare lshw -xml: wall ${(wall / l.wallMs).toFixed(2)}×, CPU ${(cpu / l.cpuMs).toFixed(2)}× (a Node start alone costs more CPU than lshw on some machines)`);
    }
    const f = medianOf(rows.floor);
    const fr = medianOf(rows.floorReads);
    const budget = TARGET.cpu * slowest.cpuMs;
    console.log(
      `  floor: a Node process that only starts the run's ${commands.length} commands and makes its ${recorded.requests} requests (${FLOOR}): ` +
        `median ${f.cpuMs.toFixed(0)} ms CPU = ${(f.cpuMs / slowest.cpuMs).toFixed(2)}× the slowest collector alone`,
    );
    console.log(
      `  floor: at the CPU target a run has ${(budget - f.cpuMs).toFixed(0)} ms of CPU above the floor for reading the hardware and all it does with it; ` +
        `this one takes ${(cpu - f.cpuMs).toFixed(0)} ms`,
    );
    console.log(
      `  floor with the collectors' ${reads.length} reads of the machine (${FLOOR} --reads): median ${fr.cpuMs.toFixed(0)} ms CPU = ${(fr.cpuMs / slowest.cpuMs).toFixed(2)}× the slowest collector alone; ` +
        `at the CPU target a run has ${(budget - fr.cpuMs).toFixed(0)} ms above it for loading the tool and all it does with what it read; this one takes ${(cpu - fr.cpuMs).toFixed(0)} ms`,
    );
  } else {
    missed += 1;
    console.log('  CPU and RSS not measured: GNU time is not installed (their targets cannot be checked)');
  }
  if (missed > 0) process.exitCode = 1; // a missed target fails npm run bench
  const steadyWall = median(rows.steady.map((r) => r.wallMs));
  const upFull = median(rows.report.map((r) => r.up));
  const upSteady = median(rows.steady.map((r) => r.up));
  const downFull = median(rows.report.map((r) => r.down));
  const downSteady = median(rows.steady.map((r) => r.down));
  const postsSteady = median(rows.steady.map((r) => r.posts));
  const postsFull = median(rows.report.map((r) => r.posts));
  console.log(
    `  change-only: steady-state run ${steadyWall.toFixed(0)} ms wall, ${postsSteady} signals, ${upSteady} B of request bodies sent, ${downSteady} B received; ` +
      `full run (--force) ${wall.toFixed(0)} ms, ${postsFull} signals, ${upFull} B sent, ${downFull} B received`,
  );
  console.log(`  change-only: steady / full = ${(steadyWall / wall).toFixed(2)}× wall, ${(upSteady / upFull).toFixed(3)}× bytes sent (the scripts tarball is downloaded either way)`);
  console.log(`  [${ROUNDS} rounds, ${process.getuid?.() === 0 ? 'root' : 'not root'}, nproc ${availableParallelism()}; each figure but lshw's includes one Node start-up]`);
} finally {
  counter?.close();
  sink?.close();
  await server.close();
  rmSync(work, { recursive: true, force: true });
}
