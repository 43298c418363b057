// Server under load: 200 machines × 6 deploy-info signals sent at once, as a fleet reporting
// together would. Reports signals per second and p99 latency for the SQLite store, and the same
// load on the in-memory store side by side in this run (ratio SQLite / memory).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMaasServer } from '../dist/src/server/server.js';

const MACHINES = 200;
const SCRIPTS = ['20-maas-03-machine-resources', '50-maas-01-commissioning', 'maas-list-modaliases', 'maas-lshw', 'maas-serial-ports', 'maas-support-info'];
const SAMPLE = readFileSync(new URL('../test/fixtures/maas-samples/maas-sample-machine-resources.json', import.meta.url), 'utf8');

function auth(key) {
  const [ck, tk, ts] = key.split(':');
  const now = Math.floor(Date.now() / 1000);
  return `OAuth oauth_nonce="${randomBytes(8).readBigUInt64BE()}${now}", oauth_timestamp="${now}", oauth_version="1.0", oauth_signature_method="PLAINTEXT", oauth_consumer_key="${ck}", oauth_token="${tk}", oauth_signature="%26${ts}"`;
}

// The sample with MACs and UUID unique to machine n, so machines keep their own interfaces.
function resources(n) {
  const hex = n.toString(16).padStart(4, '0');
  return SAMPLE.replace(/"([0-9a-f]{2}:){5}[0-9a-f]{2}"/gi, (mac) => `"${mac.slice(1, 6)}:${hex.slice(0, 2)}:${hex.slice(2)}${mac.slice(12, 19)}`).replace(
    /"uuid": "[^"]*"/,
    `"uuid": "00000000-0000-4000-8000-00000000${hex}"`,
  );
}

async function run(kind) {
  const dir = mkdtempSync(join(tmpdir(), 'maas-bench-'));
  const server = await startMaasServer({ db: kind === 'sqlite' ? join(dir, 'bench.db') : undefined });
  try {
    const tokens = [];
    for (let i = 0; i < MACHINES; i++) {
      const form = new FormData();
      form.set('hostname', `bench-${i}`);
      form.set('deployed', 'true');
      const created = await (await fetch(`${server.url}/api/2.0/machines/`, { method: 'POST', body: form, headers: { Authorization: auth(server.adminKey) } })).json();
      const t = await (await fetch(`${server.url}/api/2.0/machines/${created.system_id}/?op=get_token`, { headers: { Authorization: auth(server.adminKey) } })).json();
      tokens.push(`${t.consumer_key}:${t.token_key}:${t.token_secret}`);
    }
    const latencies = [];
    let failures = 0;
    const started = performance.now();
    await Promise.all(
      tokens.flatMap((token, i) =>
        SCRIPTS.map(async (name) => {
          const stdout = name === '50-maas-01-commissioning' || name.startsWith('20-') ? resources(i) : `${name} output of machine ${i}\n`;
          const form = new FormData();
          for (const [k, v] of Object.entries({ op: 'signal', status: 'WORKING', runtime: '0.5', exit_status: '0', name })) form.set(k, v);
          form.append(`${name}.out`, new Blob([stdout]), `${name}.out`);
          form.append(`${name}.err`, new Blob(['']), `${name}.err`);
          form.append(name, new Blob([stdout]), name);
          const t0 = performance.now();
          const response = await fetch(`${server.url}/metadata/2012-03-01/`, { method: 'POST', body: form, headers: { Authorization: auth(token) } });
          await response.arrayBuffer();
          latencies.push(performance.now() - t0);
          if (response.status !== 200) failures += 1;
        }),
      ),
    );
    const elapsed = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.ceil(latencies.length * 0.99) - 1];
    return { signals: latencies.length, perSecond: latencies.length / elapsed, p99, failures };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const sqlite = await run('sqlite');
const memory = await run('memory');
const line = (label, r) =>
  `${label.padEnd(8)} ${r.signals} signals: ${r.perSecond.toFixed(0)} signals/s, p99 ${r.p99.toFixed(1)} ms${r.failures ? `, ${r.failures} FAILED` : ''}`;
console.log(`${MACHINES} machines × ${SCRIPTS.length} signals, all at once`);
console.log(line('sqlite', sqlite));
console.log(line('memory', memory));
console.log(`ratio sqlite/memory: throughput ${(sqlite.perSecond / memory.perSecond).toFixed(2)}, p99 ${(sqlite.p99 / memory.p99).toFixed(2)}`);
if (sqlite.failures || memory.failures) process.exit(1);
