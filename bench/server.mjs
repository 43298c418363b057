// The bundled server under a fleet's signals: 200 machines, each sending the six deploy-info
// signals (two of them carrying a machine-resources document) over and over.
//
// The server runs in a process of its own (this file with --serve) so its CPU time is its own;
// the load generator runs here, on the same machine. Three figures, each with a target:
//   - sustained throughput on SQLite: every machine keeps one signal in flight (≥ 1,000 signals/s);
//   - latency on SQLite under an open-loop load of 500 signals/s spread over the 200 machines,
//     measured from when each signal was due, so a stalled server cannot hide its backlog
//     (p99 < 50 ms);
//   - the server's CPU time per signal in both runs (what a busy shared machine cannot distort).
// The in-memory store runs the throughput load too, side by side, as the ratio to compare with.
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const MACHINES = 200;
const SCRIPTS = ['20-maas-03-machine-resources', '50-maas-01-commissioning', 'maas-list-modaliases', 'maas-lshw', 'maas-serial-ports', 'maas-support-info'];
const THROUGHPUT_ROUNDS = 5; // × 200 machines × 6 signals
const OPEN_LOOP_RATE = 500; // signals per second
const OPEN_LOOP_SECONDS = 8;
const TARGET_PER_SECOND = 1000;
const TARGET_P99_MS = 50;

async function main() {
  const sqlite = await run('sqlite');
  const memory = await run('memory');
  const ms = (x) => x.toFixed(2);
  console.log(`${MACHINES} machines × ${SCRIPTS.length} deploy-info signals, server in its own process, load generator beside it`);
  console.log(`sqlite  sustained: ${sqlite.closed.perSecond.toFixed(0)} signals/s (target ≥ ${TARGET_PER_SECOND}), server CPU ${ms(sqlite.closed.cpuMs)} ms/signal, p99 ${ms(sqlite.closed.p99)} ms${failed(sqlite.closed)}`);
  console.log(`sqlite  open loop ${OPEN_LOOP_RATE}/s: p99 ${ms(sqlite.open.p99)} ms (target < ${TARGET_P99_MS}), p50 ${ms(sqlite.open.p50)} ms, server CPU ${ms(sqlite.open.cpuMs)} ms/signal${failed(sqlite.open)}`);
  console.log(`memory  sustained: ${memory.closed.perSecond.toFixed(0)} signals/s, server CPU ${ms(memory.closed.cpuMs)} ms/signal${failed(memory.closed)}`);
  console.log(`ratio sqlite/memory: throughput ${(sqlite.closed.perSecond / memory.closed.perSecond).toFixed(2)}, server CPU per signal ${(sqlite.closed.cpuMs / memory.closed.cpuMs).toFixed(2)}`);
  console.log(`sqlite  write-ahead log after the runs: ${sqlite.walMiB.toFixed(1)} MiB`);
  console.log(`server CPU capacity: ${(1000 / sqlite.closed.cpuMs).toFixed(0)} signals/s per core on SQLite (1000 ms / its CPU ms per signal)`);
  console.log(`load average during the runs: ${loadavg().map((x) => x.toFixed(1)).join(' ')} (other work on the machine slows the wall-clock figures, not the CPU ones)`);
  console.log(`load generator CPU: ${ms(sqlite.generatorCpuMs)} ms/signal (it shares the machine's 2 cores with the server)`);
  const misses = [];
  if (sqlite.closed.perSecond < TARGET_PER_SECOND) misses.push(`throughput ${sqlite.closed.perSecond.toFixed(0)}/s < ${TARGET_PER_SECOND}/s`);
  if (!(sqlite.open.p99 < TARGET_P99_MS)) misses.push(`p99 ${ms(sqlite.open.p99)} ms ≥ ${TARGET_P99_MS} ms`);
  for (const r of [sqlite.closed, sqlite.open, memory.closed]) if (r.failures) misses.push(`${r.failures} signals not answered 200`);
  if (misses.length > 0) {
    console.log(`MISSED: ${misses.join('; ')}`);
    process.exit(1);
  }
}

function failed(r) {
  return r.failures ? `, ${r.failures} FAILED (${r.statuses})` : '';
}

async function run(kind) {
  const dir = mkdtempSync(join(tmpdir(), 'maas-bench-'));
  // BENCH_CPU_PROFILE=<dir>: the server process writes a V8 CPU profile there (for where the time goes).
  const profile = process.env.BENCH_CPU_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROFILE] : [];
  const child = fork(new URL(import.meta.url), ['--serve', kind, join(dir, 'bench.db')], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: profile });
  const replies = [];
  let waiting;
  child.on('message', (message) => {
    replies.push(message);
    waiting?.();
  });
  const ask = async (message) => {
    if (message) child.send(message);
    while (replies.length === 0) await new Promise((resolve) => (waiting = resolve));
    return replies.shift();
  };
  // The admin's connection; each machine has its own (as each host's client would).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const after = [];
  try {
    const { url, adminKey } = await ask();
    const machines = [];
    for (let i = 0; i < MACHINES; i++) machines.push(await enrol(url, adminKey, i, agent));
    after.push(() => machines.forEach((m) => m.agent.destroy()));
    const serverCpu = async () => {
      const { cpu } = await ask('cpu');
      return (cpu.user + cpu.system) / 1000;
    };
    // Warm-up: one round, not counted.
    await closedLoop(url, machines, 1);
    const generatorBefore = process.cpuUsage();
    let cpu0 = await serverCpu();
    const closed = await closedLoop(url, machines, THROUGHPUT_ROUNDS);
    closed.cpuMs = ((await serverCpu()) - cpu0) / closed.signals;
    const generator = process.cpuUsage(generatorBefore);
    cpu0 = await serverCpu();
    const open = kind === 'sqlite' ? await openLoop(url, machines) : undefined;
    if (open) open.cpuMs = ((await serverCpu()) - cpu0) / open.signals;
    // The write-ahead log stays small when checkpoints keep up with the load.
    let walMiB = 0;
    try {
      walMiB = statSync(join(dir, 'bench.db-wal')).size / 1024 / 1024;
    } catch {
      // no log: the in-memory store
    }
    return { closed, open, walMiB, generatorCpuMs: (generator.user + generator.system) / 1000 / closed.signals };
  } finally {
    agent.destroy();
    for (const f of after) f();
    child.send('stop');
    await new Promise((resolve) => child.on('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

// A machine: created deployed by the admin, its token, and its six signal bodies made once.
async function enrol(url, adminKey, n, agent) {
  const created = JSON.parse(await request(url, '/api/2.0/machines/', adminKey, form({ hostname: `bench-${n}`, deployed: 'true' }), agent));
  const t = JSON.parse(await request(url, `/api/2.0/machines/${created.system_id}/?op=get_token`, adminKey, undefined, agent, 'GET'));
  const token = `${t.consumer_key}:${t.token_key}:${t.token_secret}`;
  const bodies = SCRIPTS.map((name) => {
    const stdout = name === '50-maas-01-commissioning' || name.startsWith('20-') ? resources(n) : `${name} output of machine ${n}\n`;
    return form({ op: 'signal', status: 'WORKING', runtime: '0.5', exit_status: '0', name }, { [`${name}.out`]: stdout, [`${name}.err`]: '', [name]: stdout });
  });
  return { token, bodies, agent: new http.Agent({ keepAlive: true, maxSockets: 1 }) };
}

const SAMPLE = readFileSync(new URL('../test/fixtures/maas-samples/maas-sample-machine-resources.json', import.meta.url), 'utf8');

// The sample with MACs and UUID unique to machine n, so machines keep their own interfaces.
function resources(n) {
  const hex = n.toString(16).padStart(4, '0');
  return SAMPLE.replace(/"([0-9a-f]{2}:){5}[0-9a-f]{2}"/gi, (mac) => `"${mac.slice(1, 6)}:${hex.slice(0, 2)}:${hex.slice(2)}${mac.slice(12, 19)}`).replace(
    /"uuid": "[^"]*"/,
    `"uuid": "00000000-0000-4000-8000-00000000${hex}"`,
  );
}

// A multipart body laid out as the client sends it.
function form(fields, files = {}) {
  const boundary = randomBytes(12).toString('hex');
  const parts = [];
  for (const [name, value] of Object.entries(fields)) parts.push(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
  for (const [name, value] of Object.entries(files)) {
    parts.push(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n${value}\r\n`);
  }
  parts.push(`--${boundary}--\r\n`);
  return { type: `multipart/form-data; boundary=${boundary}`, data: Buffer.from(parts.join('')) };
}

function auth(key) {
  const [ck, tk, ts] = key.split(':');
  const now = Math.floor(Date.now() / 1000);
  return `OAuth oauth_nonce="${randomBytes(8).readBigUInt64BE()}${now}", oauth_timestamp="${now}", oauth_version="1.0", oauth_signature_method="PLAINTEXT", oauth_consumer_key="${ck}", oauth_token="${tk}", oauth_signature="%26${ts}"`;
}

// One request; resolves with the body text, rejects with the status on anything but 200.
function request(url, path, key, body, agent, method = 'POST') {
  return new Promise((resolve, reject) => {
    const headers = { Authorization: auth(key) };
    if (body) Object.assign(headers, { 'Content-Type': body.type, 'Content-Length': body.data.length });
    const req = http.request(`${url}${path}`, { method, headers, agent }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => (response.statusCode === 200 ? resolve(Buffer.concat(chunks).toString()) : reject(new Error(String(response.statusCode)))));
      response.on('error', reject);
    });
    req.on('error', reject);
    req.end(body?.data);
  });
}

function summary(latencies, failures, statuses, elapsedMs) {
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.ceil(latencies.length * q) - 1)] ?? NaN;
  return { signals: latencies.length, perSecond: (latencies.length * 1000) / elapsedMs, p50: at(0.5), p99: at(0.99), failures, statuses: [...statuses].join(', ') };
}

// Every machine sends its six signals in turn, `rounds` times, one in flight per machine.
async function closedLoop(url, machines, rounds) {
  const latencies = [];
  let failures = 0;
  const statuses = new Set();
  const started = performance.now();
  await Promise.all(
    machines.map(async (machine) => {
      for (let r = 0; r < rounds; r++) {
        for (const body of machine.bodies) {
          const t0 = performance.now();
          try {
            await request(url, '/metadata/2012-03-01/', machine.token, body, machine.agent);
          } catch (error) {
            failures += 1;
            statuses.add(error.message);
          }
          latencies.push(performance.now() - t0);
        }
      }
    }),
  );
  return summary(latencies, failures, statuses, performance.now() - started);
}

// Signals due at a fixed rate whatever the server does; each one's latency runs from when it was due.
async function openLoop(url, machines) {
  const total = OPEN_LOOP_RATE * OPEN_LOOP_SECONDS;
  const latencies = [];
  let failures = 0;
  const statuses = new Set();
  const pending = [];
  const started = performance.now();
  let next = 0;
  await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && started + (next * 1000) / OPEN_LOOP_RATE <= now) {
        const due = started + (next * 1000) / OPEN_LOOP_RATE;
        const machine = machines[next % machines.length];
        const body = machine.bodies[Math.floor(next / machines.length) % SCRIPTS.length];
        pending.push(
          request(url, '/metadata/2012-03-01/', machine.token, body, machine.agent).then(
            () => latencies.push(performance.now() - due),
            (error) => {
              failures += 1;
              statuses.add(error.message);
              latencies.push(performance.now() - due);
            },
          ),
        );
        next += 1;
      }
      if (next < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await Promise.all(pending);
  return summary(latencies, failures, statuses, performance.now() - started);
}

if (process.argv[2] === '--serve') {
  // The server process: starts, says where it listens, answers CPU questions from the parent.
  const { startMaasServer } = await import('../dist/src/server/server.js');
  const db = process.argv[3] === 'sqlite' ? process.argv[4] : undefined;
  // Only what went wrong is shown: one line per signal would drown the figures.
  const server = await startMaasServer({ db, log: (line) => /error|warning/.test(line) && console.error(`server: ${line}`) });
  process.on('message', async (message) => {
    if (message === 'cpu') process.send({ cpu: process.cpuUsage() });
    if (message === 'stop') {
      await server.close();
      process.exit(0);
    }
  });
  process.send({ url: server.url, adminKey: server.adminKey });
} else {
  await main();
}
