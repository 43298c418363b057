// `maas-run-scripts report-results`: settings resolved as upstream does (docs/protocol.md §1.5),
// then the run of src/runner/report.ts with this machine's collectors, progress output and the exit
// status: 0 when everything was delivered or found unchanged, 1 (with a message saying what)
// otherwise.
import { collectorForScript } from '../../../collectors/index.js';
import type { DeployInfoCollector } from '../../../collectors/types.js';
import { CliError, UsageError } from '../../errors.js';
import { createHost, type Host } from '../../host/host.js';
import type { RunCommand } from '../../host/run-command.js';
import { MaasClient, type ClientDeps } from '../../maas/client.js';
import { exposedCredsWarning, parseCredentials, readCredsFile } from '../../maas/credentials.js';
import type { Credentials } from '../../maas/types.js';
import { createProgress, progressMode, type Progress, type RunSummary } from '../../runner/progress.js';
import { machineKey, reportResults, type ReportClient } from '../../runner/report.js';
import { runCollectors } from '../../runner/run-collectors.js';
import { defaultStateDir } from '../../runner/spool.js';

/** Environment variable naming a captured tree the collectors read instead of this machine (for testing). */
export const ROOT_ENV = 'MAAS_RUN_SCRIPTS_ROOT';

export interface ReportResultsOptions {
  /** A creds file: `reporting: maas: {...}` or cloud-init's `datasource: MAAS: {...}`. */
  config?: string;
  /** "ck:tk:ts[:cs]"; replaces every credential of the config file. */
  machineToken?: string;
  /** Replaces the config's endpoint; only its scheme and host[:port] are used. */
  metadataUrl?: string;
  serverScripts?: boolean;
  /** Send every result, including those MAAS already holds unchanged (change-only sync off). */
  force?: boolean;
  /** Hours after which an unchanged result is sent again (default 24). */
  maxAge?: number;
  stateDir?: string;
  json?: boolean;
  debug?: boolean;
  /** A captured tree for the collectors (hidden; also MAAS_RUN_SCRIPTS_ROOT); no command is run on it. */
  root?: string;
}

export interface ReportResultsDeps {
  client?: ClientDeps;
  /** A ready client (tests); default: MaasClient.forMetadata with the resolved settings. */
  reportClient?: ReportClient;
  host?: Host;
  progress?: Progress;
  env?: NodeJS.ProcessEnv;
  /** The collectors answering deploy-info scripts (default: this machine's built-ins). */
  collectors?: { forScript(name: string): DeployInfoCollector | undefined };
  /** Only the collectors' results are sent; no script the server sent is run (see ReportOptions.outOfBand). */
  outOfBand?: boolean;
  /** The command named in progress lines and the failure message (default report-results). */
  commandName?: string;
}

/** Resolved settings of a run. */
export interface ReportSettings {
  metadataUrl: string;
  credentials: Credentials;
  /** The creds file's endpoint, when there is one (it names the machine's state). */
  endpoint?: string;
}

/** Resolves URL and credentials as upstream does (docs/protocol.md §1.5): flags win over the config file. */
export async function resolveReportSettings(options: Pick<ReportResultsOptions, 'config' | 'machineToken' | 'metadataUrl'>): Promise<ReportSettings> {
  const creds = options.config !== undefined ? await readCredsFile(options.config) : undefined;
  const credentials = options.machineToken !== undefined ? parseCredentials(options.machineToken, '--machine-token') : creds?.credentials;
  const metadataUrl = options.metadataUrl ?? creds?.endpoint;
  if (metadataUrl === undefined) {
    throw new UsageError('No MAAS URL set: pass --config FILE (a creds file written by register-machine or get-machine-token) or --metadata-url URL');
  }
  if (credentials === undefined) {
    throw new UsageError('No machine credentials: pass --config FILE (a creds file written by register-machine or get-machine-token) or --machine-token TOKEN');
  }
  return { metadataUrl, credentials, ...(creds ? { endpoint: creds.endpoint } : {}) };
}

/** Runs report-results; returns the summary when everything was delivered, else throws a CliError (exit 1). */
export async function reportResultsCommand(options: ReportResultsOptions, deps: ReportResultsDeps = {}): Promise<RunSummary> {
  const settings = await resolveReportSettings(options);
  const exposed = options.config !== undefined ? await exposedCredsWarning(options.config) : undefined;
  if (exposed) process.stderr.write(`${exposed}\n`);
  return runReport(settings, options, deps);
}

/** The run itself, for callers that already hold settings (register-machine right after registering). */
export async function runReport(settings: ReportSettings, options: ReportResultsOptions, deps: ReportResultsDeps = {}): Promise<RunSummary> {
  const env = deps.env ?? process.env;
  const client = deps.reportClient ?? MaasClient.forMetadata(settings.metadataUrl, settings.credentials, deps.client);
  const root = options.root ?? (env[ROOT_ENV] || undefined);
  const host = deps.host ?? (root ? createHost({ root, run: notRunOnTree }) : createHost());
  const commandName = deps.commandName ?? 'report-results';
  const progress =
    deps.progress ?? createProgress(progressMode(Boolean(options.json), process.stdout), { stdout: process.stdout, stderr: process.stderr, command: commandName });
  const stateDir = options.stateDir ?? defaultStateDir(env);
  const summary = await reportResults(
    {
      metadataUrl: settings.metadataUrl,
      credentials: settings.credentials,
      stateDir,
      serverScripts: Boolean(options.serverScripts),
      force: Boolean(options.force),
      ...(options.maxAge === undefined ? {} : { maxAgeMs: options.maxAge * 3600 * 1000 }),
      debug: Boolean(options.debug),
      machineKey: machineKey(settings.endpoint ?? settings.metadataUrl, settings.credentials),
      ...(deps.outOfBand ? { outOfBand: true } : {}),
    },
    {
      client,
      host,
      collectors: { forScript: deps.collectors?.forScript ?? collectorForScript, run: (collectors, h) => runCollectors(collectors, h) },
      progress,
      echo: { stdout: process.stdout, stderr: process.stderr },
    },
  );
  if (!summary.ok) throw new CliError(failureMessage(summary, commandName));
  return summary;
}

function failureMessage(summary: RunSummary, commandName: string): string {
  const [first, ...rest] = summary.problems;
  const head = first ?? `${summary.spooled} result(s) were not delivered and are kept in ${summary.state_dir}`;
  return `${commandName}: ${head}${rest.length > 0 ? ` (and ${rest.length} more problem(s) above)` : ''}`;
}

/** With a captured tree, commands would describe this machine instead: none is run. */
const notRunOnTree: RunCommand = async (file, args) => ({
  command: [file, ...args].join(' '),
  exitCode: undefined,
  stdout: '',
  stderr: `${file}: not run, the collectors read a captured tree`,
  timedOut: false,
  notFound: true,
  failed: true,
});
