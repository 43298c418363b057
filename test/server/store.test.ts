// Both stores keep the Store contract: atomic transactions, nonces remembered, and (SQLite) state
// in a real file that a new store reads back. The SQLite addon must load: npm drops a failed
// native build silently, and this test is what notices.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStore } from '../../src/server/memory-store.js';
import { loadSqlite, sqliteStore } from '../../src/server/sqlite-store.js';
import type { MachineRecord, ScriptRecord, Store } from '../../src/server/store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'store-test-'));
  dirs.push(dir);
  return join(dir, 'state.db');
}

function machine(systemId: string, hostname: string): MachineRecord {
  return {
    systemId,
    hostname,
    domain: 'maas',
    status: 6,
    owner: 'admin',
    locked: false,
    architecture: '',
    osystem: '',
    distroSeries: '',
    powerType: '',
    powerParameters: {},
    workloadAnnotations: {},
    scriptSetId: null,
    hardware: { any: 'json' },
    macs: [],
    hardwareUuid: null,
    error: '',
    created: 0,
  };
}

function script(id: number, name: string): ScriptRecord {
  return {
    id,
    name,
    title: '',
    description: '',
    tags: ['deploy-info', 'node'],
    scriptType: 0,
    hardwareType: 0,
    parallel: 0,
    timeoutSeconds: 60,
    destructive: false,
    mayReboot: false,
    recommission: false,
    applyConfiguredNetworking: false,
    forHardware: [],
    packages: {},
    parameters: {},
    results: {},
    body: '#!/bin/sh\necho hi\n',
    versionId: id,
    comment: '',
    created: 1,
  };
}

it('loads the better-sqlite3 native addon', () => {
  const Database = loadSqlite();
  const db = new Database(':memory:');
  expect(db.prepare('SELECT 1 + 1 AS two').get()).toEqual({ two: 2 });
  db.close();
});

describe.each([
  ['memory', () => memoryStore()],
  ['sqlite', () => sqliteStore(tempDb())],
] as [string, () => Store][])('the %s store', (_kind, make) => {
  it('keeps none of the writes of a transaction that throws', () => {
    const store = make();
    store.putMachine(machine('aaaaaa', 'kept'));
    expect(() =>
      store.transaction(() => {
        store.putMachine({ ...machine('aaaaaa', 'renamed'), locked: true });
        store.putMachine(machine('bbbbbb', 'new'));
        store.addEvent({ systemId: 'aaaaaa', at: 1, type: 't', description: 'half' });
        store.nextId('result');
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(store.getMachine('aaaaaa')).toMatchObject({ hostname: 'kept', locked: false });
    expect(store.getMachine('bbbbbb')).toBeUndefined();
    expect(store.eventsOf('aaaaaa')).toEqual([]);
    expect(store.nextId('result')).toBe(1);
    store.close();
  });

  it('hands out copies, so changing a returned record changes nothing stored', () => {
    const store = make();
    store.putMachine(machine('cccccc', 'copy'));
    const read = store.getMachine('cccccc')!;
    read.hostname = 'mutated';
    expect(store.getMachine('cccccc')!.hostname).toBe('copy');
    store.close();
  });

  it('refuses a nonce used before with the same keys, and accepts it for other keys', () => {
    const store = make();
    expect(store.useNonce('ck', 'tk', 'n1', 1000)).toBe(true);
    expect(store.useNonce('ck', 'tk', 'n1', 1001)).toBe(false);
    expect(store.useNonce('ck', 'tk2', 'n1', 1001)).toBe(true);
    store.close();
  });

  it('keeps uploaded scripts by name, lists them by id, and forgets one deleted or written in a failed transaction', () => {
    const store = make();
    store.putScript(script(9, 'zz-last'));
    store.putScript(script(8, 'aa-first'));
    expect(() =>
      store.transaction(() => {
        store.putScript(script(10, 'half-saved'));
        store.deleteScript('zz-last');
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(store.listScripts().map((s) => s.name)).toEqual(['aa-first', 'zz-last']);
    expect(store.getScript('half-saved')).toBeUndefined();
    store.deleteScript('aa-first');
    expect(store.getScript('aa-first')).toBeUndefined();
    expect(store.getScript('zz-last')).toEqual(script(9, 'zz-last'));
    store.close();
  });

  it('deletes the results of one script version in every set, and only those', () => {
    const store = make();
    const result = (id: number, setId: number, name: string, version: number | null) => ({
      id, systemId: 'aaaaaa', scriptSetId: setId, name, scriptVersionId: version, status: 0, exitStatus: null,
      stdout: null, stderr: null, output: null, result: null, started: null, ended: null, runtime: null,
    });
    store.putResult(result(1, 1, 'site-check', 9));
    store.putResult(result(2, 2, 'site-check', 9));
    store.putResult(result(3, 2, 'site-check', null));
    store.putResult(result(4, 2, 'maas-lshw', 4));
    store.deleteResultsOfScript('site-check', 9);
    expect(store.resultsOfSet(1)).toEqual([]);
    expect(store.resultsOfSet(2).map((r) => [r.name, r.id])).toEqual([
      ['maas-lshw', 4],
      ['site-check', 3],
    ]);
    store.close();
  });

  it('creates users with working API keys', () => {
    const store = make();
    const key = store.addUser('carol', { admin: false });
    const [ck, tk, ts] = key.split(':');
    expect(store.getToken(tk!)).toMatchObject({ consumerKey: ck, tokenSecret: ts, consumerSecret: '', username: 'carol', systemId: null });
    expect(store.getUser('carol')).toEqual({ username: 'carol', isAdmin: false });
    expect(() => store.addUser('carol', { admin: true })).toThrow(/already exists/);
    store.close();
  });
});

describe.each([
  ['memory', () => memoryStore()],
  ['sqlite', () => sqliteStore(tempDb())],
] as [string, () => Store][])('lookups by MAC and hardware UUID in the %s store', (_kind, make) => {
  it('finds machines by any of their MACs and by UUID, following updates', () => {
    const store = make();
    store.putMachine({ ...machine('eeeeee', 'one'), macs: ['52:54:00:00:00:01', '52:54:00:00:00:02'], hardwareUuid: 'u-1' });
    store.putMachine({ ...machine('ffffff', 'two'), macs: ['52:54:00:00:00:03'], hardwareUuid: 'u-1' });
    expect(store.machinesByMac(['52:54:00:00:00:02', '52:54:00:00:00:03']).map((m) => m.hostname)).toEqual(['one', 'two']);
    expect(store.machinesByHardwareUuid('u-1').map((m) => m.hostname)).toEqual(['one', 'two']);
    store.putMachine({ ...machine('eeeeee', 'one'), macs: [], hardwareUuid: null });
    expect(store.machinesByMac(['52:54:00:00:00:01'])).toEqual([]);
    expect(store.machinesByHardwareUuid('u-1').map((m) => m.hostname)).toEqual(['two']);
    store.close();
  });
});

it('reads back from the SQLite file what an earlier store wrote', () => {
  const path = tempDb();
  const first = sqliteStore(path);
  const key = first.addUser('dave', { admin: true });
  first.putMachine(machine('dddddd', 'persisted'));
  first.putResult({
    id: first.nextId('result'),
    systemId: 'dddddd',
    scriptSetId: 7,
    name: 'maas-lshw',
    scriptVersionId: 4,
    status: 2,
    exitStatus: 0,
    stdout: Buffer.from('<list/>').toString('base64'),
    stderr: null,
    output: null,
    result: null,
    started: 1,
    ended: 2,
    runtime: 1,
  });
  first.putScript(script(7, 'site-check'));
  first.close();
  const second = sqliteStore(path);
  expect(second.getScript('site-check')).toEqual(script(7, 'site-check'));
  expect(second.getMachine('dddddd')).toEqual(machine('dddddd', 'persisted'));
  expect(second.machineByHostname('persisted')?.systemId).toBe('dddddd');
  expect(second.resultsOfSet(7).map((r) => r.name)).toEqual(['maas-lshw']);
  expect(second.getToken(key.split(':')[1]!)?.username).toBe('dave');
  expect(second.nextId('result')).toBe(2);
  second.close();
});
