// `maas-run-scripts collect`: runs the built-in collectors with no server. Prints one
// collector's output (the machine-resources document by default), or writes every file
// report-results would upload for each deploy-info script into a directory.
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { collectorNamed, deployInfoCollectors } from '../../../collectors/index.js';
import type { DeployInfoCollector } from '../../../collectors/types.js';
import { CliError, hasCode, UsageError } from '../../errors.js';
import { standardError, standardOutput, writeAtomic } from '../../files.js';
import { createHost, type Host } from '../../host/host.js';
import { commandsNotRun } from '../../host/run-command.js';
import { runCollectors, type CollectorOutcome } from '../../runner/run-collectors.js';
import { scriptOutputFiles } from '../../runner/signal-files.js';

export interface CollectOptions {
  /** Collector names (`resources`, `lshw`, ...); default: resources alone, or all with `output`. */
  only?: readonly string[];
  /** Directory to write `<script>.out`, `<script>.err` and `<script>` into. */
  output?: string;
  /** Format of the printed machine-resources document. */
  format?: 'json' | 'yaml';
  /** Read a captured tree instead of this machine (commands are then not run). */
  root?: string;
}

export interface CollectDeps {
  stdout?: { write(text: string): unknown };
  stderr?: { write(text: string): unknown };
  /** The host to collect from; default: this machine, or the `root` tree. */
  host?: Host;
}

/** Runs the `collect` command; returns the outcomes, throws CliError (exit 1) if any collector failed. */
export async function collect(options: CollectOptions, deps: CollectDeps = {}): Promise<CollectorOutcome[]> {
  const stdout = deps.stdout ?? standardOutput;
  const stderr = deps.stderr ?? standardError;
  const format = options.format ?? 'json';
  const selected = selectCollectors(options);
  if (options.output === undefined && selected.length !== 1) {
    throw new UsageError(`--only ${options.only?.join(',')} names ${selected.length} collectors, but stdout holds one collector's output: name one, or add --output DIR to write them all`);
  }
  if (format === 'yaml' && (options.output !== undefined || selected[0]?.name !== 'resources')) {
    throw new UsageError('--format yaml applies only to the printed machine-resources document: drop it, or use it without --only/--output');
  }
  const host = deps.host ?? (await hostFor(options.root));
  if (options.output !== undefined) await ensureDirectory(options.output);

  const outcomes = await runCollectors(selected, host);

  if (options.output !== undefined) {
    for (const outcome of outcomes) {
      for (const { files } of scriptOutputFiles(outcome)) {
        for (const file of files) {
          const path = join(options.output, file.name);
          await writeOutput(path, file.content);
          stdout.write(`${path}\n`);
        }
      }
    }
  } else {
    const [outcome] = outcomes as [CollectorOutcome];
    const ok = outcome.output.exitCode === 0;
    // On failure the last line of stderr is the reason, which the summary line below repeats.
    const notes = ok ? outcome.output.stderr : outcome.output.stderr.trimEnd().split('\n').slice(0, -1).map((l) => `${l}\n`).join('');
    if (notes) stderr.write(notes);
    // YAML is loaded only for the YAML form: the JSON one, the usual, does without it.
    if (ok) stdout.write(format === 'yaml' ? (await import('yaml')).stringify(JSON.parse(outcome.output.stdout)) : outcome.output.stdout);
  }

  const failures = outcomes.filter((o) => o.output.exitCode !== 0).map(failureLine);
  if (failures.length > 0) throw new CliError(failures.join('\n'));
  return outcomes;
}

function selectCollectors({ only, output }: CollectOptions): DeployInfoCollector[] {
  if (only === undefined || only.length === 0) return output === undefined ? [collectorNamed('resources')!] : [...deployInfoCollectors];
  const valid = deployInfoCollectors.map((c) => c.name).join(', ');
  const unknown = only.filter((name) => collectorNamed(name) === undefined);
  if (unknown.length > 0) throw new UsageError(`--only: unknown collector ${unknown.map((n) => `"${n}"`).join(', ')}; valid names: ${valid}`);
  return [...new Set(only)].map((name) => collectorNamed(name)!);
}

async function hostFor(root: string | undefined): Promise<Host> {
  if (root === undefined) return createHost();
  try {
    if (!(await stat(root)).isDirectory()) throw new UsageError(`--root ${root}: not a directory; give the top of a captured tree (with sys/ and proc/)`);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--root ${root}: ${hasCode(error, 'ENOENT') ? 'no such directory' : (error as Error).message}; give the top of a captured tree (with sys/ and proc/)`);
  }
  // Commands would describe this machine, not the tree: none is run.
  return createHost({ root, run: commandsNotRun('--root reads a captured tree'), isRoot: false });
}

async function ensureDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    const why = hasCode(error, 'EEXIST', 'ENOTDIR') ? 'exists and is not a directory' : (error as Error).message;
    throw new UsageError(`--output ${dir}: ${why}; give a directory (it is created if missing)`);
  }
}

/** Writes a file through a temporary file and a rename, so a reader never sees half a file; its mode is what a plain write would give. */
async function writeOutput(path: string, content: string): Promise<void> {
  try {
    await writeAtomic(path, content, { mode: 0o666, umask: true });
  } catch (error) {
    throw new CliError(`cannot write ${path}: ${(error as Error).message}; check the --output directory's permissions and free space`, { cause: error });
  }
}

function failureLine(outcome: CollectorOutcome): string {
  if (outcome.failure !== undefined) return outcome.failure;
  const lines = outcome.output.stderr.trim().split('\n');
  const last = lines[lines.length - 1] ?? '';
  return `collector "${outcome.name}" failed with exit status ${outcome.output.exitCode}${last ? `: ${last}` : ''}`;
}
