import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ScriptIndexEntry, SignalFields, SignalFile } from '../../src/maas/types.js';
import { changeVerdict, openSyncState, resultFingerprint, type DeliveredRecord } from '../../src/runner/sync-state.js';
import { scriptFilesIn } from '../../src/runner/signal-files.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sync-state-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const NAME = '20-maas-03-machine-resources';

/** A resources result as a built-in collector produces it, with `used` memory as given. */
function resourcesResult(used: number, total = 8 * 1024 ** 3, exitStatus = 0): { fields: SignalFields; files: SignalFile[] } {
  const out = `${JSON.stringify({ resources: { memory: { used, total } } }, null, 4)}\n`;
  return {
    fields: { status: 'WORKING', script_result_id: 41, runtime: 0.2, exit_status: exitStatus, name: NAME, script_version_id: 3 },
    files: [
      { name: `${NAME}.out`, content: out },
      { name: `${NAME}.err`, content: '' },
      { name: NAME, content: out },
    ],
  };
}

const entry = (over: Partial<ScriptIndexEntry> = {}): ScriptIndexEntry => ({ name: NAME, script_result_id: 41, has_started: true, has_finished: true, path: `commissioning/${NAME}`, ...over });

/** Writes what a maas-scripts tarball carries for a started result: out/<name>.<id>[.out|.err|.yaml]. */
async function heldByMaas(scriptsDir: string, id: number, files: SignalFile[]): Promise<void> {
  await mkdir(join(scriptsDir, 'out'), { recursive: true });
  await writeFile(join(scriptsDir, 'out', `${NAME}.${id}.yaml`), '');
  for (const file of files) await writeFile(join(scriptsDir, 'out', `${NAME}.${id}${file.name.slice(NAME.length)}`), file.content);
}

async function recordOf(result: { fields: SignalFields; files: SignalFile[] }, at = Date.now()): Promise<DeliveredRecord> {
  const state = await openSyncState(dir);
  state.delivered(result.fields, result.files, at);
  return state.get(NAME)!;
}

describe('resultFingerprint', () => {
  it('is the same for two runs that differ only in volatile values, and differs for another exit status or other hardware', () => {
    const first = resultFingerprint(resourcesResult(1000).fields, resourcesResult(1000).files);
    expect(resultFingerprint(resourcesResult(2000).fields, resourcesResult(2000).files)).toBe(first);
    const failed = resourcesResult(1000, undefined, 1);
    expect(resultFingerprint(failed.fields, failed.files)).not.toBe(first);
    const bigger = resourcesResult(1000, 16 * 1024 ** 3);
    expect(resultFingerprint(bigger.fields, bigger.files)).not.toBe(first);
  });

  it('does not mistake content moved from one file to another for the same result', () => {
    const fields = resourcesResult(0).fields;
    const a = [{ name: `${NAME}.out`, content: 'ab' }, { name: `${NAME}.err`, content: '' }];
    const b = [{ name: `${NAME}.out`, content: 'a' }, { name: `${NAME}.err`, content: 'b' }];
    expect(resultFingerprint(fields, a)).not.toBe(resultFingerprint(fields, b));
  });
});

describe('openSyncState', () => {
  it('remembers delivered results across runs in a file only its owner can read', async () => {
    const first = await openSyncState(dir);
    expect(first.get(NAME)).toBeUndefined();
    first.delivered(resourcesResult(1).fields, resourcesResult(1).files, Date.now());
    await first.save();
    const file = join(dir, 'delivered.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    const second = await openSyncState(dir);
    expect(second.get(NAME)).toMatchObject({ script_result_id: 41 });
    second.forget(NAME);
    await second.save();
    expect((await openSyncState(dir)).get(NAME)).toBeUndefined();
  });

  it('does not remember a result that names no result row', async () => {
    const state = await openSyncState(dir);
    const { script_result_id: _id, ...fields } = resourcesResult(1).fields;
    state.delivered(fields, resourcesResult(1).files, Date.now());
    expect(state.get(NAME)).toBeUndefined();
  });

  it('starts from nothing when the file is damaged, so every result is sent', async () => {
    await writeFile(join(dir, 'delivered.json'), '{"format": 1, "results": {');
    const state = await openSyncState(dir);
    expect(state.get(NAME)).toBeUndefined();
    await writeFile(join(dir, 'delivered.json'), JSON.stringify({ format: 99, results: { [NAME]: { script_result_id: 41 } } }));
    expect((await openSyncState(dir)).get(NAME)).toBeUndefined();
    await rm(join(dir, 'delivered.json'));
    await mkdir(join(dir, 'delivered.json'));
    expect((await openSyncState(dir)).get(NAME)).toBeUndefined();
  });

  it('writes nothing when nothing changed', async () => {
    await (await openSyncState(dir)).save();
    await expect(readFile(join(dir, 'delivered.json'))).rejects.toThrow(/ENOENT/);
  });
});

describe('changeVerdict', () => {
  it('finds a result unchanged when only volatile values moved and MAAS holds exactly what was sent', async () => {
    const sent = resourcesResult(1000);
    const scripts = join(dir, 'scripts');
    await heldByMaas(scripts, 41, sent.files);
    expect(await changeVerdict(resourcesResult(5000), entry(), await recordOf(sent), scriptFilesIn(scripts))).toBe('unchanged');
  });

  it('sends a result whose hardware changed, that failed, or that was never delivered', async () => {
    const sent = resourcesResult(1000);
    const scripts = join(dir, 'scripts');
    await heldByMaas(scripts, 41, sent.files);
    const record = await recordOf(sent);
    expect(await changeVerdict(resourcesResult(1000, 4 * 1024 ** 3), entry(), record, scriptFilesIn(scripts))).toBe('changed');
    expect(await changeVerdict(resourcesResult(1000, undefined, 1), entry(), record, scriptFilesIn(scripts))).toBe('failed');
    expect(await changeVerdict({ ...sent, fields: { ...sent.fields, status: 'TIMEDOUT' } }, entry(), record, scriptFilesIn(scripts))).toBe('failed');
    expect(await changeVerdict(sent, entry(), undefined, scriptFilesIn(scripts))).toBe('never delivered');
  });

  it('sends again when MAAS no longer holds that delivery: result not finished, another result row, or other stored files', async () => {
    const sent = resourcesResult(1000);
    const scripts = join(dir, 'scripts');
    await heldByMaas(scripts, 41, sent.files);
    const record = await recordOf(sent);
    expect(await changeVerdict(sent, entry({ has_finished: false, has_started: false }), record, scriptFilesIn(scripts))).toBe('not finished on MAAS');
    expect(await changeVerdict(sent, entry({ script_result_id: 77 }), record, scriptFilesIn(scripts))).toBe('new result row');

    // Someone else's report overwrote the row (same id, finished), with other bytes.
    await heldByMaas(scripts, 41, resourcesResult(999).files);
    expect(await changeVerdict(sent, entry(), record, scriptFilesIn(scripts))).toBe('MAAS holds other data');
    // A tarball without the stored files proves nothing.
    await rm(join(scripts, 'out'), { recursive: true });
    expect(await changeVerdict(sent, entry(), record, scriptFilesIn(scripts))).toBe('MAAS holds other data');
  });

  it('sends an unchanged result again once its last delivery is older than the refresh age', async () => {
    const sent = resourcesResult(1000);
    const scripts = join(dir, 'scripts');
    await heldByMaas(scripts, 41, sent.files);
    const hour = 3600 * 1000;
    const deliveredAt = Date.UTC(2026, 0, 1);
    const record = await recordOf(sent, deliveredAt);
    const at = (elapsed: number, maxAgeMs = 24 * hour) => changeVerdict(sent, entry(), record, scriptFilesIn(scripts), { now: deliveredAt + elapsed, maxAgeMs });
    expect(await at(23 * hour)).toBe('unchanged');
    expect(await at(24 * hour)).toBe('refresh due');
    expect(await at(1, 0)).toBe('refresh due');
    // A record written before delivery times were kept is refreshed at once.
    const { delivered_at: _at, ...old } = record;
    expect(await changeVerdict(sent, entry(), old, scriptFilesIn(scripts))).toBe('refresh due');
  });
});
