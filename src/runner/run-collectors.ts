// Runs built-in deploy-info collectors concurrently, each under its own timeout: past it, the
// collector's commands are killed (their whole process groups) and it counts as timed out. A
// collector that throws or times out becomes a failed outcome with a one-line error; the run
// itself never fails because of one collector.
import type { DeployInfoCollector, DeployInfoOutput } from '../../collectors/types.js';
import { oneLine } from '../errors.js';
import type { Host } from '../host/host.js';
import { onInterrupt } from '../host/interrupt.js';
import { TIMEOUT_EXIT_STATUS, type RunOptions } from '../host/run-command.js';
import type { DeployInfoScriptName } from '../resources/types.js';
import { monotonicMs } from './clock.js';

/** What one collector produced, ready to be written or uploaded for each of its scripts. */
export interface CollectorOutcome {
  name: string;
  scripts: readonly DeployInfoScriptName[];
  output: DeployInfoOutput;
  /** Wall-clock seconds from start to outcome. */
  runtimeSeconds: number;
  timedOut: boolean;
  /**
   * The one line saying why, when the runner stopped the collector (timeout) or caught it
   * throwing; it is also the last line of the output's stderr. Undefined when the collector
   * produced its output itself, failing or not.
   */
  failure?: string;
}

export interface RunCollectorsOptions {
  /** Overrides each collector's own timeout (milliseconds); for tests and `--debug` runs. */
  timeoutMs?: (collector: DeployInfoCollector) => number;
  /** Monotonic clock in milliseconds (default monotonicMs). */
  now?: () => number;
  /** The others' wait for the start-first collectors' commands (default START_FIRST_WAIT_MS). */
  startFirstWaitMs?: number;
  /** Called with each collector's outcome as soon as it is there (report-results shows each). */
  onOutcome?: (outcome: CollectorOutcome) => void;
}

/** How long the other collectors wait at most for a start-first collector's command to start. */
const START_FIRST_WAIT_MS = 1000;

/**
 * Runs all `collectors` at once against `host`; outcomes come back in the given order. Those
 * marked `startFirst` are started first, and the others only once each of those has its command
 * running (or has finished, or the wait has passed its cap): the others' reading keeps Node's
 * thread busy in long stretches, and a command not yet spawned would wait for all of it.
 */
export async function runCollectors(
  collectors: readonly DeployInfoCollector[],
  host: Host,
  options: RunCollectorsOptions = {},
): Promise<CollectorOutcome[]> {
  const running: Promise<CollectorOutcome>[] = new Array(collectors.length);
  const start = (collector: DeployInfoCollector, onCommandStarted?: () => void) =>
    runCollector(collector, host, options, onCommandStarted).then((outcome) => {
      options.onOutcome?.(outcome);
      return outcome;
    });
  const underWay: Promise<unknown>[] = [];
  let timer: NodeJS.Timeout | undefined;
  const waitCap = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, options.startFirstWaitMs ?? START_FIRST_WAIT_MS);
  });
  collectors.forEach((collector, i) => {
    if (!collector.startFirst) return;
    let spawned!: () => void;
    const commandStarted = new Promise<void>((resolve) => (spawned = resolve));
    running[i] = start(collector, spawned);
    underWay.push(Promise.race([commandStarted, running[i], waitCap]));
  });
  await Promise.all(underWay);
  clearTimeout(timer);
  collectors.forEach((collector, i) => {
    if (!collector.startFirst) running[i] = start(collector);
  });
  return Promise.all(running);
}

/** Runs one collector under its timeout; never throws. */
export async function runCollector(
  collector: DeployInfoCollector,
  host: Host,
  options: RunCollectorsOptions = {},
  /** Called each time one of the collector's commands has started (its process exists). */
  onCommandStarted?: () => void,
): Promise<CollectorOutcome> {
  const now = options.now ?? monotonicMs;
  const timeoutMs = options.timeoutMs?.(collector) ?? collector.timeoutMs;
  const started = now();
  const stop = new AbortController();
  const forget = onInterrupt(() => stop.abort()); // kills the commands it is running
  const deadline = started + timeoutMs;
  // Every command the collector starts is tied to the collector's deadline and abort signal.
  const scoped: Host = {
    ...host,
    run: (file, args, runOptions: RunOptions = {}) => {
      const left = Math.max(1, Math.ceil(deadline - now()));
      const signal = runOptions.signal ? AbortSignal.any([runOptions.signal, stop.signal]) : stop.signal;
      const onSpawn = () => {
        runOptions.onSpawn?.();
        onCommandStarted?.();
      };
      return host.run(file, args, { ...runOptions, signal, onSpawn, timeoutMs: Math.min(runOptions.timeoutMs ?? left, left) });
    },
  };
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const produced = Promise.resolve()
    .then(() => collector.produce(scoped))
    .then(
      (output) => ({ ok: true as const, output }),
      (error: unknown) => ({ ok: false as const, error }),
    );
  try {
    const first = await Promise.race([produced, timedOut]);
    const runtimeSeconds = (now() - started) / 1000;
    if (first === 'timeout') {
      stop.abort();
      const seconds = timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`;
      return failed(collector, `collector "${collector.name}" timed out after ${seconds} and was stopped`, TIMEOUT_EXIT_STATUS, runtimeSeconds, true);
    }
    if (first.ok) return outcome(collector, first.output, runtimeSeconds, false);
    return failed(collector, `collector "${collector.name}" failed: ${oneLine(first.error)}`, 1, runtimeSeconds, false);
  } finally {
    clearTimeout(timer);
    forget();
    // A collector that failed part-way may have left commands it no longer waits for: its
    // outcome is final, so they go (a no-op for commands that have ended).
    stop.abort();
  }
}

function outcome(collector: DeployInfoCollector, output: DeployInfoOutput, runtimeSeconds: number, timedOut: boolean): CollectorOutcome {
  return { name: collector.name, scripts: collector.scripts, output, runtimeSeconds, timedOut };
}

function failed(collector: DeployInfoCollector, failure: string, exitCode: number, runtimeSeconds: number, timedOut: boolean): CollectorOutcome {
  return { ...outcome(collector, { stdout: '', stderr: `${failure}\n`, exitCode }, runtimeSeconds, timedOut), failure };
}
