// `serve --db` killed with SIGKILL in the middle of a load of signals: every result the server
// acknowledged with 200 is in the SQLite file afterwards. The real CLI runs as a subprocess on a
// real file; the file is then opened again, as a restarted server opens it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteStore } from '../../src/server/sqlite-store.js';
import { CLI } from '../helpers/cli.js';
import { createDeployed, signal } from './server-harness.js';

const KEY = 'CrashTestConsumer:CrashTestToken:CrashTestSecretCrashTestSecret';
const NAMES = ['maas-lshw', 'maas-serial-ports', 'maas-support-info', 'maas-list-modaliases'];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('serve --db killed under load', () => {
  it('keeps every result it acknowledged', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'maas-crash-'));
    dirs.push(dir);
    const db = join(dir, 'maas.db');
    const server = execa(process.execPath, [CLI, 'serve', '--port', '0', '--db', db], { env: { MAAS_ADMIN_KEY: KEY }, reject: false, stdin: 'ignore' });
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: server.stdout! }).on('line', (line) => {
        const found = /^MAAS URL: (\S+)$/.exec(line)?.[1];
        if (found) resolve(found);
      });
      void server.then((result) => reject(new Error(`serve exited early (${result.exitCode}): ${String(result.stderr)}`)));
    });
    const endpoint = { url, adminKey: KEY };
    const machines = await Promise.all(Array.from({ length: 20 }, (_, i) => createDeployed(endpoint, { hostname: `crash-${i}` })));

    const acknowledged: { systemId: string; name: string }[] = [];
    let failed = 0;
    const load = machines.map(async ({ systemId, token }) => {
      for (let round = 0; round < 5; round += 1) {
        for (const name of NAMES) {
          try {
            const response = await signal(endpoint, token, name, { stdout: `${systemId} ${name} round ${round}\n`.repeat(200) });
            if (response.status === 200) acknowledged.push({ systemId, name });
          } catch {
            failed += 1; // the server is gone
          }
        }
      }
    });
    // Kill it once a good part of the load has been acknowledged, while the rest is in flight.
    while (acknowledged.length < 60) await new Promise((resolve) => setTimeout(resolve, 5));
    server.kill('SIGKILL');
    await Promise.all(load);
    expect((await server).signal).toBe('SIGKILL');
    expect(failed).toBeGreaterThan(0);

    const store = sqliteStore(db);
    try {
      const missing = acknowledged.filter(({ systemId, name }) => {
        const results = store.resultsOfSet(store.getMachine(systemId)!.scriptSetId!);
        return !results.some((r) => r.name === name && r.stdout !== null);
      });
      expect(missing).toEqual([]);
    } finally {
      store.close();
    }
  });
});
