// report-results' orchestration: deliver what earlier runs spooled, fetch the machine's scripts
// (for ids, names and timeouts), answer the six deploy-info scripts with the built-in
// collectors (docs/design.md D6) and run any other script the server sent, then send one signal
// per result (docs/protocol.md §5.7).
// Every result is spooled before it is sent, so nothing is lost when MAAS cannot take it.
// Change-only sync: a built-in result whose hardware data MAAS already holds is not sent again
// (sync-state.ts decides); --force sends everything.
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import type { Writable } from 'node:stream';
import type { DeployInfoCollector } from '../../collectors/types.js';
import { CliError, MaasApiError, ParseError } from '../errors.js';
import type { Host } from '../host/host.js';
import { fsReason } from '../maas/credentials.js';
import type { Credentials, ScriptIndex, ScriptIndexEntry, SignalFields, SignalFile } from '../maas/types.js';
import { DEPLOY_INFO_SCRIPTS } from '../resources/types.js';
import type { Progress, ResultSummary, RunSummary } from './progress.js';
import type { CollectorOutcome } from './run-collectors.js';
import { formatDuration, runPaths, runScript, scriptEnvironment, TIMEOUT_EXIT_STATUS, type RunPaths, type ScriptOutcome } from './run-script.js';
import { onInterrupt } from '../host/interrupt.js';
import { openMachineState, type MachineState, type SpooledSignal } from './spool.js';
import { changeVerdict, DEFAULT_MAX_AGE_MS, openSyncState, type SyncState } from './sync-state.js';
import { extractTar } from './tar.js';

/** The two calls of the metadata API a run makes (MaasClient provides them). */
export interface ReportClient {
  /** The maas-scripts tarball, or null when the server has none for this machine (204). */
  downloadScripts(): Promise<Uint8Array | null>;
  /** Sends one result; resolves only when MAAS answered 200. */
  signal(fields: SignalFields, files: SignalFile[]): Promise<void>;
}

export interface ReportOptions {
  /** Any URL of the MAAS (a creds endpoint will do): its scheme and host[:port] are used. */
  metadataUrl: string;
  credentials: Credentials;
  stateDir: string;
  /** Run exactly the scripts the server sends instead of the built-in collectors (docs/design.md D6). */
  serverScripts: boolean;
  /** Send every result, even those MAAS already holds unchanged. */
  force?: boolean;
  /** Send an unchanged result again once its last delivery is this old (default 24 h). */
  maxAgeMs?: number;
  /** Echo script output as it arrives. */
  debug: boolean;
  /** Names the machine's state (see machineKey); by default derived from metadataUrl and the token. */
  machineKey?: string;
  /**
   * The hardware is read from elsewhere (a BMC), not from this host: only the results a built-in
   * collector answers are sent, and no script the server sent is run here, as it would describe
   * this host instead.
   */
  outOfBand?: boolean;
}

export interface ReportDeps {
  client: ReportClient;
  /** The host the built-in collectors read (a fixture tree in tests). */
  host: Host;
  collectors: {
    forScript(name: string): DeployInfoCollector | undefined;
    run(collectors: readonly DeployInfoCollector[], host: Host): Promise<CollectorOutcome[]>;
  };
  progress: Progress;
  /** Where --debug echoes script output. */
  echo?: { stdout: Writable; stderr: Writable };
}

/** The outcome of a run: the --json summary; `ok` false means exit 1 (the problems say why). */
export type ReportResult = RunSummary;

/** A result ready to be sent: the signal's fields and files. */
interface PendingSignal {
  fields: SignalFields;
  files: SignalFile[];
  /** Its index.json entry. */
  entry: ScriptIndexEntry;
  /** A built-in collector produced it (only those may be found unchanged). */
  builtIn: boolean;
}

/** Why delivery stopped for this run, if it did. */
type Halt = { kind: 'unreachable' | 'auth'; message: string } | undefined;

/** Runs report-results end to end; see the file comment. Throws only for problems that stop it before any result exists. */
export async function reportResults(options: ReportOptions, deps: ReportDeps): Promise<ReportResult> {
  const origin = new URL(options.metadataUrl).origin;
  const summary: RunSummary = {
    ok: true,
    metadata_url: `${origin}/MAAS/metadata/2012-03-01/`,
    delivered: 0,
    unchanged: 0,
    spooled: 0,
    rejected: 0,
    state_dir: options.stateDir,
    results: [],
    problems: [],
  };
  const state = await openMachineState(options.stateDir, options.machineKey ?? machineKey(options.metadataUrl, options.credentials));
  let sync: SyncState | undefined;
  const base = await mkdtemp(join(tmpdir(), 'maas-run-scripts-')).catch(async (error: unknown) => {
    await state.close();
    throw new CliError(`cannot create a temporary directory in ${tmpdir()}: ${fsReason(error)}; set TMPDIR to a writable directory`, { cause: error });
  });
  const forgetBase = onInterrupt(() => rmSync(base, { recursive: true, force: true }));
  try {
    sync = await openSyncState(state.dir);
    const deliver = deliverer(deps, state, sync, summary);

    const paths = runPaths(base);
    await Promise.all([mkdir(paths.scripts), mkdir(paths.out), mkdir(paths.downloads), writeFile(paths.resourcesFile, '')]);

    // 1. What earlier runs could not deliver goes first. A send that may have reached MAAS
    //    (its answer was lost, or the run died before forgetting it) is checked against what
    //    MAAS holds, which the scripts tarball carries, so it is not stored twice.
    const { signals: spooled, damaged } = await state.spool.list();
    for (const path of damaged) problem(summary, deps.progress, `an unreadable spool file was moved aside: ${path}`);
    let scripts: LoadedScripts | undefined;
    const unsure = spooled.filter((s) => s.inFlight);
    if (unsure.length > 0) {
      scripts = await loadScripts(deps, state, summary, deliver, paths);
      for (const signal of scripts.fresh ? unsure : []) {
        if (await alreadyStored(signal, paths)) await deliver.confirm(signal);
      }
    }
    const left = spooled.filter((s) => !deliver.confirmed(s));
    if (left.length > 0) deps.progress.info(`delivering ${left.length} result(s) left from earlier runs`);
    for (const signal of left) await deliver(signal, true);

    // 2. The machine's scripts, from MAAS or (when it cannot be reached) from the last run's copy.
    //    The built-in collectors need nothing from them but the names, which are known: they
    //    start now, while the tarball downloads.
    const early = options.serverScripts ? undefined : startCollectors(builtInsFor(DEPLOY_INFO_SCRIPTS, deps), deps);
    early?.catch(() => undefined); // awaited below; never left unhandled if loading stops the run
    scripts ??= await loadScripts(deps, state, summary, deliver, paths);
    if (scripts.stop) {
      await early;
      return finish(summary, deps, deliver.halted());
    }
    const entries = scripts.extracted
      ? await readIndex(join(paths.scripts, 'index.json'))
      : // Never reached MAAS for this machine: the six deploy-info results are stored by name.
        DEPLOY_INFO_SCRIPTS.map((name): ScriptIndexEntry => ({ name, default: true, tags: ['deploy-info'], path: `commissioning/${name}` }));

    // 3. Run everything, then send one signal per result in the index's order, except the
    //    built-in results MAAS already holds unchanged. That needs the index of this run, fresh
    //    from MAAS, and nothing of the same script still waiting in the spool.
    const pending = await produce(entries, options, deps, paths, origin, early);
    const changeOnly = !options.force && !options.serverScripts && scripts.fresh && !deliver.halted();
    const waiting = changeOnly ? new Set((await state.spool.list()).signals.map((s) => s.fields.name)) : new Set<string>();
    for (const signal of pending) {
      const { name } = signal.fields;
      if (changeOnly && signal.builtIn) {
        const verdict = waiting.has(name) ? 'an older result is still spooled' : await changeVerdict(signal, signal.entry, sync.get(name), paths.scripts, {
                now: Date.now(),
                maxAgeMs: options.maxAgeMs ?? DEFAULT_MAX_AGE_MS,
              });
        if (verdict === 'unchanged') {
          deliver.unchanged(signal);
          continue;
        }
        if (options.debug) deps.progress.info(`${name}: sending (${verdict})`);
      }
      const stored = await state.spool.put(signal.fields, signal.files);
      await deliver(stored, false);
    }
    return finish(summary, deps, deliver.halted());
  } finally {
    await rm(base, { recursive: true, force: true });
    forgetBase();
    // Losing the records only makes the next run send everything again.
    await sync?.save().catch((error: unknown) => deps.progress.warn(`cannot remember what was delivered in ${state.dir}: ${oneLine(error)}`));
    await state.close();
  }
}

/** Sends spooled signals one by one; after MAAS proved unreachable (or refused the credentials) it only keeps them spooled. */
function deliverer(deps: ReportDeps, state: MachineState, sync: SyncState, summary: RunSummary) {
  let halt: Halt;
  const confirmedPaths = new Set<string>();
  const lineOf = (signal: SpooledSignal, fromSpool: boolean): ResultSummary => {
    const line: ResultSummary = {
      name: signal.fields.name,
      status: signal.fields.status,
      exit_status: signal.fields.exit_status,
      runtime: signal.fields.runtime,
      bytes: signal.files.reduce((sum, f) => sum + Buffer.byteLength(f.content), 0),
      delivery: 'spooled',
      from_spool: fromSpool,
    };
    if (signal.fields.error) line.error = signal.fields.error;
    return line;
  };
  const record = (line: ResultSummary) => {
    summary.results.push(line);
    if (line.delivery === 'delivered') summary.delivered += 1;
    else if (line.delivery === 'unchanged') summary.unchanged += 1;
    else if (line.delivery === 'spooled') summary.spooled += 1;
    else {
      summary.rejected += 1;
      summary.problems.push(`MAAS rejected the result of ${line.name}: ${line.error}`);
    }
    deps.progress.delivered(line);
  };
  const send = async (signal: SpooledSignal, fromSpool: boolean): Promise<void> => {
    const line = lineOf(signal, fromSpool);
    if (!halt) {
      try {
        await state.spool.markInFlight(signal);
        await deps.client.signal(signal.fields, signal.files);
        line.delivery = 'delivered';
        sync.delivered(signal.fields, signal.files, Date.now());
        await state.spool.remove(signal);
      } catch (error) {
        const kind = classify(error);
        if (kind === 'rejected') {
          // MAAS will never take this one: say so and drop it rather than retry forever.
          line.delivery = 'rejected';
          line.error = oneLine(error);
          sync.forget(signal.fields.name);
          await state.spool.remove(signal);
        } else {
          halt = { kind, message: oneLine(error) };
        }
      }
    }
    record(line);
  };
  return Object.assign(send, {
    /** Records a spooled result MAAS is known to hold already, and forgets it without sending. */
    confirm: async (signal: SpooledSignal) => {
      await state.spool.remove(signal);
      sync.delivered(signal.fields, signal.files, Date.now());
      confirmedPaths.add(signal.path);
      record({ ...lineOf(signal, true), delivery: 'delivered', note: 'already stored by MAAS; not sent again' });
    },
    confirmed: (signal: SpooledSignal) => confirmedPaths.has(signal.path),
    /** Records a result that is not sent: MAAS holds the same hardware data already. */
    unchanged: (signal: PendingSignal) => {
      record({
        name: signal.fields.name,
        status: signal.fields.status,
        exit_status: signal.fields.exit_status,
        runtime: signal.fields.runtime,
        bytes: 0,
        delivery: 'unchanged',
        from_spool: false,
        note: 'same hardware data as the result MAAS holds; not sent',
      });
    },
    halted: () => halt,
    halt: (reason: NonNullable<Halt>) => {
      halt ??= reason;
    },
  });
}

/** 'rejected' for an answer that will not change on a retry (4xx other than auth and "later" codes). */
function classify(error: unknown): 'rejected' | 'unreachable' | 'auth' {
  if (error instanceof MaasApiError) {
    if (error.status === 401 || error.status === 403) return 'auth';
    return error.retryable ? 'unreachable' : 'rejected';
  }
  return 'unreachable';
}

/** What loadScripts left in the run's scripts directory. */
interface LoadedScripts {
  /** Nothing to run: the reason is in the summary. */
  stop: boolean;
  /** A tarball (fresh or cached) was extracted. */
  extracted: boolean;
  /** It came from MAAS during this run. */
  fresh: boolean;
}

/** Downloads the maas-scripts tarball (or takes the last run's copy when MAAS cannot be reached) and extracts it. */
async function loadScripts(
  deps: ReportDeps,
  state: MachineState,
  summary: RunSummary,
  deliver: ReturnType<typeof deliverer>,
  paths: RunPaths,
): Promise<LoadedScripts> {
  let tar: Uint8Array | null | undefined;
  let fresh = false;
  if (!deliver.halted()) {
    deps.progress.info(`fetching scripts from ${summary.metadata_url}`);
    try {
      tar = await deps.client.downloadScripts();
      fresh = tar !== null;
    } catch (error) {
      if (classify(error) === 'auth') {
        problem(summary, deps.progress, `${oneLine(error)}; the machine credentials are wrong or were regenerated: fetch them again with get-machine-token`);
        return { stop: true, extracted: false, fresh };
      }
      if (classify(error) === 'rejected') {
        problem(summary, deps.progress, oneLine(error));
        return { stop: true, extracted: false, fresh };
      }
      deliver.halt({ kind: 'unreachable', message: oneLine(error) });
      deps.progress.warn(`${oneLine(error)}; running with the scripts of the last run and spooling the results`);
    }
    if (tar === null) {
      problem(summary, deps.progress, 'No script returned: MAAS has no scripts for this machine (HTTP 204); is it Deployed with hardware sync?');
      return { stop: true, extracted: false, fresh };
    }
  }
  tar ??= await state.loadScripts();
  if (!tar) return { stop: false, extracted: false, fresh };
  const { skipped } = await extractTar(tar, paths.scripts);
  for (const member of skipped) deps.progress.warn(`tarball member ${member.name} skipped: ${member.reason}`);
  // Kept for runs that cannot reach MAAS, once it is known to extract.
  if (fresh) await state.saveScripts(tar);
  return { stop: false, extracted: true, fresh };
}

/**
 * Whether MAAS already holds exactly this result: the tarball carries each started result's stored
 * files as out/<name>.<result id>[.out|.err|.yaml] (docs/protocol.md §5.3), and they all match.
 */
async function alreadyStored(signal: SpooledSignal, paths: RunPaths): Promise<boolean> {
  const { name, script_result_id: id } = signal.fields;
  if (id === undefined || signal.files.length === 0) return false;
  for (const file of signal.files) {
    const suffix = file.name === name ? '' : file.name.slice(name.length);
    if (!file.name.startsWith(name) || !['', '.out', '.err', '.yaml'].includes(suffix)) return false;
    const stored = await readFile(join(paths.scripts, 'out', `${name}.${id}${suffix}`)).catch(() => undefined);
    if (!stored || !stored.equals(Buffer.from(file.content))) return false;
  }
  return true;
}

/**
 * The `commissioning_scripts` entries to run: those tagged deploy-info. Upstream also requires
 * `default: true`, which only MAAS's built-in scripts have, so it never runs a script a user
 * added; we run custom deploy-info scripts too (docs/design.md D6).
 */
export async function readIndex(path: string): Promise<ScriptIndexEntry[]> {
  let index: ScriptIndex;
  try {
    index = JSON.parse(await readFile(path, 'utf8')) as ScriptIndex;
  } catch (error) {
    throw new ParseError('index.json of the maas-scripts tarball', (error as Error).message.split('\n')[0]!);
  }
  const list = index?.['1.0']?.commissioning_scripts;
  if (!Array.isArray(list)) throw new ParseError('index.json of the maas-scripts tarball', 'no "1.0" → "commissioning_scripts" list');
  return list.filter((e) => e && typeof e.name === 'string' && Array.isArray(e.tags) && e.tags.includes('deploy-info'));
}

/** Runs the collectors and scripts for `entries`; returns one pending signal per entry, in order. */
async function produce(
  entries: ScriptIndexEntry[],
  options: ReportOptions,
  deps: ReportDeps,
  paths: RunPaths,
  origin: string,
  early: Promise<Map<string, CollectorOutcome>> | undefined,
): Promise<PendingSignal[]> {
  const builtIn = new Map<string, DeployInfoCollector>();
  if (!options.serverScripts) {
    for (const entry of entries) {
      const collector = deps.collectors.forScript(entry.name);
      if (collector) builtIn.set(entry.name, collector);
    }
  }
  // Collectors started early cover the deploy-info names; any other is run now.
  const outcomes = await (early ?? startCollectors([...new Set(builtIn.values())], deps));

  const pending: PendingSignal[] = [];
  const notHere: string[] = [];
  for (const entry of entries) {
    const collector = builtIn.get(entry.name);
    if (collector) {
      const outcome = outcomes.get(collector.name) ?? (await startCollectors([collector], deps)).get(collector.name)!;
      pending.push({ ...collectorSignal(entry, collector, outcome), entry, builtIn: true });
      continue;
    }
    if (options.outOfBand) {
      notHere.push(entry.name);
      continue;
    }
    const file = resolve(paths.scripts, entry.path ?? '');
    if (!file.startsWith(`${paths.scripts}${sep}`)) {
      // Like a tar member that leaves the directory: never executed.
      const error = `Failed to execute ${entry.name}: 126 (its path ${JSON.stringify(entry.path ?? '')} is not inside the scripts directory)`;
      deps.progress.ran({ name: entry.name, exitStatus: 126, timedOut: false, runtimeSeconds: 0, error, builtIn: false });
      pending.push({
        fields: signalFields(entry, 126, false, 0, error),
        files: [`${entry.name}.out`, `${entry.name}.err`, entry.name].map((name) => ({ name, content: name.endsWith('.err') ? `${error}\n` : '' })),
        entry,
        builtIn: false,
      });
      continue;
    }
    const outcome = await runScript({
      name: entry.name,
      file,
      timeoutSeconds: entry.timeout_seconds,
      env: scriptEnvironment({ paths, name: entry.name, baseUrl: origin, hasStarted: entry.has_started === true, timeoutSeconds: entry.timeout_seconds }),
      outDir: paths.out,
      ...(options.debug && deps.echo ? { echo: deps.echo } : {}),
    });
    deps.progress.ran({ ...outcome, builtIn: false });
    pending.push({ ...scriptSignal(entry, outcome), entry, builtIn: false });
  }
  if (notHere.length > 0) deps.progress.info(`not run, as they would describe this host rather than the machine: ${notHere.join(', ')}`);
  return pending;
}

/** Runs `collectors` all at once, showing each as soon as it is done; outcomes by collector name. */
async function startCollectors(collectors: readonly DeployInfoCollector[], deps: ReportDeps): Promise<Map<string, CollectorOutcome>> {
  const outcomes = new Map<string, CollectorOutcome>();
  if (collectors.length === 0) return outcomes;
  deps.progress.info(`running ${collectors.length} built-in collector(s)`);
  await Promise.all(
    collectors.map(async (collector) => {
      for (const outcome of await deps.collectors.run([collector], deps.host)) {
        outcomes.set(outcome.name, outcome);
        deps.progress.ran({
          name: outcome.name,
          exitStatus: outcome.timedOut ? TIMEOUT_EXIT_STATUS : outcome.output.exitCode,
          timedOut: outcome.timedOut,
          runtimeSeconds: outcome.runtimeSeconds,
          builtIn: true,
        });
      }
    }),
  );
  return outcomes;
}

/** The distinct built-in collectors answering `names`. */
function builtInsFor(names: readonly string[], deps: ReportDeps): DeployInfoCollector[] {
  return [...new Set(names.map((n) => deps.collectors.forScript(n)).filter((c): c is DeployInfoCollector => c !== undefined))];
}

/** The signal for a script the server sent and we ran (docs/design.md D1: real exit code, WORKING or TIMEDOUT). */
function scriptSignal(entry: ScriptIndexEntry, outcome: ScriptOutcome): Omit<PendingSignal, 'entry' | 'builtIn'> {
  const files: SignalFile[] = [
    { name: `${entry.name}.out`, content: outcome.stdout },
    { name: `${entry.name}.err`, content: outcome.stderr },
    { name: entry.name, content: outcome.combined },
  ];
  if (outcome.result) files.push({ name: `${entry.name}.yaml`, content: outcome.result });
  return { fields: signalFields(entry, outcome.exitStatus, outcome.timedOut, outcome.runtimeSeconds, outcome.error), files };
}

/** The signal for a deploy-info script a built-in collector answered. */
function collectorSignal(entry: ScriptIndexEntry, collector: DeployInfoCollector, outcome: CollectorOutcome): Omit<PendingSignal, 'entry' | 'builtIn'> {
  const { stdout, stderr } = outcome.output;
  const exitStatus = outcome.timedOut ? TIMEOUT_EXIT_STATUS : outcome.output.exitCode;
  const error = outcome.timedOut
    ? `Timeout(${formatDuration(collector.timeoutMs / 1000)}) expired on ${entry.name}`
    : exitStatus !== 0
      ? `Failed to execute ${entry.name}: ${exitStatus}`
      : undefined;
  const files: SignalFile[] = [
    { name: `${entry.name}.out`, content: stdout },
    { name: `${entry.name}.err`, content: stderr },
    // A collector has no interleaving to keep: its output, then its notes.
    { name: entry.name, content: stdout + stderr },
  ];
  return { fields: signalFields(entry, exitStatus, outcome.timedOut, outcome.runtimeSeconds, error), files };
}

function signalFields(entry: ScriptIndexEntry, exitStatus: number, timedOut: boolean, runtime: number, error: string | undefined): SignalFields {
  const fields: SignalFields = { status: timedOut ? 'TIMEDOUT' : 'WORKING', runtime, exit_status: exitStatus, name: entry.name };
  if (error !== undefined) fields.error = error;
  if (typeof entry.script_result_id === 'number') fields.script_result_id = entry.script_result_id;
  if (typeof entry.script_version_id === 'number') fields.script_version_id = entry.script_version_id;
  // Keep the order of docs/protocol.md §4.1 (status, error, script_result_id, runtime, exit_status,
  // name, script_version_id) for readers of the spool.
  return {
    status: fields.status,
    ...(fields.error !== undefined ? { error: fields.error } : {}),
    ...(fields.script_result_id !== undefined ? { script_result_id: fields.script_result_id } : {}),
    runtime: fields.runtime,
    exit_status: fields.exit_status,
    name: fields.name,
    ...(fields.script_version_id !== undefined ? { script_version_id: fields.script_version_id } : {}),
  };
}

function finish(summary: RunSummary, deps: ReportDeps, halt: Halt): RunSummary {
  if (halt?.kind === 'unreachable') {
    summary.problems.unshift(`${halt.message}; ${summary.spooled} result(s) are kept in ${summary.state_dir} and will be delivered by the next run`);
  } else if (halt?.kind === 'auth') {
    summary.problems.unshift(
      `${halt.message}; the machine credentials are wrong or were regenerated: fetch them again with get-machine-token (${summary.spooled} result(s) kept in ${summary.state_dir})`,
    );
  }
  summary.ok = summary.problems.length === 0 && summary.spooled === 0;
  deps.progress.finish(summary);
  return summary;
}

function problem(summary: RunSummary, progress: Progress, message: string): void {
  summary.problems.push(message);
  progress.warn(message);
}

/**
 * Names a machine's state directory: the system id from a creds endpoint
 * (…/metadata/status/<id>), so reaching MAAS through another address (a rack, a proxy) finds the
 * same spool; else a digest of the token key (never the key itself).
 */
export function machineKey(metadataUrl: string, credentials: Credentials): string {
  const systemId = /\/metadata\/status\/([^/]+)\/?$/.exec(new URL(metadataUrl).pathname)?.[1];
  if (systemId) return `machine-${decodeURIComponent(systemId)}`;
  return `token-${createHash('sha256').update(credentials.tokenKey).digest('hex').slice(0, 16)}`;
}

function oneLine(error: unknown): string {
  if (error instanceof CliError) return error.message.split('\n')[0]!;
  return error instanceof Error ? error.message.split('\n')[0]! : String(error);
}
