// Builds a small fake filesystem root (sysfs, procfs, udev, /dev links) in a temp directory.
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { onTestFinished } from 'vitest';
import type { CommandResult, RunCommand } from '../../src/host/run-command.js';

/** A symlink entry in a tree description. */
export interface Link {
  link: string;
}

/** Path (relative to the root) → file text, bytes, or a symlink target. */
export type Tree = Record<string, string | Buffer | Link>;

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
  for (const [path, content] of Object.entries(tree)) {
    const full = join(root, path);
    await mkdir(dirname(full), { recursive: true });
    if (typeof content === 'object' && !Buffer.isBuffer(content)) await symlink(inside(path, content.link), full);
    else await writeFile(full, content);
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
