// A fleet of 500 hosts reporting every hour against `serve --db` (a real server process with its
// SQLite file), over a few intervals, twice: each host on its install-sync slot (offset from its
// system id plus the random delay), and every host on the same minute (a copied `17 * * * *`
// cron line). Measured: the peak requests per second the server is sent (each request counted
// as its host issues it), and the bytes sent per interval, counted by a proxy in front of the
// server (change-only sync: after the first interval an unchanged fleet sends next to nothing).
//
// What is simulated: the hosts. Each is a report run of the tool's own runner code (report.ts:
// spool, change-only sync, delivery, the real HTTP client and OAuth) in this process, with its own
// state directory and machine token; their hardware is this machine's, collected once by the
// real collectors and handed to every run (collecting 3,000 times would only measure the
// collectors). Time is compressed: an hour of schedule takes 20 to 100 seconds, but each
// request is placed on the schedule's clock at its run's scheduled start plus the real time
// since that run began, so the per-second counts are those a server would see at full scale.
// The storm's runs all start at once from one process, which cannot issue them as fast as 500
// machines would: its peak is a lower bound, so the ratio below understates the gain.
import { spawn } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { deployInfoCollectors, collectorForScript } from '../dist/collectors/index.js';
import { createHost } from '../dist/src/host/host.js';
import { MaasClient } from '../dist/src/maas/client.js';
import { parseCredentials } from '../dist/src/maas/credentials.js';
import { createProgress } from '../dist/src/runner/progress.js';
import { machineKey, reportResults } from '../dist/src/runner/report.js';
import { runCollectors } from '../dist/src/runner/run-collectors.js';
import { syncJitter, syncOffset } from '../dist/src/runner/sync-schedule.js';

const HOSTS = Number(process.env.BENCH_FLEET_HOSTS ?? 500);
const INTERVALS = Number(process.env.BENCH_FLEET_INTERVALS ?? 3);
const INTERVAL = 3600; // seconds of schedule
// Real seconds an interval of the spread schedule takes: the first (every result uploaded, which
// the server takes about 0.15 s per host to store) long enough that the server is never
// saturated, so request times are those of an idle server as at full scale; the others shorter.
const FIRST_REAL_S = Number(process.env.BENCH_FLEET_FIRST_REAL_S ?? 100);
const INTERVAL_REAL_S = Number(process.env.BENCH_FLEET_INTERVAL_REAL_S ?? 20);
const STORM_SECOND = 17 * 60; // `17 * * * *`
// Targets.
const PEAK_RATIO_MAX = 0.1; // spread peak ≤ a tenth of the storm's
const STEADY_BYTES_RATIO_MAX = 0.05; // an unchanged interval sends ≤ 5% of the first's bytes

const work = mkdtempSync(join(tmpdir(), 'bench-fleet-'));
const children = [];
let proxy;
const cleanup = () => {
  proxy?.close();
  for (const child of children) child.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

/** Starts `serve --db` as its own process; resolves with its URL and admin key. */
function startServe() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/maas-run-scripts', 'serve', '--port', '0', '--db', join(work, 'maas.sqlite')], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    let ready = false;
    // Its log (a line per machine created) is kept short and shown only if it stops.
    child.stderr.on('data', (chunk) => (err = `${err}${chunk}`.slice(-2000)));
    child.stdout.on('data', (chunk) => {
      if (ready) return;
      out += chunk;
      const url = /MAAS URL: (\S+)/.exec(out)?.[1];
      const key = /Admin API key: (\S+)/.exec(out)?.[1];
      if (url && key) {
        ready = true;
        resolve({ url, adminKey: key });
      }
    });
    child.on('exit', (code) => reject(new Error(`serve --db exited (${code}): ${err.trim().split('\n').pop()}`)));
  });
}

const verdict = (ok) => (ok ? 'OK' : 'OVER TARGET');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mib = (bytes) => `${(bytes / 1048576).toFixed(2)} MiB`;

try {
  const server = await startServe();
  const target = new URL(server.url);

  let tally; // { perSecond: Map<second, count>, up, down, requests }
  // The proxy counts the bytes each way (request line and headers included on the way up).
  proxy = createServer((req, res) => {
    if (tally) tally.up += req.rawHeaders.reduce((n, h) => n + h.length + 2, 0) + req.method.length + req.url.length + 12;
    req.on('data', (c) => tally && (tally.up += c.length));
    // A fresh connection per request: a kept-alive one the server has just closed would fail.
    const forward = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent: false }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.on('data', (c) => tally && (tally.down += c.length));
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const viaProxy = `http://127.0.0.1:${proxy.address().port}`;

  // The fleet, registered through the admin API.
  const started = performance.now();
  const admin = new MaasClient({ baseUrl: server.url, credentials: parseCredentials(server.adminKey, 'admin key') });
  const hosts = [];
  for (let i = 0; i < HOSTS; i += 10) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, HOSTS - i) }, async (_, j) => {
        const machine = await admin.createMachine({ hostname: `fleet-${i + j}`, deployed: 'true' });
        const token = await admin.getMachineToken(machine.system_id);
        const credentials = { consumerKey: token.consumer_key, tokenKey: token.token_key, tokenSecret: token.token_secret, consumerSecret: '' };
        const endpoint = `${server.url}/metadata/status/${machine.system_id}`;
        return { index: i + j, systemId: machine.system_id, credentials, key: machineKey(endpoint, credentials), run: undefined };
      }),
    );
    hosts.push(...batch);
  }
  console.log(`${HOSTS} machines registered in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  // This machine's hardware, collected once by the real collectors, stands in for every host's.
  const outcomes = await runCollectors(deployInfoCollectors, createHost());
  const failed = outcomes.filter((o) => o.output.exitCode !== 0).map((o) => o.name);
  if (failed.length > 0) console.log(`note: ${failed.join(', ')} failed here; failed results are sent on every run`);
  const collectors = {
    forScript: collectorForScript,
    run: async (wanted) => wanted.map((c) => outcomes.find((o) => o.name === c.name)),
  };
  const silent = { write: () => true };

  /** fetch for one host: each request is counted in the second of the schedule its host sends it. */
  const counted = (host) => (url, init) => {
    const run = host.run;
    if (run && tally) {
      const second = Math.floor(run.scheduledAt + (performance.now() - run.startedAt) / 1000);
      tally.perSecond.set(second, (tally.perSecond.get(second) ?? 0) + 1);
      tally.requests += 1;
    }
    return fetch(url, init);
  };

  /** One host's report run, scheduled at `scheduledAt` (seconds of schedule). */
  async function report(host, stateDir, scheduledAt) {
    host.run = { scheduledAt, startedAt: performance.now() };
    const summary = await reportResults(
      { metadataUrl: viaProxy, credentials: host.credentials, stateDir, serverScripts: false, debug: false, machineKey: host.key },
      { client: MaasClient.forMetadata(viaProxy, host.credentials, { fetch: counted(host) }), host: createHost(), collectors, progress: createProgress('json', { stdout: silent, stderr: silent }) },
    );
    if (!summary.ok) throw new Error(`host ${host.index}: ${summary.problems[0]}`);
  }

  /** Runs INTERVALS intervals with each host starting at `slot(host, k)` seconds of schedule; per-interval tallies. */
  async function scenario(name, slot) {
    const stateRoot = join(work, name);
    const tallies = [];
    for (let k = 0; k < INTERVALS; k += 1) {
      tally = { perSecond: new Map(), up: 0, down: 0, requests: 0 };
      const base = k * INTERVAL;
      const begin = performance.now();
      const runs = hosts.map((host) => {
        const at = slot(host, k);
        const delayMs = ((at - base) / INTERVAL) * (k === 0 ? FIRST_REAL_S : INTERVAL_REAL_S) * 1000;
        return new Promise((resolve, reject) => {
          setTimeout(() => report(host, join(stateRoot, String(host.index)), at).then(resolve, reject), Math.max(0, delayMs - (performance.now() - begin)));
        });
      });
      await Promise.all(runs);
      const peak = Math.max(...tally.perSecond.values());
      tallies.push({ ...tally, peak, wall: (performance.now() - begin) / 1000 });
      console.log(
        `  ${name.padEnd(6)} interval ${k + 1}: ${tally.requests} requests, peak ${peak}/s (schedule clock), sent ${mib(tally.up)}, received ${mib(tally.down)}, ${((performance.now() - begin) / 1000).toFixed(1)} s real`,
      );
    }
    tally = undefined;
    return tallies;
  }

  const jitter = syncJitter(INTERVAL);
  const spread = await scenario('spread', (host, k) => k * INTERVAL + syncOffset(host.key, INTERVAL) + Math.random() * jitter);
  const storm = await scenario('storm', (_host, k) => k * INTERVAL + STORM_SECOND);

  const peakOf = (tallies) => Math.max(...tallies.map((t) => t.peak));
  const steadyPeak = (tallies) => Math.max(...tallies.slice(1).map((t) => t.peak));
  const peakRatio = peakOf(spread) / peakOf(storm);
  const steadyPeakRatio = steadyPeak(spread) / steadyPeak(storm);
  const bytesRatio = median(spread.slice(1).map((t) => t.up)) / spread[0].up;
  console.log(`peak requests/s the server sees: spread ${peakOf(spread)}, storm ${peakOf(storm)} (ratio ${peakRatio.toFixed(3)}; target ≤ ${PEAK_RATIO_MAX}) ${verdict(peakRatio <= PEAK_RATIO_MAX)}`);
  console.log(`  unchanged intervals only: spread ${steadyPeak(spread)}, storm ${steadyPeak(storm)} (ratio ${steadyPeakRatio.toFixed(3)}; target ≤ ${PEAK_RATIO_MAX}) ${verdict(steadyPeakRatio <= PEAK_RATIO_MAX)}`);
  console.log(
    `bytes the fleet sends per interval: first ${mib(spread[0].up)}, unchanged ${mib(median(spread.slice(1).map((t) => t.up)))} (ratio ${bytesRatio.toFixed(4)}; target ≤ ${STEADY_BYTES_RATIO_MAX}) ${verdict(bytesRatio <= STEADY_BYTES_RATIO_MAX)}; the server sends ${mib(spread[0].down)} then ${mib(median(spread.slice(1).map((t) => t.down)))} (the scripts tarball each run)`,
  );
  const misses = [
    peakRatio > PEAK_RATIO_MAX && 'peak with the spread is above a tenth of the storm peak',
    steadyPeakRatio > PEAK_RATIO_MAX && 'peak of unchanged intervals with the spread is above a tenth of the storm peak',
    bytesRatio > STEADY_BYTES_RATIO_MAX && 'an unchanged interval sends too much',
  ].filter(Boolean);
  for (const miss of misses) console.log(`OVER TARGET: ${miss}`);
  process.exitCode = misses.length === 0 ? 0 : 1; // a missed target fails npm run bench
} catch (error) {
  console.error(`fleet bench failed: ${error.stack ?? error}`);
  process.exitCode = 1;
} finally {
  cleanup();
}
