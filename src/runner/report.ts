// report-results' orchestration: deliver what earlier runs spooled, fetch the machine's scripts
// (for ids, names and timeouts), answer the six deploy-info scripts with the built-in
// collectors (docs/design.md D6) and run any other script the server sent, then send one signal
// per result (docs/protocol.md §5.7).
// Every result is spooled before it is sent, so nothing is lost when MAAS cannot take it.
// Change-only sync: a built-in result whose hardware data MAAS already holds is not sent again
// (sync-state.ts decides); --force sends everything.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { CliError, oneLine } from '../errors.js';
import { fsReason } from '../files.js';
import type { Host } from '../host/host.js';
import { onInterrupt } from '../host/interrupt.js';
import type { Credentials, ScriptIndexEntry, SignalFields, SignalFile } from '../maas/types.js';
import { DEPLOY_INFO_SCRIPTS } from '../resources/types.js';
import { Deliverer, type Halt } from './delivery.js';
import { builtInsFor, produce, startCollectors, type CollectorSet, type PendingSignal, type ProduceContext } from './produce.js';
import type { Progress, RunSummary } from './progress.js';
import { runPaths, type RunPaths } from './run-script.js';
import { alreadyStored, loadScripts, readIndex, type LoadedScripts, type ScriptsTarball } from './scripts.js';
import type { ScriptFiles } from './signal-files.js';
import { recordRun } from './run-record.js';
import { openMachineState, type MachineState } from './spool.js';
import { changeVerdict, DEFAULT_MAX_AGE_MS, openSyncState, type SyncState } from './sync-state.js';
import { changeSummary, hardwareChanges, parseResources } from './hardware-diff.js';
import { heldReport, RESOURCES_SCRIPTS } from './held-report.js';

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
  collectors: CollectorSet;
  progress: Progress;
  /** Where --debug echoes script output. */
  echo?: { stdout: Writable; stderr: Writable };
}

/** The outcome of a run: the --json summary; `ok` false means exit 1 (the problems say why). */
export type ReportResult = RunSummary;

/** One run in progress: what every step works with. */
interface Run {
  options: ReportOptions;
  deps: ReportDeps;
  summary: RunSummary;
  state: MachineState;
  sync: SyncState;
  delivery: Deliverer;
  /** The machine's scripts tarball, once loaded. */
  tarball?: ScriptsTarball;
  produce: ProduceContext;
}

/** Runs report-results end to end; see the file comment. Throws only for problems that stop it before any result exists. */
export async function reportResults(options: ReportOptions, deps: ReportDeps): Promise<ReportResult> {
  const origin = new URL(options.metadataUrl).origin;
  const summary = emptySummary(origin, options.stateDir);
  const state = await openMachineState(options.stateDir, options.machineKey ?? machineKey(options.metadataUrl, options.credentials));
  let sync: SyncState | undefined;
  let run: Run | undefined;
  const runDirectory = new RunDirectory(() => run?.tarball);
  const startedAt = new Date();
  let ended: { summary: RunSummary } | { error: unknown } = { error: new Error('the run was interrupted') };
  try {
    sync = await openSyncState(state.dir);
    const current: Run = {
      options,
      deps,
      summary,
      state,
      sync,
      delivery: new Deliverer({ client: deps.client, state, sync, progress: deps.progress }, summary),
      produce: {
        host: deps.host,
        collectors: deps.collectors,
        progress: deps.progress,
        runDirectory: () => runDirectory.paths(),
        origin,
        serverScripts: options.serverScripts,
        outOfBand: Boolean(options.outOfBand),
        ...(options.debug && deps.echo ? { echo: deps.echo } : {}),
      },
    };
    run = current;
    const done = await steps(current);
    ended = { summary: done };
    return done;
  } catch (error) {
    ended = { error };
    throw error;
  } finally {
    runDirectory.remove();
    // Losing the records only makes the next run send everything again.
    await sync?.save().catch((error: unknown) => deps.progress.warn(`cannot remember what was delivered in ${state.dir}: ${oneLine(error)}`));
    // What sync-status shows; losing it loses nothing else.
    await recordRun(state.dir, startedAt, ended).catch((error: unknown) => deps.progress.warn(`cannot record this run in ${state.dir}: ${oneLine(error)}`));
    await state.close();
  }
}

/**
 * The run's temporary directory, where the scripts of the tarball are written out and run
 * (docs/protocol.md §5.5). It is made only when a script from the tarball has to run: the
 * built-in collectors need no file on disk. Made and removed with synchronous calls, like the
 * state directory's files (docs/design.md D23).
 */
class RunDirectory {
  private made: { paths: RunPaths; forget: () => void } | undefined;

  constructor(private readonly tarball: () => ScriptsTarball | undefined) {}

  /** The directory's paths, making it (with the tarball written into it) the first time. */
  paths(): RunPaths {
    if (this.made) return this.made.paths;
    let base: string;
    try {
      base = mkdtempSync(join(tmpdir(), 'maas-run-scripts-'));
    } catch (error) {
      throw new CliError(`cannot create a temporary directory in ${tmpdir()}: ${fsReason(error)}; set TMPDIR to a writable directory`, { cause: error });
    }
    const forget = onInterrupt(() => rmSync(base, { recursive: true, force: true }));
    const paths = runPaths(base);
    this.made = { paths, forget };
    for (const dir of [paths.scripts, paths.out, paths.downloads]) mkdirSync(dir);
    writeFileSync(paths.resourcesFile, '');
    this.tarball()?.writeTo(paths.scripts);
    return paths;
  }

  /** Removes the directory, if it was made. */
  remove(): void {
    if (!this.made) return;
    rmSync(this.made.paths.base, { recursive: true, force: true });
    this.made.forget();
    this.made = undefined;
  }
}

/** The steps of a run, once its state is open. */
async function steps(run: Run): Promise<RunSummary> {
  // 1. What earlier runs could not deliver goes first.
  let scripts = await deliverLeftovers(run);

  // 2. The machine's scripts, from MAAS or (when it cannot be reached) from the last run's copy.
  //    The built-in collectors need nothing from them but the names, which are known: they
  //    start now, while the tarball downloads.
  const early = run.options.serverScripts ? undefined : startCollectors(builtInsFor(DEPLOY_INFO_SCRIPTS, run.deps.collectors), run.produce);
  early?.all.catch(() => undefined); // awaited below; never left unhandled if loading stops the run
  scripts ??= await load(run);
  if (scripts.stop) {
    await early?.all;
    return finish(run);
  }
  const entries = scripts.tarball
    ? readIndex(scripts.tarball, (line) => run.deps.progress.warn(line))
    : // Never reached MAAS for this machine: the six deploy-info results are stored by name.
      DEPLOY_INFO_SCRIPTS.map((name): ScriptIndexEntry => ({ name, default: true, tags: ['deploy-info'], path: `commissioning/${name}` }));

  // 3. Send one signal per result, in the index's order, each as soon as it and those before it
  //    are there (the first go while lshw still runs); before the machine-resources result,
  //    say what changed since the report MAAS holds.
  const say = scripts.tarball ? changeTeller(run, scripts.tarball, entries) : undefined;
  const send = resultSender(run, scripts.fresh);
  await produce(entries, run.produce, early, async (signal) => {
    say?.(signal);
    await send(signal);
  });
  return finish(run);
}

function emptySummary(origin: string, stateDir: string): RunSummary {
  return { ok: true, metadata_url: `${origin}/MAAS/metadata/2012-03-01/`, delivered: 0, unchanged: 0, spooled: 0, rejected: 0, state_dir: stateDir, results: [], problems: [] };
}

/**
 * Sends what earlier runs left in the spool. A send that may have reached MAAS (its answer was
 * lost, or the run died before forgetting it) is first checked against what MAAS holds, which the
 * scripts tarball carries, so it is not stored twice; the scripts loaded for that are returned.
 */
async function deliverLeftovers(run: Run): Promise<LoadedScripts | undefined> {
  const { state, delivery, deps } = run;
  const { signals: spooled, damaged } = await state.spool.list();
  for (const path of damaged) problem(run, `an unreadable spool file was moved aside: ${path}`);
  let scripts: LoadedScripts | undefined;
  const unsure = spooled.filter((s) => s.inFlight);
  if (unsure.length > 0) {
    scripts = await load(run);
    const held = scripts.fresh ? scripts.tarball : undefined;
    for (const signal of held ? unsure : []) {
      if (alreadyStored(signal, held!)) await delivery.confirm(signal);
    }
  }
  const left = spooled.filter((s) => !delivery.isConfirmed(s));
  if (left.length > 0) deps.progress.info(`delivering ${left.length} result(s) left from earlier runs`);
  for (const signal of left) await delivery.send(signal, true);
  return scripts;
}

/** Loads the machine's scripts (scripts.ts); a reason to stop becomes one of the run's problems. */
async function load(run: Run): Promise<LoadedScripts> {
  const loaded = await loadScripts({ client: run.deps.client, state: run.state, delivery: run.delivery, progress: run.deps.progress, metadataUrl: run.summary.metadata_url });
  if (loaded.problem !== undefined) problem(run, loaded.problem);
  run.tarball = loaded.tarball;
  return loaded;
}

/**
 * Spools and sends a pending result, except a built-in result MAAS already holds unchanged
 * (change-only sync). Skipping needs the index of this run, fresh from MAAS, and nothing of the
 * same script still waiting in the spool (as the spool was before the first result was sent).
 */
function resultSender(run: Run, freshIndex: boolean): (signal: PendingSignal) => Promise<void> {
  const { options, state, sync, delivery, deps } = run;
  let changeOnly: Promise<{ waiting: ReadonlySet<string> } | undefined> | undefined;
  return async (signal) => {
    changeOnly ??= !options.force && !options.serverScripts && freshIndex && !delivery.halted ? state.spool.list().then(({ signals }) => ({ waiting: new Set(signals.map((s) => s.fields.name)) })) : Promise.resolve(undefined);
    const changes = await changeOnly;
    const { name } = signal.fields;
    if (changes && signal.builtIn) {
      const verdict = changes.waiting.has(name)
        ? 'an older result is still spooled'
        : await changeVerdict(signal, signal.entry, sync.get(name), run.tarball!, { now: Date.now(), maxAgeMs: options.maxAgeMs ?? DEFAULT_MAX_AGE_MS });
      if (verdict === 'unchanged') {
        delivery.unchanged(signal);
        return;
      }
      if (options.debug) deps.progress.info(`${name}: sending (${verdict})`);
    }
    await delivery.send(await state.spool.put(signal.fields, signal.files), false);
  };
}

/**
 * Says, once, what changed in the hardware since the report MAAS holds (hardware-diff.ts): on the
 * first machine-resources result of this run that worked, compared with MAAS's stored copy in
 * the tarball; nothing when that result is not a document.
 */
function changeTeller(run: Run, tarball: ScriptFiles, entries: readonly ScriptIndexEntry[]): (signal: PendingSignal) => void {
  let told = false;
  return (signal) => {
    if (told || !signal.builtIn || !(RESOURCES_SCRIPTS as readonly string[]).includes(signal.fields.name) || signal.fields.status !== 'WORKING' || signal.fields.exit_status !== 0) return;
    told = true;
    const out = signal.files.find((f) => f.name === `${signal.fields.name}.out`);
    const now = out ? parseResources(Buffer.from(out.content).toString('utf8')) : undefined;
    if (!now) return;
    const held = heldReport(tarball, entries);
    const line = held ? changeSummary(hardwareChanges(held.document, now)) : 'changes: first hardware report (MAAS holds none from this machine yet)';
    run.summary.hardware_changes = line;
    run.deps.progress.info(line);
  };
}

/** Closes the summary: why delivery stopped comes first among the problems; `ok` means exit 0. */
function finish(run: Run): RunSummary {
  const { summary } = run;
  const halt: Halt | undefined = run.delivery.halted;
  if (halt?.kind === 'unreachable') {
    summary.problems.unshift(`${halt.message}; ${summary.spooled} result(s) are kept in ${summary.state_dir} and will be delivered by the next run`);
  } else if (halt?.kind === 'auth') {
    summary.problems.unshift(
      `${halt.message}; the machine credentials are wrong or were regenerated: fetch them again with get-machine-token (${summary.spooled} result(s) kept in ${summary.state_dir})`,
    );
  }
  summary.ok = summary.problems.length === 0 && summary.spooled === 0;
  run.deps.progress.finish(summary);
  return summary;
}

function problem(run: Run, message: string): void {
  run.summary.problems.push(message);
  run.deps.progress.warn(message);
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
