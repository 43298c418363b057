// What the SQLite store does to keep up with a fleet, pinned as behaviour: signals arriving
// together share a commit yet fail alone; a nonce is never accepted twice, also across a restart;
// the write-ahead log is copied into the database in the background and does not grow for ever.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ScriptResultStatus } from '../../src/maas/types.js';
import { sqliteStore } from '../../src/server/sqlite-store.js';
import { startMaasServer } from '../../src/server/server.js';
import { createDeployed, oauthHeader, signal, startHarness, type Harness } from './server-harness.js';

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.stop();
});

async function sqliteHarness(): Promise<Harness> {
  const h = await startHarness('sqlite');
  harnesses.push(h);
  return h;
}

describe('signals handled together', () => {
  it('store every good signal and nothing of a refused one, when they arrive at the same moment', async () => {
    const h = await sqliteHarness();
    const good = await Promise.all(Array.from({ length: 8 }, (_, i) => createDeployed(h, { hostname: `good${i}` })));
    const bad = await Promise.all(Array.from({ length: 8 }, (_, i) => createDeployed(h, { hostname: `bad${i}` })));
    // FAILED is no transition a deployed machine can make: 409, after its files were taken in.
    const answers = await Promise.all([
      ...good.map((m) => signal(h, m.token, 'maas-lshw', { status: 'WORKING', stdout: `lshw of ${m.systemId}\n` })),
      ...bad.map((m) => signal(h, m.token, 'maas-lshw', { status: 'FAILED', exitStatus: 1, stdout: `lshw of ${m.systemId}\n` })),
    ]);
    expect(answers.map((a) => a.status)).toEqual([...good.map(() => 200), ...bad.map(() => 409)]);
    for (const m of good) {
      const lshw = h.store.resultsOfSet(h.store.getMachine(m.systemId)!.scriptSetId!).find((r) => r.name === 'maas-lshw')!;
      expect(Buffer.from(lshw.stdout ?? '', 'base64').toString()).toBe(`lshw of ${m.systemId}\n`);
    }
    for (const m of bad) {
      const lshw = h.store.resultsOfSet(h.store.getMachine(m.systemId)!.scriptSetId!).find((r) => r.name === 'maas-lshw')!;
      expect([lshw.status, lshw.stdout]).toEqual([ScriptResultStatus.PENDING, null]);
    }
  });
});

describe('nonces', () => {
  it('accept one of two requests sent at once with the same nonce', async () => {
    const h = await sqliteHarness();
    const { token } = await createDeployed(h, { hostname: 'twice' });
    const header = oauthHeader(token, { nonce: 'same-nonce-twice' });
    const send = () => fetch(`${h.url}/metadata/2012-03-01/`, { headers: { Authorization: header } });
    const statuses = (await Promise.all([send(), send()])).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 401]);
  });

  it('are remembered across a restart of the server on the same file', async () => {
    const h = await sqliteHarness();
    const { token } = await createDeployed(h, { hostname: 'restart' });
    const header = oauthHeader(token, { nonce: 'before-the-restart' });
    expect((await fetch(`${h.url}/metadata/2012-03-01/`, { headers: { Authorization: header } })).status).toBe(200);
    await h.close();
    const again = await startMaasServer({ db: join(h.dir, 'maas.db') });
    try {
      const replay = await fetch(`${again.url}/metadata/2012-03-01/`, { headers: { Authorization: header } });
      expect([replay.status, await replay.text()]).toEqual([401, "Authorization Error: 'Nonce already used: before-the-restart'"]);
    } finally {
      await again.close();
    }
  });
});

describe('the write-ahead log', () => {
  it('is copied into the database in the background and started afresh, so it stays bounded under steady writes', async () => {
    const path = join((await sqliteHarness()).dir, 'log.db');
    const store = sqliteStore(path);
    try {
      const blob = Buffer.alloc(1024 * 1024, 7).toString('base64');
      const MiB = 1024 * 1024;
      // About 64 MiB of results, written as a busy server would: in bursts, with pauses between.
      for (let id = 1; id <= 48; id++) {
        store.transaction(() =>
          store.putResult({ id, systemId: 'm', scriptSetId: 1, name: `r${id}`, scriptVersionId: null, status: 2, exitStatus: 0, stdout: blob, stderr: null, output: null, result: null, started: 1, ended: 2, runtime: 1 }),
        );
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(statSync(`${path}-wal`).size).toBeLessThan(40 * MiB);
      // Everything is there, whatever has been copied so far.
      expect(store.getResult(48)?.stdout).toBe(blob);
    } finally {
      store.close();
    }
  });
});
