// Change-only periodic sync: what the machine's state directory remembers about the results
// MAAS holds, and the test that lets a run skip a result whose hardware data has not changed.
// After each delivered result we keep, per script name, the result row it went to, a
// fingerprint of its exit status and normalised outputs (normalise.ts) and a digest of each
// file exactly as sent. A later result is "unchanged" only when its fingerprint is the same AND
// MAAS still holds that delivery: index.json shows the same row finished, and the tarball's
// copies of the stored files (out/<name>.<id>…, docs/protocol.md §5.3) are byte for byte the ones
// we sent. See docs/design.md D11 and docs/protocol.md §5.8.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ScriptIndexEntry, SignalFields, SignalFile } from '../maas/types.js';
import { normaliserFor } from './normalise.js';
import { isResultSuffix, storedCopyName, type ScriptFiles } from './signal-files.js';
import { writeStateFile } from './spool.js';

const SYNC_FORMAT = 1;
const FILE_NAME = 'delivered.json';

/** What we remember of the last result of one script that MAAS accepted. */
export interface DeliveredRecord {
  script_result_id: number;
  /** resultFingerprint of that result. */
  fingerprint: string;
  /** sha256 (hex) of each file sent, by its suffix after the script name ('' for the combined output, '.out', '.err', '.yaml'). */
  stored: Record<string, string>;
  /** When it was delivered (ms since the epoch); records without it are due for a refresh. */
  delivered_at?: number;
}

interface SyncFile {
  format: number;
  results: Record<string, DeliveredRecord>;
}

/** The records of one machine, read at the start of a run and written back once at its end. */
export interface SyncState {
  get(name: string): DeliveredRecord | undefined;
  /** Remembers a result MAAS accepted (or is known to hold). Ignored without a script_result_id. */
  delivered(fields: SignalFields, files: readonly SignalFile[], at: number): void;
  /** Forgets a script's record (MAAS refused its latest result: what it holds is no longer known). */
  forget(name: string): void;
  /** Writes the records (atomically) when they changed. */
  save(): Promise<void>;
}

/**
 * Opens the records kept in `machineDir`. A missing, unreadable or foreign file means "nothing
 * known": every result is then sent, which is always safe.
 */
export async function openSyncState(machineDir: string): Promise<SyncState> {
  const path = join(machineDir, FILE_NAME);
  let results: Record<string, DeliveredRecord> = {};
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<SyncFile>;
    if (parsed.format === SYNC_FORMAT && parsed.results && typeof parsed.results === 'object') results = parsed.results;
  } catch {
    // Missing or unreadable: start from nothing (save replaces the file, or warns).
  }
  let dirty = false;
  return {
    get: (name) => (Object.hasOwn(results, name) ? results[name] : undefined),
    delivered(fields, files, at) {
      if (typeof fields.script_result_id !== 'number') return;
      results[fields.name] = {
        script_result_id: fields.script_result_id,
        fingerprint: resultFingerprint(fields, files),
        stored: storedDigests(fields.name, files),
        delivered_at: at,
      };
      dirty = true;
    },
    forget(name) {
      if (!Object.hasOwn(results, name)) return;
      delete results[name];
      dirty = true;
    },
    async save() {
      if (!dirty) return;
      const file: SyncFile = { format: SYNC_FORMAT, results };
      // Not flushed (docs/design.md D28): losing it only makes the next run send every result again.
      await writeStateFile(path, Buffer.from(`${JSON.stringify(file)}\n`), { durable: false });
      dirty = false;
    },
  };
}

/**
 * sha256 (hex) of a result's exit status, signal status and normalised `.out`, `.err` and
 * `.yaml` files. The combined output is left out: for a built-in collector it is `.out` followed
 * by `.err`, so it changes exactly when they do.
 */
export function resultFingerprint(fields: Pick<SignalFields, 'name' | 'status' | 'exit_status'>, files: readonly SignalFile[]): string {
  const hash = createHash('sha256');
  const frame = (text: string) => hash.update(`${Buffer.byteLength(text)}:`).update(text);
  frame(fields.status);
  frame(String(fields.exit_status));
  const kept = files.filter((f) => f.name !== fields.name).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const file of kept) {
    frame(file.name);
    frame(normaliserFor(fields.name, file.name)(Buffer.from(file.content).toString('utf8')));
  }
  return hash.digest('hex');
}

/** sha256 of each file of a signal, by suffix after the script name (see DeliveredRecord.stored). */
export function storedDigests(name: string, files: readonly SignalFile[]): Record<string, string> {
  const digests: Record<string, string> = {};
  for (const file of files) {
    if (!file.name.startsWith(name)) continue;
    digests[file.name.slice(name.length)] = sha256(file.content);
  }
  return digests;
}

function sha256(content: string | Uint8Array): string {
  return createHash('sha256').update(content).digest('hex');
}

/** Why a result is sent although change-only sync is on (for --debug and tests), or 'unchanged'. */
export type ChangeVerdict =
  | 'unchanged'
  | 'failed'
  | 'never delivered'
  | 'not finished on MAAS'
  | 'new result row'
  | 'changed'
  | 'MAAS holds other data'
  | 'refresh due';

/** How long an unchanged result may go without being sent again (--max-age): 24 hours. */
export const DEFAULT_MAX_AGE_MS = 24 * 3600 * 1000;

/**
 * Decides whether a freshly produced built-in result may be skipped. `entry` is its index.json
 * entry from MAAS during this run; `scripts` are the files of that run's tarball.
 */
export async function changeVerdict(
  result: { fields: SignalFields; files: readonly SignalFile[] },
  entry: ScriptIndexEntry,
  record: DeliveredRecord | undefined,
  scripts: ScriptFiles,
  freshness: { now: number; maxAgeMs: number } = { now: Date.now(), maxAgeMs: DEFAULT_MAX_AGE_MS },
): Promise<ChangeVerdict> {
  const { fields, files } = result;
  if (fields.status !== 'WORKING' || fields.exit_status !== 0) return 'failed';
  if (!record) return 'never delivered';
  if (entry.has_finished !== true) return 'not finished on MAAS';
  if (entry.script_result_id !== record.script_result_id) return 'new result row';
  if (resultFingerprint(fields, files) !== record.fingerprint) return 'changed';
  // A full refresh now and then, so MAAS sees the machine report even when nothing changes.
  if (record.delivered_at === undefined || freshness.now - record.delivered_at >= freshness.maxAgeMs) return 'refresh due';
  const suffixes = Object.keys(record.stored);
  if (suffixes.length === 0) return 'MAAS holds other data';
  for (const suffix of suffixes) {
    if (!isResultSuffix(suffix)) return 'MAAS holds other data';
    const held = scripts.read(storedCopyName(fields.name, record.script_result_id, suffix));
    if (!held || sha256(held) !== record.stored[suffix]) return 'MAAS holds other data';
  }
  return 'unchanged';
}
