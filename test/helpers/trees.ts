// Temporary directories for tests and the zoo's real captures unpacked into them (small trees
// from object literals are make-root.ts's), plus waiting and process helpers.
import { spawnSync } from 'node:child_process';
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ZOO } from './fixtures.js';

/** A fresh temporary directory; the caller removes it (see removeTree). */
export async function tempDir(prefix = 'mrs-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeTree(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Archive members a collector test usually needs (tar wildcards; a directory brings its content). */
export const ZOO_SUBSETS = {
  tty: ['./sys/class/tty', '*/tty/*'],
  modalias: ['*/modalias'],
  dmi: ['./sys/class/dmi/*', './sys/devices/virtual/dmi/*'],
  proc: ['./proc/cpuinfo', './proc/cmdline', './proc/version'],
} as const;

/**
 * Unpacks zoo machine `machine` (m1, m2, m3) into a new temp dir and returns its path. With
 * `members` (tar wildcards), only those: the whole tree is ~10k files, slow to write on a busy box.
 */
export async function unpackZoo(machine: 'm1' | 'm2' | 'm3', members: readonly string[] = []): Promise<string> {
  const dir = await tempDir(`mrs-zoo-${machine}-`);
  const select = members.length > 0 ? ['--wildcards', ...members] : [];
  await execa('tar', ['-xzf', join(ZOO, machine, 'capture.tar.gz'), '-C', dir, ...select]);
  return dir;
}

/** Whether `pid` is gone (or only a zombie waiting to be reaped). */
export async function processGone(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  const { readFile } = await import('node:fs/promises');
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat === '' || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

/** Waits (polling, up to `limitMs`) until `check` is true; returns its last answer. */
export async function eventually(check: () => Promise<boolean> | boolean, limitMs = 5000): Promise<boolean> {
  const end = Date.now() + limitMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Whether an executable is installed here (PATH or the sbin directories). */
export async function installed(tool: string): Promise<boolean> {
  const { findExecutable } = await import('../../src/host/run-command.js');
  return (await findExecutable(tool)) !== undefined;
}

/** One member of a zoo machine's capture archive (e.g. "zoo/cmd/dmidecode.out"), as text. */
export async function zooMember(machine: 'm1' | 'm2' | 'm3', member: string): Promise<string> {
  const { stdout } = await execa('tar', ['-xzOf', join(ZOO, machine, 'capture.tar.gz'), `./${member}`], { stripFinalNewline: false });
  return stdout;
}

/**
 * Mounts a tmpfs of `size` (e.g. "32k") on the existing directory `dir`, to make a full (or, with
 * readOnly, a read-only) disk for real; returns the unmount. Needs root (CI runs as root): see tmpfsUnavailable().
 */
export function mountTmpfs(dir: string, size: string, options: { readOnly?: boolean } = {}): () => void {
  const mountOptions = `size=${size}${options.readOnly ? ',ro' : ''}`;
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', mountOptions, 'tmpfs', dir], { encoding: 'utf8' });
  if (mounted.status !== 0) throw new Error(`mount -t tmpfs on ${dir} failed: ${mounted.stderr.trim() || mounted.error?.message}`);
  return () => void spawnSync('umount', [dir]);
}

/** Why a small tmpfs cannot be mounted here (for a test to report as skipped), or undefined. */
export async function tmpfsUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'mounting a small tmpfs needs root';
  const probe = await tempDir('mrs-tmpfs-probe-');
  try {
    mountTmpfs(probe, '16k')();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await removeTree(probe);
  }
}
