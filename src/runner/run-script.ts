// Runs one server-sent script the way MAAS's client does: the extracted file executed directly
// with the environment of docs/protocol.md §5.5, stdout/stderr/combined captured through the
// terminal emulation, $RESULT_PATH picked up, and a timeout that kills the script's whole process
// group (docs/design.md D7; docs/protocol.md §5.6).
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { hasCode } from '../errors.js';
import { onInterrupt } from '../host/interrupt.js';
import { ensureOwnPriority, killGroup, TIMEOUT_EXIT_STATUS } from '../host/run-command.js';
import { monotonicMs } from './clock.js';
import { resultFileName, type ResultStream } from './signal-files.js';
import { TerminalBuffer } from './terminal-buffer.js';

/** What a script (or a built-in collector standing in for one) produced, ready for a signal. */
export interface ScriptOutcome {
  name: string;
  stdout: Buffer;
  stderr: Buffer;
  /** stdout and stderr interleaved in arrival order. */
  combined: Buffer;
  /** What the script wrote to $RESULT_PATH, when it created that file. */
  result?: Buffer;
  /** The real exit status (docs/design.md D1): the script's own code, 128+signal when killed, 124 on timeout. */
  exitStatus: number;
  timedOut: boolean;
  /** Wall-clock seconds. */
  runtimeSeconds: number;
  /** Why the run failed, in MAAS's words; undefined on success. */
  error?: string;
}

/** The paths a run of `name` uses under the run's base directory (docs/protocol.md §5.5). */
export interface RunPaths {
  base: string;
  scripts: string;
  out: string;
  downloads: string;
  resourcesFile: string;
}

/** Lays out the run's base directory the way upstream does: scripts/, out/, downloads/, resources.json. */
export function runPaths(base: string): RunPaths {
  return { base, scripts: join(base, 'scripts'), out: join(base, 'out'), downloads: join(base, 'downloads'), resourcesFile: join(base, 'resources.json') };
}

export interface ScriptEnvironmentOptions {
  paths: RunPaths;
  name: string;
  /** `<scheme>://<host[:port]>` of the metadata URL. */
  baseUrl: string;
  hasStarted: boolean;
  timeoutSeconds: number | undefined;
}

/** The variables MAAS gives each script (docs/protocol.md §5.5), on top of the inherited environment. */
export function scriptEnvironment({ paths, name, baseUrl, hasStarted, timeoutSeconds }: ScriptEnvironmentOptions): Record<string, string> {
  return {
    MAAS_BASE_URL: baseUrl,
    MAAS_RESOURCES_FILE: paths.resourcesFile,
    OUTPUT_COMBINED_PATH: join(paths.out, resultFileName(name, 'combined')),
    OUTPUT_STDOUT_PATH: join(paths.out, resultFileName(name, 'stdout')),
    OUTPUT_STDERR_PATH: join(paths.out, resultFileName(name, 'stderr')),
    RESULT_PATH: join(paths.out, resultFileName(name, 'result')),
    DOWNLOAD_PATH: paths.downloads,
    HAS_STARTED: hasStarted ? 'True' : 'False',
    RUNTIME: timeoutSeconds === undefined ? 'None' : pythonFloat(timeoutSeconds),
  };
}

export interface RunScriptOptions {
  name: string;
  /** The extracted script file; it is executed directly (its shebang picks the interpreter). */
  file: string;
  /** Seconds before the script's process group is killed; 0 or undefined: no limit. */
  timeoutSeconds?: number;
  /** Variables added to the inherited environment (see scriptEnvironment). */
  env: Record<string, string>;
  /** Directory receiving `<name>`, `<name>.out`, `<name>.err`; `<name>.yaml` is read from it. */
  outDir: string;
  /** Where to echo output as it arrives (--debug). */
  echo?: { stdout: Writable; stderr: Writable };
  /** How long to keep reading after the script exited while something it started holds its output open. */
  drainMs?: number;
}

/** Runs a script to completion or timeout; never throws for a failing or unstartable script. */
export async function runScript(options: RunScriptOptions): Promise<ScriptOutcome> {
  const { name, outDir } = options;
  const at = (stream: ResultStream) => join(outDir, resultFileName(name, stream));
  const files = { combined: at('combined'), stdout: at('stdout'), stderr: at('stderr'), result: at('result') };
  await Promise.all([writeFile(files.combined, ''), writeFile(files.stdout, ''), writeFile(files.stderr, ''), ensureOwnPriority()]);
  const buffers = { stdout: new TerminalBuffer(), stderr: new TerminalBuffer(), combined: new TerminalBuffer() };
  const started = monotonicMs();
  const ended = await execute(options, buffers);
  const runtimeSeconds = (monotonicMs() - started) / 1000;

  const stdout = buffers.stdout.bytes();
  const stderr = buffers.stderr.bytes();
  const combined = buffers.combined.bytes();
  await Promise.all([writeFile(files.combined, combined), writeFile(files.stdout, stdout), writeFile(files.stderr, stderr)]);
  const result = await readOptionalFile(files.result);

  let exitStatus: number;
  let error: string | undefined;
  if (ended.timedOut) {
    exitStatus = TIMEOUT_EXIT_STATUS;
    error = `Timeout(${formatDuration(options.timeoutSeconds ?? 0)}) expired on ${name}`;
  } else if (ended.spawnError) {
    exitStatus = hasCode(ended.spawnError, 'ENOENT') ? 127 : 126;
    error = `Failed to execute ${name}: ${exitStatus} (${ended.spawnError.message})`;
  } else {
    exitStatus = ended.code ?? 128 + signalNumber(ended.signal);
    if (exitStatus !== 0) error = `Failed to execute ${name}: ${exitStatus}`;
  }
  return { name, stdout, stderr, combined, ...(result ? { result } : {}), exitStatus, timedOut: ended.timedOut, runtimeSeconds, ...(error ? { error } : {}) };
}

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  spawnError?: Error;
}

function execute(options: RunScriptOptions, buffers: Record<'stdout' | 'stderr' | 'combined', TerminalBuffer>): Promise<Ended> {
  return new Promise((resolve) => {
    // stdin is closed rather than inherited: a script run from cron or a timer must not wait on a terminal.
    const child = spawn(options.file, [], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
    // Its own process group does not get the terminal's Ctrl-C: killed with us instead of left running.
    const forget = onInterrupt(() => killGroup(child.pid));
    let timedOut = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let openPipes = 2;
    let drainTimer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (ended: Ended) => {
      if (settled) return;
      settled = true;
      forget();
      clearTimeout(deadline);
      clearTimeout(drainTimer);
      child.stdout.destroy();
      child.stderr.destroy();
      resolve(ended);
    };
    const maybeFinish = () => {
      if (exit && openPipes === 0) finish({ ...exit, timedOut });
    };
    const seconds = options.timeoutSeconds ?? 0;
    const deadline = seconds > 0
      ? setTimeout(() => {
          timedOut = true;
          killGroup(child.pid);
        }, seconds * 1000)
      : undefined;
    for (const stream of ['stdout', 'stderr'] as const) {
      child[stream].on('data', (chunk: Buffer) => {
        buffers[stream].write(chunk);
        buffers.combined.write(chunk);
        options.echo?.[stream].write(chunk);
      });
      child[stream].on('close', () => {
        openPipes -= 1;
        maybeFinish();
      });
    }
    child.on('error', (error) => {
      // Raised when the file cannot be started at all (missing, not executable, bad interpreter).
      if (child.pid === undefined) finish({ code: null, signal: null, timedOut: false, spawnError: error });
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      if (timedOut) killGroup(child.pid);
      // Something the script started may still hold its output open; stop reading after a grace period.
      drainTimer = setTimeout(() => finish({ code, signal, timedOut }), options.drainMs ?? 2000);
      maybeFinish();
    });
  });
}

async function readOptionalFile(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if (hasCode(error, 'ENOENT', 'EISDIR', 'EACCES')) return undefined;
    throw error;
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? ((osConstants.signals as Record<string, number>)[signal] ?? 0) : 0;
}

/** Formats seconds the way Python prints a timedelta: `0:01:00`, `1 day, 2:03:04`, `0:00:01.500000`. */
export function formatDuration(totalSeconds: number): string {
  const micro = Math.round(totalSeconds * 1e6);
  const days = Math.floor(micro / 86_400e6);
  const rest = micro - days * 86_400e6;
  const hours = Math.floor(rest / 3_600e6);
  const minutes = Math.floor((rest % 3_600e6) / 60e6);
  const seconds = Math.floor((rest % 60e6) / 1e6);
  const fraction = rest % 1e6;
  const clock = `${hours}:${String(minutes).padStart(2, '0')}:${String(seconds).padStart(2, '0')}${fraction ? `.${String(fraction).padStart(6, '0')}` : ''}`;
  return days ? `${days} day${days === 1 ? '' : 's'}, ${clock}` : clock;
}

/** A number as Python's float repr prints it: `60.0`, `0.5`. */
export function pythonFloat(value: number): string {
  return Number.isInteger(value) ? `${value}.0` : String(value);
}
