// The one atomic file writer (creds files, the spool and its state, `collect --output`), the one
// writer of the CLI's standard output, and the one translation of file-system errors into short
// readable reasons.
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { CliError, hasCode, oneLine, UsageError } from './errors.js';

/** A short human reason for a file-system error, without a stack or the syscall noise. */
export function fsReason(error: unknown): string {
  const code = (error as { code?: string } | undefined)?.code;
  const reasons: Record<string, string> = {
    ENOENT: 'no such file or directory',
    ENOTDIR: 'a parent is not a directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    EISDIR: 'it is a directory',
    ENOSPC: 'no space left on device',
    EDQUOT: 'disk quota exceeded',
  };
  if (code && reasons[code]) return reasons[code];
  return oneLine(error);
}

/**
 * Whether a file-system error is the chosen path's fault (it does not exist, is not a directory,
 * may not be written): a usage error the operator fixes by giving another path (exit 2), unlike
 * a full disk or an I/O error (exit 1).
 */
export function pathAtFault(error: unknown): boolean {
  return hasCode(error, 'EACCES', 'EPERM', 'ENOENT', 'ENOTDIR', 'EROFS', 'EISDIR');
}

/** How writeAtomic creates the file. */
export interface AtomicWriteOptions {
  /** The file's mode (default 0600). */
  mode?: number;
  /** Let the process's umask narrow `mode`, as a plain write would (default false: exactly `mode`). */
  umask?: boolean;
  /**
   * Flush the file and its directory entry to the disk before returning (default true). False
   * keeps the write atomic for the process (a crash of the tool leaves the old or the new
   * content), not for the machine: a power loss may lose it. For records whose loss costs only
   * work done again (docs/design.md D28).
   */
  durable?: boolean;
  /** Makes the part of a temporary file's name after `.tmp-` (default temporarySuffix); tests give fixed ones. */
  temporaryName?: () => string;
}

const TEMPORARY_PREFIX = '.tmp-';

/** Whether `name` is a temporary file writeAtomic left behind (a crash between write and rename). */
export function isAtomicTemporary(name: string): boolean {
  return name.startsWith(TEMPORARY_PREFIX);
}

/** How many names writeAtomic tries for its temporary file while each is taken. */
const TEMPORARY_ATTEMPTS = 5;

let temporaries = 0;

/**
 * A name for a temporary file: the process id, a count of this process's temporaries, and random
 * digits against another process of the same id (a leftover of a process that died, one in another
 * PID namespace sharing the directory). The file is created with O_CREAT|O_EXCL, which never opens
 * an existing path nor follows a symbolic link there, so a name only has to be unlikely to be taken,
 * not hard to guess. Math.random is enough for that, and unlike node:crypto it costs a short command
 * no module to load.
 */
function temporarySuffix(): string {
  temporaries += 1;
  return `${process.pid}-${temporaries.toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * Writes `data` to `path` so that a crash leaves the old or the new content, never a mix: a
 * temporary file in the same directory, fsynced, given its mode, renamed over `path`, and the
 * directory fsynced (both flushes left out with `durable: false`). On failure the temporary file
 * is removed, `path` is left as it was, and the file system's own error is thrown (see
 * writeFileAtomic for one-line errors).
 *
 * The calls are synchronous (the promise is for callers that need not know): the files are small
 * and a command's steps wait for each write anyway, while each asynchronous call, seven of them
 * per file, would cost a round trip through Node's thread pool (docs/design.md D23).
 */
export async function writeAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  await beforeWrites?.();
  writeAtomicNow(path, data, options);
}

let beforeWrites: (() => Promise<void>) | undefined;

/**
 * What every writeAtomic waits for before it writes: the CLI gives the step that puts the tool
 * in the idle IO class (src/host/run-command.ts ensureOwnPriority), taken when it is first needed.
 */
export function waitBeforeWrites(step: () => Promise<void>): void {
  beforeWrites = step;
}

function writeAtomicNow(path: string, data: string | Uint8Array, options: AtomicWriteOptions): void {
  const mode = options.mode ?? 0o600;
  const durable = options.durable ?? true;
  const dir = dirname(path);
  const { temp, fd } = createTemporary(dir, mode, options.temporaryName ?? temporarySuffix);
  try {
    try {
      writeWhole(fd, typeof data === 'string' ? Buffer.from(data) : data);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // The umask may have narrowed the mode the file was created with.
    if (!options.umask) chmodSync(temp, mode);
    renameSync(temp, path);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // already gone
    }
    throw error;
  }
  if (durable) syncDirectoryNow(dir);
}

/** Creates a new temporary file in `dir`; a name already taken (a leftover) is passed over for another. */
function createTemporary(dir: string, mode: number, name: () => string): { temp: string; fd: number } {
  for (let attempt = 1; ; attempt++) {
    const temp = join(dir, `${TEMPORARY_PREFIX}${name()}`);
    try {
      return { temp, fd: openSync(temp, 'wx', mode) };
    } catch (error) {
      if (attempt >= TEMPORARY_ATTEMPTS || !hasCode(error, 'EEXIST')) throw error;
    }
  }
}

/** Writes all of `bytes`: a write may take only part (a disk filling up), and the rest is written until it fails. */
function writeWhole(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
}

/**
 * writeAtomic with a one-line error naming the file (code MRS_FILE_WRITE): a UsageError (exit 2)
 * when the path or its permissions are at fault, else a CliError.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  try {
    await writeAtomic(path, data, { mode });
  } catch (error) {
    const message = `cannot write ${path}: ${fsReason(error)}`;
    if (pathAtFault(error)) throw new UsageError(message, { cause: error, code: 'MRS_FILE_WRITE' });
    throw new CliError(message, { cause: error, code: 'MRS_FILE_WRITE' });
  }
}

/** Makes a directory's entries (a rename, an unlink) durable. */
function syncDirectoryNow(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Removes a file, if it is there (what `rm -f` does to a file). Not fs.rmSync: on Node 20 that
 * loads and runs its whole recursive-removal module even for one file, at about a millisecond.
 */
export function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (!hasCode(error, 'ENOENT')) throw error;
  }
}

/**
 * Creates `path` and its missing parents (each with `mode`), one component at a time from the
 * top. Unlike Node's recursive mkdir, it cannot loop: on a file system that refuses a directory
 * (under /proc, say) it fails with that refusal. Existing components must be directories.
 */
export async function makeDirectories(path: string, mode = 0o700): Promise<void> {
  const parts = resolve(path).split(sep).filter(Boolean);
  let at = '';
  for (const part of parts) {
    at = `${at}${sep}${part}`;
    try {
      mkdirSync(at, { mode });
    } catch (error) {
      if (!hasCode(error, 'EEXIST')) throw error;
      if (!statSync(at).isDirectory()) throw Object.assign(new Error(`${at} is not a directory`), { code: 'ENOTDIR' });
    }
  }
}

// Standard output and error are written straight to descriptors 1 and 2. process.stdout and
// process.stderr are streams, and making the first of them loads the stream and socket modules and
// sets up a socket for a pipe: about a millisecond of every short command.
/**
 * Writes `text` to descriptor `fd` (1 or 2). A descriptor that cannot take it all now (a
 * non-blocking pipe that is full) gets the rest through the stream, which writes it once the
 * reader has made room, and so does everything written to that descriptor after it: written
 * straight into a pipe the reader has meanwhile emptied, later text would come out before the
 * rest still waiting in the stream. A closed descriptor (EPIPE, EBADF) gets nothing, as nobody
 * reads it.
 */
export function writeToDescriptor(fd: 1 | 2, text: string): void {
  if (throughStream.has(fd)) {
    streamOf(fd).write(text);
    return;
  }
  const bytes = Buffer.from(text);
  let done = 0;
  try {
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
  } catch (error) {
    if (hasCode(error, 'EAGAIN')) {
      throughStream.add(fd);
      streamOf(fd).write(bytes.subarray(done));
    } else if (!hasCode(error, 'EPIPE', 'EBADF')) throw error;
  }
}

/** The descriptors written through their stream since one of them was full. */
const throughStream = new Set<1 | 2>();
const streamOf = (fd: 1 | 2) => (fd === 1 ? process.stdout : process.stderr);

/** Standard output, without its stream. */
export const standardOutput = { write: (text: string): void => writeToDescriptor(1, text) };

/** Standard error, without its stream. */
export const standardError = { write: (text: string): void => writeToDescriptor(2, text) };
