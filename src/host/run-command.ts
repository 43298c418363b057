// Runs an external command the non-disruptive way: idle CPU and IO priority, LC_ALL=C, no
// shell, a timeout that kills the whole process group, and a clear "not found".
//
// The priority is the tool's own. It runs beside a production workload, so by default the whole
// process drops to the lowest CPU priority (nice 19) and the idle IO class before anything is
// started, and every command or script inherits both: no `nice`/`ionice` wrapper per command,
// and a command such as lshw does not compete with the tool itself for a core.
// Linux keeps both priorities per thread, and a new thread or process takes them from the thread
// that creates it. So nice 19 is set on every thread that exists (Node starts its helper threads
// before any of our code runs) as a command begins; later threads and every child are made by
// threads that have it. Node has no call for the IO priority, so `ionice -c 3 -p PID TID...`
// runs once for all the threads there are then (the main thread first, the one that starts
// children). The IO class only matters to IO the tool or its children ask of a disk, so that
// runs when it is first needed: before the first command or script starts (they wait for it)
// and before the tool's first file write (src/files.ts waits for it). A run that only reads /sys
// and /proc, which no disk holds, and prints (`collect --only modaliases`) starts no process at
// all (docs/design.md D29).
import type * as ChildProcess from 'node:child_process';
import { accessSync, constants, readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import { delimiter, join } from 'node:path';
import { requireBuiltin } from '../builtin.js';

/**
 * node:child_process, loaded when the first command starts rather than with this module: loading
 * it (and the stream and socket modules it needs) is a good part of the start-up of a command
 * that starts nothing, such as --version. Through require, as the standalone executable has no
 * loader for dynamic imports.
 */
function spawn(...args: Parameters<typeof ChildProcess.spawn>): ReturnType<typeof ChildProcess.spawn> {
  childProcess ??= requireBuiltin('node:child_process') as typeof ChildProcess;
  return childProcess.spawn(...args);
}
let childProcess: typeof ChildProcess | undefined;

/** The exit status of a command, script or collector stopped by its timeout, as timeout(1) and MAAS report it. */
export const TIMEOUT_EXIT_STATUS = 124;

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
  /** Kills the command's process group when aborted (the runner's per-collector timeout). */
  signal?: AbortSignal;
  /** Called once the command's process exists. Not called for a command missing or not started. */
  onSpawn?: () => void;
  /** Text written to the command's standard input, which is then closed (default: no input at all). */
  input?: string;
}

export type RunCommand = (file: string, args: readonly string[], options?: RunOptions) => Promise<CommandResult>;

export interface RunCommandOptions {
  /**
   * Directories searched for executables, in order. Default: `$MAAS_RUN_SCRIPTS_PATH` when set
   * (then it is the whole search path, so tests can hide installed tools), else PATH followed by
   * the sbin directories.
   */
  searchPath?: readonly string[];
}

const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** The environment variable that replaces the whole tool search path (for tests and odd hosts). */
export const SEARCH_PATH_ENV = 'MAAS_RUN_SCRIPTS_PATH';

/** The directories the default runner searches, read from the environment at call time. */
export function defaultSearchPath(env: NodeJS.ProcessEnv = process.env): string[] {
  const override = env[SEARCH_PATH_ENV];
  if (override !== undefined) return override.split(delimiter).filter(Boolean);
  return [...(env.PATH ?? '').split(delimiter).filter(Boolean), ...SBIN_DIRS];
}

const located = new Map<string, string | undefined>();

/**
 * Finds an executable in `searchPath` (default: see RunCommandOptions); paths with "/" are checked
 * as is. The lookups are synchronous (a few access(2) calls), so a command is spawned without
 * waiting for the event loop to come round again.
 */
export async function findExecutable(file: string, searchPath: readonly string[] = defaultSearchPath()): Promise<string | undefined> {
  if (file.includes('/')) return isExecutable(file) ? file : undefined;
  const key = `${searchPath.join(delimiter)}\0${file}`;
  if (located.has(key)) return located.get(key);
  let found: string | undefined;
  for (const dir of searchPath) {
    const candidate = join(dir, file);
    if (isExecutable(candidate)) {
      found = candidate;
      break;
    }
  }
  located.set(key, found);
  return found;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `idle` (the default): nice 19 and the idle IO class. `normal`: the priority the tool was started with. */
export type PriorityMode = 'idle' | 'normal';

/** Environment knob with the meaning of the global --priority option (the option wins). */
export const PRIORITY_ENV = 'MAAS_RUN_SCRIPTS_PRIORITY';

/** The lowest CPU priority: the nice value of the tool and of everything it starts. */
export const IDLE_NICE = 19;

let chosenPriority: PriorityMode | undefined;
let priorityApplied: Promise<void> | undefined;

/** A priority mode, or undefined for anything else (the caller words the error). */
export function parsePriorityMode(value: string | undefined): PriorityMode | undefined {
  return value === 'idle' || value === 'normal' ? value : undefined;
}

/** Sets the mode (from --priority); only before the priority is first lowered has it any effect. */
export function choosePriority(mode: PriorityMode): void {
  chosenPriority ??= mode;
}

function modeOf(env: NodeJS.ProcessEnv): PriorityMode {
  return chosenPriority ?? parsePriorityMode(env[PRIORITY_ENV]) ?? 'idle';
}

/**
 * Lowers this process to nice 19 on every thread (see the file comment), once; a command calls
 * it as it begins. What cannot be set is left as it is; it never fails a run.
 */
export function lowerOwnCpuPriority(env: NodeJS.ProcessEnv = process.env): void {
  if (cpuLowered) return;
  cpuLowered = true;
  if (modeOf(env) === 'normal') return;
  for (const thread of ownThreads()) {
    try {
      setPriority(thread, IDLE_NICE);
    } catch {
      // a thread that ended meanwhile
    }
  }
}
let cpuLowered = false;

/**
 * Lowers this process to idle CPU priority and IO class (see the file comment), once: later
 * calls return the same promise. Every command and script awaits it before it starts, and every
 * file write before it writes. What cannot be set (no /proc, no ionice) is left as it is; it
 * never fails a run.
 */
export function ensureOwnPriority(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  priorityApplied ??= lowerOwnPriority(env);
  return priorityApplied;
}

/** This process's threads, the main thread first: it starts the children, and ionice stops at a thread that has ended. */
function ownThreads(): number[] {
  try {
    return [process.pid, ...readdirSync('/proc/self/task').map(Number).filter((thread) => thread !== process.pid)];
  } catch {
    return [process.pid]; // no /proc: the main thread, which starts the children
  }
}

async function lowerOwnPriority(env: NodeJS.ProcessEnv): Promise<void> {
  lowerOwnCpuPriority(env);
  if (modeOf(env) === 'normal') return;
  const threads = ownThreads();
  const ionice = await findExecutable('ionice', defaultSearchPath(env));
  if (!ionice) return;
  await new Promise<void>((resolve) => {
    const child = spawn(ionice, ['-c', '3', '-p', ...threads.map(String)], { stdio: 'ignore', env: { ...env, LC_ALL: 'C' } });
    child.on('error', () => resolve());
    child.on('close', () => resolve());
  });
}

/** Builds a RunCommand that searches `searchPath` for executables (see the file comment). */
export function createRunCommand({ searchPath }: RunCommandOptions = {}): RunCommand {
  return async (file, args, options = {}) => {
    const dirs = searchPath ?? defaultSearchPath();
    const command = [file, ...args].join(' ');
    const notRun = (stderr: string, notFound: boolean): CommandResult => ({
      command,
      exitCode: undefined,
      stdout: '',
      stderr,
      timedOut: false,
      notFound,
      failed: true,
    });
    const executable = await findExecutable(file, dirs);
    if (!executable) return notRun(`${file}: command not found`, true);
    await ensureOwnPriority();
    if (options.signal?.aborted) return notRun(`${file}: not started, the collector was stopped`, false);
    const timeoutMs = options.timeoutMs ?? 30_000;
    const maxBuffer = options.maxBuffer ?? 64 * 1024 * 1024;
    const child = spawn(executable, args, {
      env: { ...process.env, ...options.env, LC_ALL: 'C', LANG: 'C' },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: true, // own process group, so a timeout can kill the command's children too
    });
    // A command may exit without reading its input: the broken pipe is its business, not an error here.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input);
    let timedOut = false;
    let aborted = false;
    let overflowed = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, timeoutMs);
    const onAbort = () => {
      aborted = true;
      killGroup(child.pid);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    // Output is kept as the bytes came and decoded once at the end, so a character split
    // between two reads is decoded whole; past maxBuffer the command is stopped.
    const collect = (stream: NodeJS.ReadableStream | null) => {
      const chunks: Buffer[] = [];
      let size = 0;
      stream?.on('data', (chunk: Buffer) => {
        if (size >= maxBuffer) return;
        const room = maxBuffer - size;
        chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
        size += Math.min(chunk.length, room);
        if (chunk.length > room) {
          overflowed = true;
          killGroup(child.pid);
        }
      });
      return () => (chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    };
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    const ended = new Promise<number | undefined>((resolve) => {
      child.once('error', () => resolve(undefined));
      child.once('close', (code: number | null) => resolve(code ?? undefined));
    });
    try {
      if (child.pid !== undefined) {
        try {
          options.onSpawn?.();
        } catch (error) {
          killGroup(child.pid); // the caller will not wait for it
          throw error;
        }
      }
      const code = await ended;
      const killed = timedOut || aborted || overflowed;
      return {
        command,
        exitCode: killed ? undefined : code,
        stdout: stdout(),
        stderr: timedOut
          ? `${file}: timed out after ${timeoutMs} ms`
          : aborted
            ? `${file}: stopped, the collector timed out`
            : overflowed
              ? `${file}: stopped, its output passed ${maxBuffer} bytes`
              : stderr(),
        timedOut,
        notFound: false,
        failed: killed || code !== 0,
      };
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      // A killed command's children may outlive their parent: make sure the group is gone.
      if (timedOut || aborted || overflowed) killGroup(child.pid);
    }
  };
}

/** The default RunCommand: see the file comment. */
export const runCommand: RunCommand = createRunCommand();

/**
 * A RunCommand that runs nothing: each command counts as not installed, and its stderr says
 * `<file>: not run, <why>`. For hosts read from a captured tree, which commands would not describe.
 */
export function commandsNotRun(why: string): RunCommand {
  return async (file, args) => ({
    command: [file, ...args].join(' '),
    exitCode: undefined,
    stdout: '',
    stderr: `${file}: not run, ${why}`,
    timedOut: false,
    notFound: true,
    failed: true,
  });
}

/** SIGKILLs the process group led by `pid`; ignores a group that is already gone. */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already exited
  }
}
