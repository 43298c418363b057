// Runs an external command the non-disruptive way: idle CPU and IO priority (nice, ionice),
// LC_ALL=C, no shell, a timeout that kills the whole process group, and a clear "not found".
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';

/** What a finished (or killed) command left behind. Never throws for a failing command. */
export interface CommandResult {
  /** The command line, for messages. */
  command: string;
  /** Exit code; undefined when it was killed or never started. */
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** The executable is not installed (not on PATH nor in the sbin directories). */
  notFound: boolean;
  /** True unless the command ran and exited 0. */
  failed: boolean;
}

export interface RunOptions {
  /** Kill the command's process group after this many milliseconds (default 30 s). */
  timeoutMs?: number;
  /** Bytes of stdout/stderr kept at most (default 64 MiB). */
  maxBuffer?: number;
  /** Extra environment; LC_ALL=C is always set. */
  env?: Record<string, string>;
}

export type RunCommand = (file: string, args: readonly string[], options?: RunOptions) => Promise<CommandResult>;

const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];
const located = new Map<string, string | undefined>();

/** Finds an executable on PATH, then in the sbin directories (absent from a user's PATH). */
export async function findExecutable(file: string): Promise<string | undefined> {
  if (file.includes('/')) return (await isExecutable(file)) ? file : undefined;
  if (located.has(file)) return located.get(file);
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SBIN_DIRS];
  let found: string | undefined;
  for (const dir of dirs) {
    const candidate = join(dir, file);
    if (await isExecutable(candidate)) {
      found = candidate;
      break;
    }
  }
  located.set(file, found);
  return found;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Wraps `argv` so it runs at idle CPU and IO priority, using whichever of nice/ionice exist. */
async function lowPriority(argv: string[]): Promise<string[]> {
  const [ionice, nice] = await Promise.all([findExecutable('ionice'), findExecutable('nice')]);
  let wrapped = argv;
  if (ionice) wrapped = [ionice, '-c', '3', ...wrapped];
  if (nice) wrapped = [nice, '-n', '19', ...wrapped];
  return wrapped;
}

/** The default RunCommand: see the file comment. */
export const runCommand: RunCommand = async (file, args, options = {}) => {
  const command = [file, ...args].join(' ');
  const executable = await findExecutable(file);
  if (!executable) {
    return { command, exitCode: undefined, stdout: '', stderr: `${file}: command not found`, timedOut: false, notFound: true, failed: true };
  }
  const [head, ...rest] = await lowPriority([executable, ...args]);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const child = execa(head!, rest, {
    env: { ...options.env, LC_ALL: 'C', LANG: 'C' },
    extendEnv: true,
    stdin: 'ignore',
    detached: true, // own process group, so a timeout can kill the command's children too
    reject: false,
    stripFinalNewline: false,
    maxBuffer: options.maxBuffer ?? 64 * 1024 * 1024,
    encoding: 'utf8',
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid);
  }, timeoutMs);
  try {
    const result = await child;
    return {
      command,
      exitCode: timedOut ? undefined : result.exitCode,
      stdout: String(result.stdout ?? ''),
      stderr: timedOut ? `timed out after ${timeoutMs} ms` : String(result.stderr ?? ''),
      timedOut,
      notFound: false,
      failed: timedOut || result.exitCode !== 0,
    };
  } finally {
    clearTimeout(timer);
    // Leave nothing behind even when the command exited and left children running.
    if (timedOut) killGroup(child.pid);
  }
};

/** SIGKILLs the process group led by `pid`; ignores a group that is already gone. */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already exited
  }
}
