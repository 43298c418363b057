// The state directory and its spool: every result is written here (atomically, fsynced)
// before it is sent and removed once MAAS accepted it, so a result survives MAAS being down, a
// crash or a reboot, and the next run delivers it first. One file per script name per machine:
// a newer result replaces an older undelivered one, so a long outage cannot pile results up.
import { closeSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError, hasCode, UsageError } from '../errors.js';
import { fsReason, isAtomicTemporary, makeDirectories, pathAtFault, removeFile, writeAtomic } from '../files.js';
import { onInterrupt } from '../host/interrupt.js';
import type { SignalFields, SignalFile } from '../maas/types.js';

const SPOOL_FORMAT = 1;

/** Where state lives by default: /var/lib/maas-run-scripts for root, else under the XDG state home. */
// Stryker disable next-line OptionalChaining: process.getuid exists on Linux, the only system this tool runs on
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env, uid: number | undefined = process.getuid?.()): string {
  if (uid === 0) return '/var/lib/maas-run-scripts';
  const xdg = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith('/') ? env.XDG_STATE_HOME : join(env.HOME || homedir(), '.local', 'state');
  return join(xdg, 'maas-run-scripts');
}

/** The directory of machine `key`'s state (spool, records) under `stateDir`. */
export function machineStateDir(stateDir: string, key: string): string {
  return join(stateDir, 'machines', safeName(key));
}

/** One undelivered signal as stored in the spool. */
export interface SpooledSignal {
  fields: SignalFields;
  files: SignalFile[];
  /** When the result was produced (ISO 8601). */
  createdAt: string;
  /** Orders results of one run (index order); results of earlier runs come first. */
  sequence: number;
  /** The spool file holding it. */
  readonly path: string;
  /**
   * A send was started and not known to have finished: MAAS may have stored it already (the
   * answer was lost, or the process died before forgetting it). Check before sending again.
   */
  inFlight: boolean;
}

interface StoredSignal {
  format: number;
  createdAt: string;
  sequence: number;
  fields: SignalFields;
  files: { name: string; base64: string }[];
}

/** A machine's spool directory; see the file comment. Use openSpool. */
export interface Spool {
  readonly dir: string;
  /** Durably stores a result, replacing an undelivered older one of the same script name. */
  put(fields: SignalFields, files: readonly SignalFile[]): Promise<SpooledSignal>;
  /** Undelivered results, oldest first. Unreadable files are moved aside and reported in `damaged`. */
  list(): Promise<{ signals: SpooledSignal[]; damaged: string[] }>;
  /** Forgets a delivered (or rejected) result; a no-op when a newer put already replaced it. */
  remove(signal: SpooledSignal): Promise<void>;
  /** Durably notes that `signal` is about to be sent (see SpooledSignal.inFlight). */
  markInFlight(signal: SpooledSignal): Promise<void>;
}

/** The state kept per machine: its spool and the last scripts tarball it was given. */
export interface MachineState {
  readonly dir: string;
  readonly spool: Spool;
  /** Replaces the cached maas-scripts tarball (used when MAAS cannot be reached). */
  saveScripts(tar: Uint8Array): Promise<void>;
  /** The cached maas-scripts tarball, if any. */
  loadScripts(): Promise<Uint8Array | undefined>;
  /** Releases the lock that keeps two runs for this machine from interleaving. */
  close(): Promise<void>;
}

/**
 * Writes a file of the state directory atomically (writeAtomic: no temporary file is left on
 * failure). A failure is one line naming the file and the fix: a full disk is an operational
 * failure (exit 1), a path the operator chose badly a usage error (exit 2).
 */
export async function writeStateFile(path: string, data: Uint8Array, { durable = true }: { durable?: boolean } = {}): Promise<void> {
  try {
    await writeAtomic(path, data, { durable });
  } catch (error) {
    const message = `cannot write ${path}: ${fsReason(error)}; free space in the state directory or choose another with --state-dir DIR`;
    throw pathAtFault(error) ? new UsageError(message, { cause: error }) : new CliError(message, { cause: error });
  }
}

/**
 * Opens (creating it, mode 0700) the state of machine `key` under `stateDir` and takes its lock.
 * Fails with a clear message when the directory cannot be created or another run holds the lock.
 */
export async function openMachineState(stateDir: string, key: string): Promise<MachineState> {
  const dir = machineStateDir(stateDir, key);
  const spoolDir = join(dir, 'spool');
  try {
    await makeDirectories(spoolDir, 0o700);
  } catch (error) {
    const message = `cannot create the state directory ${stateDir}: ${fsReason(error)}; choose a writable one with --state-dir DIR`;
    throw pathAtFault(error) ? new UsageError(message, { cause: error }) : new CliError(message, { cause: error });
  }
  const releaseLock = await lock(join(dir, 'lock'));
  await removeTemporaries(spoolDir);
  await removeTemporaries(dir);
  const scriptsFile = join(dir, 'maas-scripts.tar');
  return {
    dir,
    spool: createSpool(spoolDir),
    // A copy for runs that cannot reach MAAS; losing it to a power cut loses nothing else
    // (docs/design.md D28).
    saveScripts: (tar) => writeStateFile(scriptsFile, tar, { durable: false }),
    loadScripts: async () => {
      try {
        return readFileSync(scriptsFile);
      } catch (error) {
        if (hasCode(error, 'ENOENT')) return undefined;
        throw error;
      }
    },
    close: releaseLock,
  };
}

let runSequence = 0;

/** The place of a result among those this process spooled, below 1000 (a millisecond's worth). */
function nextInRun(): number {
  // Stryker disable next-line ArithmeticOperator: `* 1000` only makes the counter grow faster, so within a process it orders results as `% 1000` does; the two differ only against files an earlier process wrote with the mutant
  return runSequence++ % 1000;
}

function createSpool(dir: string): Spool {
  const runStart = Date.now();
  // The sequence of the result this process last wrote to each spool file. The machine's lock
  // keeps other runs out, so for these files it is what a read of the file would say.
  const written = new Map<string, number>();
  return {
    dir,
    async put(fields, files) {
      const path = join(dir, `${safeName(fields.name)}.json`);
      const stored: StoredSignal = {
        format: SPOOL_FORMAT,
        createdAt: new Date().toISOString(),
        sequence: runStart * 1000 + nextInRun(),
        fields,
        files: files.map((f) => ({ name: f.name, base64: Buffer.from(f.content).toString('base64') })),
      };
      await writeStateFile(path, Buffer.from(JSON.stringify(stored)));
      written.set(path, stored.sequence);
      return { fields, files: [...files], createdAt: stored.createdAt, sequence: stored.sequence, path, inFlight: false };
    },
    async list() {
      const signals: SpooledSignal[] = [];
      const damaged: string[] = [];
      // The state directory's files are read synchronously, as they are written (see writeAtomic).
      for (const name of readdirSync(dir).filter((n) => n.endsWith('.json') && !n.startsWith('.'))) {
        const path = join(dir, name);
        // Undefined when the file cannot be read or parsed.
        const stored = readOrUndefined(() => JSON.parse(readFileSync(path, 'utf8')) as unknown);
        const marker = readOrUndefined(() => readFileSync(markerOf(path), 'utf8'));
        const signal = decode(stored, path, marker);
        if (signal) {
          signals.push(signal);
        } else {
          readOrUndefined(() => renameSync(path, `${path}.damaged`));
          damaged.push(`${path}.damaged`);
        }
      }
      signals.sort((a, b) => a.sequence - b.sequence);
      return { signals, damaged };
    },
    async remove(signal) {
      // A file left by an earlier run is read to learn what it holds now.
      let current = written.get(signal.path);
      if (current === undefined) {
        try {
          current = (JSON.parse(readFileSync(signal.path, 'utf8')) as StoredSignal).sequence;
        } catch (error) {
          // Removed already.
          if (hasCode(error, 'ENOENT')) return;
          throw error;
        }
      }
      // A newer result of the same script has replaced the file since it was read.
      if (current !== signal.sequence) return;
      // `force`: a file removed by hand meanwhile is forgotten already. A result that was never
      // marked in flight has no marker.
      // Not flushed (docs/design.md D28): should a power cut bring the file back, the next run
      // finds MAAS holds the result (its marker came back too) or sends it once more (MAAS
      // stores it again).
      removeFile(signal.path);
      removeFile(markerOf(signal.path));
    },
    async markInFlight(signal) {
      // Not flushed (docs/design.md D28): the marker only has to outlive this process, which it
      // does in the page cache; after a power cut the result is at worst sent twice, and MAAS
      // keeps one.
      await writeStateFile(markerOf(signal.path), Buffer.from(String(signal.sequence)), { durable: false });
      signal.inFlight = true;
    },
  };
}

/** The value of `read`, or undefined when it throws. */
function readOrUndefined<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/**
 * The spooled result a spool file holds (`stored`: its parsed JSON; `marker`: its in-flight
 * marker's content, if any), or undefined when the file is not one.
 */
function decode(value: unknown, path: string, marker: string | undefined): SpooledSignal | undefined {
  const stored = value as Partial<StoredSignal> | null | undefined;
  if (stored?.format !== SPOOL_FORMAT || typeof stored.fields?.name !== 'string') return undefined;
  if (typeof stored.sequence !== 'number' || typeof stored.createdAt !== 'string') return undefined;
  const files = stored.files;
  if (!Array.isArray(files) || !files.every((f) => typeof f?.name === 'string' && typeof f.base64 === 'string')) return undefined;
  return {
    fields: stored.fields,
    files: files.map((f) => ({ name: f.name, content: Buffer.from(f.base64, 'base64') })),
    createdAt: stored.createdAt,
    sequence: stored.sequence,
    path,
    // The marker names the sequence it was written for: a newer result of the script is not in flight.
    inFlight: marker === String(stored.sequence),
  };
}

function markerOf(path: string): string {
  return `${path}.sending`;
}

async function removeTemporaries(dir: string): Promise<void> {
  for (const name of readdirSync(dir)) {
    if (isAtomicTemporary(name)) unlinkSync(join(dir, name));
  }
}

/** Takes an exclusive lock file holding our pid; a lock left by a dead process is taken over. */
async function lock(path: string): Promise<() => Promise<void>> {
  // Two attempts: the second fails only when another run takes the lock between our removing a
  // stale one and opening it again.
  for (const _attempt of [1, 2]) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      // Stryker disable next-line ArrowFunction: a signal kills the process it reaches, so this is tested through the CLI instead (test/cli/report-results.test.ts, Ctrl-C)
      const forget = onInterrupt(() => removeFile(path));
      return async () => {
        forget();
        removeFile(path);
      };
    } catch (error) {
      if (!hasCode(error, 'EEXIST')) throw error;
      // NaN when the lock holds no number or is gone (its holder let it go meanwhile).
      const holder = Number.parseInt(String(readOrUndefined(() => readFileSync(path, 'utf8'))), 10);
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new CliError(`another report-results run (pid ${holder}) is using ${join(path, '..')}; wait for it to finish`);
      }
      removeFile(path);
    }
  }
  throw new CliError(`cannot lock ${path}; remove it if no report-results run is active`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return hasCode(error, 'EPERM');
  }
}

/** A file-name-safe spelling of a script name or machine key. */
function safeName(name: string): string {
  return encodeURIComponent(name).replace(/^\./, '%2E');
}
