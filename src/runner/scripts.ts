// The machine's scripts, as MAAS sends them in the maas-scripts tarball (docs/protocol.md §5.3,
// §5.4): downloaded (or, when MAAS cannot be reached, the last run's copy), unpacked in memory,
// their index read, and the copies of stored results it carries compared with what a run
// spooled. The files are written to disk only when a script from the tarball has to run.
import { oneLine, ParseError } from '../errors.js';
import type { ScriptIndex, ScriptIndexEntry } from '../maas/types.js';
import { classifyFailure, type Deliverer } from './delivery.js';
import type { Progress } from './progress.js';
import { resultSuffix, storedCopyName, type ScriptFiles } from './signal-files.js';
import type { MachineState, SpooledSignal } from './spool.js';
import { unpackTar, writeTarEntries, type TarEntry } from './tar.js';

/** A loaded scripts tarball: its files, read from memory, and a way to write them out. */
export interface ScriptsTarball extends ScriptFiles {
  /** Writes the tarball's files into `dir` (an existing directory), keeping each file's mode. */
  writeTo(dir: string): void;
}

/** The tarball `entries` (from unpackTar) make up. */
export function scriptsTarball(entries: readonly TarEntry[]): ScriptsTarball {
  const files = new Map<string, Uint8Array>();
  for (const entry of entries) if (entry.type === 'file') files.set(entry.path, entry.content);
  return { read: (path) => files.get(path), writeTo: (dir) => void writeTarEntries(entries, dir) };
}

/** What loadScripts left in the run's scripts directory. */
export interface LoadedScripts {
  /** Nothing to run: the reason is in `problem`. */
  stop: boolean;
  /** Why the run stops (set with `stop`). */
  problem?: string;
  /** The tarball (fresh or cached), when there is one. */
  tarball?: ScriptsTarball;
  /** It came from MAAS during this run. */
  fresh: boolean;
}

/** What loadScripts needs. */
export interface LoadScriptsContext {
  client: { downloadScripts(): Promise<Uint8Array | null> };
  state: MachineState;
  delivery: Deliverer;
  progress: Progress;
  /** The metadata URL, for the progress line. */
  metadataUrl: string;
}

/**
 * Downloads the maas-scripts tarball and unpacks it in memory. When MAAS
 * cannot be reached (or delivery has stopped already), the last run's copy is used and delivery
 * halts, so the results are spooled. MAAS refusing the credentials, having no scripts (204) or
 * rejecting the request stops the run.
 */
export async function loadScripts(context: LoadScriptsContext): Promise<LoadedScripts> {
  const { delivery, progress } = context;
  let tar: Uint8Array | null | undefined;
  let fresh = false;
  if (!delivery.halted) {
    progress.info(`fetching scripts from ${context.metadataUrl}`);
    try {
      tar = await context.client.downloadScripts();
      // null (HTTP 204) stops the run below.
      fresh = true;
    } catch (error) {
      const failure = classifyFailure(error);
      if (failure === 'auth') {
        return stop(`${oneLine(error)}; the machine credentials are wrong or were regenerated: fetch them again with get-machine-token`);
      }
      if (failure === 'rejected') return stop(oneLine(error));
      delivery.halt({ kind: 'unreachable', message: oneLine(error) });
      progress.warn(`${oneLine(error)}; running with the scripts of the last run and spooling the results`);
    }
    if (tar === null) return stop('No script returned: MAAS has no scripts for this machine (HTTP 204); is it Deployed with hardware sync?');
  }
  tar ??= await context.state.loadScripts();
  if (!tar) return { stop: false, fresh };
  const { entries, skipped } = unpackTar(tar);
  for (const member of skipped) progress.warn(`tarball member ${member.name} skipped: ${member.reason}`);
  // Kept for runs that cannot reach MAAS, once it is known to unpack.
  if (fresh) await context.state.saveScripts(tar);
  return { stop: false, tarball: scriptsTarball(entries), fresh };
}

function stop(problem: string): LoadedScripts {
  return { stop: true, problem, fresh: false };
}

/**
 * The `commissioning_scripts` entries to run: those tagged deploy-info. Upstream also requires
 * `default: true`, which only MAAS's built-in scripts have, so it never runs a script a user
 * added; we run custom deploy-info scripts too (docs/design.md D6).
 *
 * A script's name becomes file names in the run directory (<name>, <name>.out, …), so a name that
 * is not one plain file name (a "/", "." or "..", a NUL) is never used: the entry is skipped with
 * a warning, as a tarball member that leaves the directory is. An index whose every entry is
 * malformed is a broken answer, not an empty one.
 */
export function readIndex(scripts: ScriptFiles, warn: (line: string) => void = () => {}): ScriptIndexEntry[] {
  const source = 'index.json of the maas-scripts tarball';
  const text = scripts.read('index.json');
  if (text === undefined) throw new ParseError(source, 'the tarball has no index.json');
  let index: ScriptIndex;
  try {
    index = JSON.parse(Buffer.from(text).toString('utf8')) as ScriptIndex;
  } catch (error) {
    throw new ParseError(source, oneLine(error));
  }
  const list: unknown = index?.['1.0']?.commissioning_scripts;
  if (!Array.isArray(list)) throw new ParseError(source, 'no "1.0" → "commissioning_scripts" list');
  const wellFormed = list.filter((e): e is ScriptIndexEntry => typeof e?.name === 'string' && Array.isArray(e.tags));
  if (list.length > 0 && wellFormed.length === 0) throw new ParseError(source, `none of its ${list.length} entries has a name and a list of tags`);
  return wellFormed.filter((entry) => {
    if (!entry.tags!.includes('deploy-info')) return false;
    if (isPlainFileName(entry.name)) return true;
    warn(`script ${JSON.stringify(entry.name)} skipped: its name is not a plain file name, and it would name files outside the run directory`);
    return false;
  });
}

/** One path component: no separator, no NUL, not "." or "..", not empty. */
export function isPlainFileName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}

/**
 * Whether MAAS already holds exactly this result: the tarball carries each started result's stored
 * files as out/<name>.<result id>[.out|.err|.yaml] (docs/protocol.md §5.3), and they all match.
 */
export function alreadyStored(signal: SpooledSignal, scripts: ScriptFiles): boolean {
  const { name, script_result_id: id } = signal.fields;
  if (signal.files.length === 0) return false;
  // Stryker disable next-line ConditionalExpression: without an id the lookup below goes to out/<name>.undefined…, which MAAS never writes, and finds nothing
  if (id === undefined) return false;
  for (const file of signal.files) {
    const suffix = resultSuffix(name, file.name);
    // Stryker disable next-line ConditionalExpression: without a suffix the lookup below goes to out/<name>.<id>undefined, which MAAS never writes, and finds nothing
    if (suffix === undefined) return false;
    const stored = scripts.read(storedCopyName(name, id, suffix));
    if (!stored || !Buffer.from(stored).equals(Buffer.from(file.content))) return false;
  }
  return true;
}
