// The one builder of filesystem trees for tests: a small fake root (sysfs, procfs, udev, /dev
// links, executables) written from an object literal into a temp directory.
import { chmod, mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { onTestFinished } from 'vitest';
import type { CommandResult, RunCommand } from '../../src/host/run-command.js';

/** A symlink entry in a tree description. */
export interface Link {
  link: string;
  /**
   * Keep an absolute target as written (as a captured tree may hold one). By default an absolute
   * target names a path inside the root and is made relative, as sysfs links are.
   */
  verbatim?: boolean;
}

/** An executable file (mode 0755) with this content, e.g. a stand-in for a tool. */
export interface Executable {
  exec: string;
}

/** What a path of a tree holds: file text, bytes, a symlink or an executable. */
export type TreeEntry = string | Buffer | Link | Executable;

/** Path (relative to the root) → what it holds. */
export type Tree = Record<string, TreeEntry>;

/** Marks a tree entry as a symlink to `target` (an absolute target means a path inside the root). */
export const link = (target: string): Link => ({ link: target });

/** Writes `tree` under a fresh temp directory removed after the test; returns the directory. */
export async function makeRoot(tree: Tree): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'mrs-root-'));
  onTestFinished(() => rm(root, { recursive: true, force: true }));
  await writeTree(root, tree);
  return root;
}

/** Absolute targets are made relative, as sysfs links are, so they resolve inside the tree. */
function inside(path: string, target: string): string {
  return target.startsWith('/') ? posix.relative(posix.dirname(`/${path}`), target) || '.' : target;
}

/** Writes `tree` under an existing directory. */
export async function writeTree(root: string, tree: Tree): Promise<void> {
  for (const [path, entry] of Object.entries(tree)) {
    const full = join(root, path);
    await mkdir(dirname(full), { recursive: true });
    if (typeof entry === 'string' || Buffer.isBuffer(entry)) {
      await writeFile(full, entry);
    } else if ('link' in entry) {
      await symlink(entry.verbatim ? entry.link : inside(path, entry.link), full);
    } else {
      await writeFile(full, entry.exec);
      await chmod(full, 0o755);
    }
  }
}

/** A RunCommand standing in for a machine whose tools are all absent. */
export const noCommands: RunCommand = async (file, args) => notFound(file, args);

/** The result of running a command that is not installed. */
export function notFound(file: string, args: readonly string[]): CommandResult {
  return { command: [file, ...args].join(' '), exitCode: undefined, stdout: '', stderr: `${file}: command not found`, timedOut: false, notFound: true, failed: true };
}

/** A RunCommand answering from a table of "command line" → stdout (exit 0); others are absent. */
export function cannedCommands(outputs: Record<string, string>): RunCommand {
  return async (file, args) => {
    const command = [file, ...args].join(' ');
    const stdout = outputs[command];
    if (stdout === undefined) return notFound(file, args);
    return { command, exitCode: 0, stdout, stderr: '', timedOut: false, notFound: false, failed: false };
  };
}
