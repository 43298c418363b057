// A report run as the commands start it: from resolved settings to the client, this machine's
// Host, the progress output and the state directory, then reportResults (report.ts), whose
// summary becomes the exit status: a ReportIncompleteError (exit 1, saying what) unless every
// result was delivered or found unchanged.
import { isatty } from 'node:tty';
import type { DeployInfoCollector } from '../../collectors/types.js';
import { ReportIncompleteError } from '../errors.js';
import { standardOutput } from '../files.js';
import { createHost, type Host } from '../host/host.js';
import { commandsNotRun } from '../host/run-command.js';
import { MaasClient, type ClientDeps } from '../maas/client.js';
import { createProgress, progressMode, type Progress, type RunSummary } from './progress.js';
import { machineKey, reportResults, type ReportClient } from './report.js';
import type { ReportSettings } from './report-settings.js';
import { runCollectors } from './run-collectors.js';
import { defaultStateDir } from './spool.js';

/** Environment variable naming a captured tree the collectors read instead of this machine (for testing). */
export const ROOT_ENV = 'MAAS_RUN_SCRIPTS_ROOT';

/** How the run goes: the report-results options other than where to report. */
export interface RunReportOptions {
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

export interface RunReportDeps {
  /** The collectors answering deploy-info scripts (this machine's built-ins, or a BMC's document). */
  collectors: { forScript(name: string): DeployInfoCollector | undefined };
  client?: ClientDeps;
  /** A ready client (tests); default: MaasClient.forMetadata with the settings. */
  reportClient?: ReportClient;
  host?: Host;
  progress?: Progress;
  env?: NodeJS.ProcessEnv;
  /** Only the collectors' results are sent; no script the server sent is run (see ReportOptions.outOfBand). */
  outOfBand?: boolean;
  /** The command named in progress lines and the failure message (default report-results). */
  commandName?: string;
}

/** Runs a report with `settings`; returns the summary when everything was delivered, else throws a ReportIncompleteError. */
export async function runReport(settings: ReportSettings, options: RunReportOptions, deps: RunReportDeps): Promise<RunSummary> {
  const env = deps.env ?? process.env;
  const client = deps.reportClient ?? MaasClient.forMetadata(settings.metadataUrl, settings.credentials, deps.client);
  const root = options.root ?? (env[ROOT_ENV] || undefined);
  // With a captured tree, commands would describe this machine instead: none is run.
  const host = deps.host ?? (root ? createHost({ root, run: commandsNotRun('the collectors read a captured tree') }) : createHost());
  const commandName = deps.commandName ?? 'report-results';
  // Progress goes straight to descriptor 1 (src/files.ts): making process.stdout costs a run its
  // set-up, and a reader that has gone (| head) must not end the run.
  const progress =
    deps.progress ?? createProgress(progressMode(Boolean(options.json), { isTTY: isatty(1) }), { stdout: standardOutput, stderr: process.stderr, command: commandName });
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
      collectors: { forScript: deps.collectors.forScript, run: (collectors, h, onOutcome) => runCollectors(collectors, h, onOutcome ? { onOutcome } : {}) },
      progress,
      // Only --debug echoes what scripts print, through the streams.
      ...(options.debug ? { echo: { stdout: process.stdout, stderr: process.stderr } } : {}),
    },
  );
  if (!summary.ok) throw new ReportIncompleteError(commandName, failureDetail(summary));
  return summary;
}

function failureDetail(summary: RunSummary): string {
  const [first, ...rest] = summary.problems;
  const head = first ?? `${summary.spooled} result(s) were not delivered and are kept in ${summary.state_dir}`;
  return `${head}${rest.length > 0 ? ` (and ${rest.length} more problem(s) above)` : ''}`;
}
