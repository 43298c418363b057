// Producing a run's results: the built-in collectors answer the deploy-info scripts they stand in
// for (docs/design.md D6), any other script the server sent is run as MAAS's client runs it, and
// each outcome becomes a signal (docs/protocol.md §4.1) with the real exit status (docs/design.md
// D1).
import { resolve, sep } from 'node:path';
import type { Writable } from 'node:stream';
import type { DeployInfoCollector } from '../../collectors/types.js';
import type { Host } from '../host/host.js';
import { TIMEOUT_EXIT_STATUS } from '../host/run-command.js';
import type { ScriptIndexEntry, SignalFields, SignalFile } from '../maas/types.js';
import type { Progress } from './progress.js';
import type { CollectorOutcome } from './run-collectors.js';
import { formatDuration, runScript, scriptEnvironment, type RunPaths, type ScriptOutcome } from './run-script.js';
import { collectorFiles, resultFiles } from './signal-files.js';

/** The collectors a run may use, and how they are run (runCollectors, or a stand-in in tests). */
export interface CollectorSet {
  forScript(name: string): DeployInfoCollector | undefined;
  /** Runs them together (runCollectors' start-first order among them); `onOutcome` as each ends. */
  run(collectors: readonly DeployInfoCollector[], host: Host, onOutcome?: (outcome: CollectorOutcome) => void): Promise<CollectorOutcome[]>;
}

/** What producing results needs. */
export interface ProduceContext {
  host: Host;
  collectors: CollectorSet;
  progress: Progress;
  /** The run directory a script from the tarball runs in (made, with the tarball written out, on the first call). */
  runDirectory: () => RunPaths;
  /** `<scheme>://<host[:port]>` of the metadata URL, for the scripts' environment. */
  origin: string;
  /** Run exactly the scripts the server sends instead of the built-in collectors. */
  serverScripts: boolean;
  /** Only results a built-in collector answers; no server-sent script runs here (ReportOptions.outOfBand). */
  outOfBand: boolean;
  /** Where --debug echoes script output as it arrives. */
  echo?: { stdout: Writable; stderr: Writable };
}

/** A result ready to be sent: the signal's fields and files. */
export interface PendingSignal {
  fields: SignalFields;
  files: SignalFile[];
  /** Its index.json entry. */
  entry: ScriptIndexEntry;
  /** A built-in collector produced it (only those may be found unchanged). */
  builtIn: boolean;
}

/** Outcomes of collectors by collector name. */
export type CollectorOutcomes = Map<string, CollectorOutcome>;

/** Collectors under way: each one's outcome as soon as it ends, and all of them. */
export interface CollectorRuns {
  /** The outcome of the named collector, if it is one of these. */
  outcome(name: string): Promise<CollectorOutcome> | undefined;
  all: Promise<CollectorOutcomes>;
}

/**
 * Runs the collectors and scripts for `entries` and returns one pending signal per entry, in
 * order. `early`: collectors already started. `onReady`, when given, gets each signal as soon as
 * it and those before it are there, and is awaited before the next: report-results sends the
 * first results while lshw still runs. A script the server sent runs only once every collector
 * has ended, so it never shares the machine with them.
 */
export async function produce(
  entries: readonly ScriptIndexEntry[],
  context: ProduceContext,
  early: CollectorRuns | undefined,
  onReady: (signal: PendingSignal) => Promise<void> = async () => undefined,
): Promise<PendingSignal[]> {
  const builtIn = new Map<string, DeployInfoCollector>();
  if (!context.serverScripts) {
    for (const entry of entries) {
      const collector = context.collectors.forScript(entry.name);
      if (collector) builtIn.set(entry.name, collector);
    }
  }
  // Collectors started early cover the deploy-info names; any other is run now.
  const runs = early ?? startCollectors([...new Set(builtIn.values())], context);

  const pending: PendingSignal[] = [];
  const notHere: string[] = [];
  for (const entry of entries) {
    const collector = builtIn.get(entry.name);
    let signal: PendingSignal;
    if (collector) {
      const outcome = (await runs.outcome(collector.name)) ?? (await startCollectors([collector], context).all).get(collector.name)!;
      signal = { ...collectorSignal(entry, collector, outcome), entry, builtIn: true };
    } else if (context.outOfBand) {
      notHere.push(entry.name);
      continue;
    } else {
      await runs.all;
      signal = { ...(await scriptSignal(entry, context)), entry, builtIn: false };
    }
    pending.push(signal);
    await onReady(signal);
  }
  await runs.all;
  if (notHere.length > 0) context.progress.info(`not run, as they would describe this host rather than the machine: ${notHere.join(', ')}`);
  return pending;
}

/**
 * Starts `collectors` all at once, in one set, so that those which start a long command first
 * (lshw) have it running before the others take Node's thread (runCollectors); shows each as
 * soon as it is done.
 */
export function startCollectors(collectors: readonly DeployInfoCollector[], context: Pick<ProduceContext, 'collectors' | 'host' | 'progress'>): CollectorRuns {
  const outcomes: CollectorOutcomes = new Map();
  type Ending = { promise: Promise<CollectorOutcome>; resolve: (outcome: CollectorOutcome) => void; reject: (error: unknown) => void };
  const endings = new Map<string, Ending>();
  for (const collector of collectors) {
    const ending = {} as Ending;
    ending.promise = new Promise<CollectorOutcome>((resolve, reject) => Object.assign(ending, { resolve, reject }));
    ending.promise.catch(() => undefined); // a set that fails is reported through `all`
    endings.set(collector.name, ending);
  }
  const show = (outcome: CollectorOutcome) => {
    if (outcomes.has(outcome.name)) return;
    outcomes.set(outcome.name, outcome);
    context.progress.ran({
      name: outcome.name,
      exitStatus: outcome.timedOut ? TIMEOUT_EXIT_STATUS : outcome.output.exitCode,
      timedOut: outcome.timedOut,
      runtimeSeconds: outcome.runtimeSeconds,
      builtIn: true,
    });
    endings.get(outcome.name)?.resolve(outcome);
  };
  const all = (async () => {
    if (collectors.length === 0) return outcomes;
    context.progress.info(`running ${collectors.length} built-in collector(s)`);
    // A set that does not call back as each ends has its outcomes shown at the end.
    for (const outcome of await context.collectors.run(collectors, context.host, show)) show(outcome);
    for (const [name, { reject }] of endings) if (!outcomes.has(name)) reject(new Error(`collector "${name}" gave no outcome`));
    return outcomes;
  })();
  all.catch((error: unknown) => {
    for (const { reject } of endings.values()) reject(error);
  });
  return { outcome: (name) => endings.get(name)?.promise, all };
}

/** The distinct built-in collectors answering `names`. */
export function builtInsFor(names: readonly string[], collectors: Pick<CollectorSet, 'forScript'>): DeployInfoCollector[] {
  return [...new Set(names.map((n) => collectors.forScript(n)).filter((c): c is DeployInfoCollector => c !== undefined))];
}

/** Runs a script the server sent (docs/design.md D1: real exit code, WORKING or TIMEDOUT) and makes its signal. */
async function scriptSignal(entry: ScriptIndexEntry, context: ProduceContext): Promise<Omit<PendingSignal, 'entry' | 'builtIn'>> {
  const { progress } = context;
  const paths = context.runDirectory();
  const file = resolve(paths.scripts, entry.path ?? '');
  if (!file.startsWith(`${paths.scripts}${sep}`)) {
    // Like a tar member that leaves the directory: never executed.
    const error = `Failed to execute ${entry.name}: 126 (its path ${JSON.stringify(entry.path ?? '')} is not inside the scripts directory)`;
    progress.ran({ name: entry.name, exitStatus: 126, timedOut: false, runtimeSeconds: 0, error, builtIn: false });
    return { fields: signalFields(entry, 126, false, 0, error), files: resultFiles(entry.name, { stdout: '', stderr: `${error}\n`, combined: '' }) };
  }
  const outcome: ScriptOutcome = await runScript({
    name: entry.name,
    file,
    timeoutSeconds: entry.timeout_seconds,
    env: scriptEnvironment({ paths, name: entry.name, baseUrl: context.origin, hasStarted: entry.has_started === true, timeoutSeconds: entry.timeout_seconds }),
    outDir: paths.out,
    ...(context.echo ? { echo: context.echo } : {}),
  });
  progress.ran({ ...outcome, builtIn: false });
  return {
    fields: signalFields(entry, outcome.exitStatus, outcome.timedOut, outcome.runtimeSeconds, outcome.error),
    files: resultFiles(entry.name, { stdout: outcome.stdout, stderr: outcome.stderr, combined: outcome.combined, result: outcome.result }),
  };
}

/** The signal for a deploy-info script a built-in collector answered. */
function collectorSignal(entry: ScriptIndexEntry, collector: DeployInfoCollector, outcome: CollectorOutcome): Omit<PendingSignal, 'entry' | 'builtIn'> {
  const exitStatus = outcome.timedOut ? TIMEOUT_EXIT_STATUS : outcome.output.exitCode;
  const error = outcome.timedOut
    ? `Timeout(${formatDuration(collector.timeoutMs / 1000)}) expired on ${entry.name}`
    : exitStatus !== 0
      ? `Failed to execute ${entry.name}: ${exitStatus}`
      : undefined;
  return { fields: signalFields(entry, exitStatus, outcome.timedOut, outcome.runtimeSeconds, error), files: collectorFiles(entry.name, outcome.output) };
}

function signalFields(entry: ScriptIndexEntry, exitStatus: number, timedOut: boolean, runtime: number, error: string | undefined): SignalFields {
  // In the order of docs/protocol.md §4.1 (status, error, script_result_id, runtime, exit_status,
  // name, script_version_id), for readers of the spool.
  return {
    status: timedOut ? 'TIMEDOUT' : 'WORKING',
    ...(error !== undefined ? { error } : {}),
    ...(typeof entry.script_result_id === 'number' ? { script_result_id: entry.script_result_id } : {}),
    runtime,
    exit_status: exitStatus,
    name: entry.name,
    ...(typeof entry.script_version_id === 'number' ? { script_version_id: entry.script_version_id } : {}),
  };
}
