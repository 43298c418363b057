// The Host: every read of /sys, /proc, /dev, /etc and /run and every external command goes
// through one, so tests point a collector at a fixture tree by changing `root`.
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { arch, hostname, release, type } from 'node:os';
import { join, posix } from 'node:path';
import { hasCode } from '../errors.js';
import { runCommand, type RunCommand } from './run-command.js';

/** uname(2) as the collectors need it. */
export interface Uname {
  sysname: string;
  nodename: string;
  release: string;
  /** e.g. x86_64, aarch64 */
  machine: string;
}

export interface Host {
  /** The directory standing for "/" (a fixture tree in tests). */
  readonly root: string;
  /** Whether collectors may expect root-only data (DMI serials, dmidecode). */
  readonly isRoot: boolean;
  /** File text, trimmed; undefined when absent or unreadable for lack of permission. */
  readOptional(path: string): Promise<string | undefined>;
  /** File text as is; undefined when absent or not permitted. */
  readText(path: string): Promise<string | undefined>;
  /** File bytes; undefined when absent or not permitted. */
  readBytes(path: string): Promise<Buffer | undefined>;
  /** File text, trimmed; throws an error naming the path when it cannot be read. */
  readRequired(path: string): Promise<string>;
  /** Entry names of a directory, sorted; [] when it does not exist. */
  list(path: string): Promise<string[]>;
  /** A symlink's target as stored; undefined when `path` is not a symlink. */
  readLink(path: string): Promise<string | undefined>;
  /** The host path `path` resolves to, following symlinks inside the root; undefined if dangling. */
  resolve(path: string): Promise<string | undefined>;
  exists(path: string): Promise<boolean>;
  isDirectory(path: string): Promise<boolean>;
  /** Runs a command (never through a shell); see run-command.ts. */
  run: RunCommand;
  uname(): Promise<Uname>;
  /**
   * The value of `compute` for `key`, computed once per Host (a Host serves one run): results
   * that several collectors need, such as a walk of /sys/devices. `compute` reads files only; it
   * must not run commands, which belong to the collector that started them.
   */
  shared<T>(key: string, compute: () => Promise<T>): Promise<T>;
}

export interface HostOptions {
  root?: string;
  run?: RunCommand;
  isRoot?: boolean;
  /** Overrides uname; by default it comes from the kernel (root "/") or the tree's /proc/sys/kernel. */
  uname?: Partial<Uname>;
}

/**
 * The options of a text read: given as an object, which Node takes as it is, rather than the
 * string 'utf8', which it copies into a new one at every read (of the thousand or so in a run).
 */
const UTF8 = { encoding: 'utf8', flag: 'r' } as const;

/** Reads errors that mean "this data is not there": missing, no permission, or the kernel refusing. */
const ABSENT = ['ENOENT', 'ENOTDIR', 'EACCES', 'EPERM', 'EINVAL', 'EIO', 'EOPNOTSUPP', 'ENODEV', 'ENXIO', 'EISDIR'];

/**
 * Whether a text file is read synchronously. Files under /proc and /sys are made by the kernel
 * from what it already holds (or from a quick question to a driver), so the read is a copy from
 * memory, and an async read's round trips through the thread pool cost several times the CPU of
 * the copy. Network interface attributes are the exception: a driver answers them while holding
 * the kernel's network configuration lock, which other network management may be holding, so
 * they stay async, as do real files (/etc, /usr/share), which may wait for a disk.
 */
export function readsInline(path: string): boolean {
  return (path.startsWith('/proc/') || path.startsWith('/sys/')) && !path.includes('/net/');
}

const trimmed = (text: string | undefined) => text?.trim();

export function createHost({ root = '/', run = runCommand, isRoot, uname }: HostOptions = {}): Host {
  // Under "/" an absolute path with no "." component and no doubled "/" is already what join
  // would make of it; join's normalising of each of the thousands of paths read is skipped.
  const at = root === '/' ? (path: string) => (isPlainAbsolute(path) ? path : join(root, path)) : (path: string) => join(root, path);
  const readUtf8 = (path: string) => (readsInline(path) ? Promise.resolve(readFileSync(at(path), UTF8)) : readFile(at(path), 'utf8'));
  const absentAsUndefined = (error: unknown) => {
    if (hasCode(error, ...ABSENT)) return undefined;
    throw error;
  };
  // The text of a file, or undefined (ABSENT). Read inline, the answer is there at once: it is
  // handed over already settled, without the await of an async function in between (a run makes
  // about a thousand of these reads).
  const readText = (path: string): Promise<string | undefined> => {
    if (!readsInline(path)) return readFile(at(path), 'utf8').catch(absentAsUndefined);
    try {
      return Promise.resolve(readFileSync(at(path), UTF8));
    } catch (error) {
      return hasCode(error, ...ABSENT) ? Promise.resolve(undefined) : Promise.reject(error as Error);
    }
  };
  const memo = new Map<string, Promise<unknown>>();
  const host: Host = {
    root,
    isRoot: isRoot ?? (root === '/' && process.getuid?.() === 0),
    readText,
    readOptional: (path) => readText(path).then(trimmed),
    readBytes: async (path) => {
      try {
        return await readFile(at(path));
      } catch (error) {
        if (hasCode(error, ...ABSENT)) return undefined;
        throw error;
      }
    },
    readRequired: async (path) => {
      try {
        return (await readUtf8(path)).trim();
      } catch (error) {
        throw new Error(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
      }
    },
    // Directory listings, links and existence are answered synchronously. Nearly all are asked
    // of /sys, /proc and /dev, where they are the kernel's own bookkeeping and never reach a
    // driver or a device, and the rest (/etc, /run/udev) are small metadata lookups; an async
    // call costs several times the CPU of the lookup itself. For file contents see readsInline.
    list: async (path) => {
      try {
        return readdirSync(at(path)).sort();
      } catch (error) {
        if (hasCode(error, ...ABSENT)) return [];
        throw error;
      }
    },
    readLink: async (path) => {
      try {
        return readlinkSync(at(path));
      } catch (error) {
        if (hasCode(error, ...ABSENT)) return undefined;
        throw error;
      }
    },
    // At "/" the kernel resolves the whole path at once; a tree's links must be re-rooted by hand.
    resolve: async (path) => {
      if (root !== '/') return resolveInRoot(root, path);
      try {
        return realpathSync.native(path);
      } catch {
        return undefined;
      }
    },
    exists: async (path) => {
      try {
        lstatSync(at(path));
        return true;
      } catch {
        return false;
      }
    },
    isDirectory: async (path) => {
      try {
        return statSync(at(path)).isDirectory();
      } catch {
        return false;
      }
    },
    run,
    uname: async () => ({ ...(await kernelUname(root, readText)), ...uname }),
    shared: <T>(key: string, compute: () => Promise<T>) => {
      if (!memo.has(key)) memo.set(key, compute());
      return memo.get(key) as Promise<T>;
    },
  };
  return host;
}

/** An absolute path that path.join would return unchanged: no "//" and no "." or ".." component (nor any name starting with "."). */
function isPlainAbsolute(path: string): boolean {
  return path.startsWith('/') && !path.includes('//') && !path.includes('/.');
}

async function kernelUname(root: string, readText: (p: string) => Promise<string | undefined>): Promise<Uname> {
  if (root === '/') return { sysname: type(), nodename: hostname(), release: release(), machine: machineOf() };
  const [sysname, nodename, rel] = await Promise.all(
    ['ostype', 'hostname', 'osrelease'].map(async (f) => (await readText(`/proc/sys/kernel/${f}`))?.trim()),
  );
  return { sysname: sysname ?? 'Linux', nodename: nodename ?? '', release: rel ?? '', machine: machineOf() };
}

const NODE_ARCH_TO_UNAME: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i686', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', arm: 'armv7l' };

function machineOf(): string {
  return NODE_ARCH_TO_UNAME[arch()] ?? arch();
}

/**
 * Resolves `path` component by component, re-rooting absolute link targets under `root`, so a
 * fixture tree's links (absolute or relative) never escape it. Returns the host path.
 */
function resolveInRoot(root: string, path: string): string | undefined {
  const pending = posix.normalize(path).split('/').filter(Boolean);
  let current = '/';
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      current = posix.dirname(current);
      continue;
    }
    const next = posix.join(current, part);
    let info;
    try {
      info = lstatSync(join(root, next));
    } catch {
      return undefined;
    }
    if (!info.isSymbolicLink()) {
      current = next;
      continue;
    }
    if (++hops > 40) return undefined;
    const target = readlinkSync(join(root, next));
    pending.unshift(...target.split('/').filter(Boolean));
    current = target.startsWith('/') ? '/' : current;
  }
  return current;
}

