// `maas-run-scripts report-results`: settings resolved as upstream does (docs/protocol.md §1.5),
// then a run of src/runner with this machine's collectors; exit status 0 when everything was
// delivered or found unchanged, 1 (with a message saying what) otherwise.
import { collectorForScript } from '../../../collectors/index.js';
import { exposedCredsWarning } from '../../maas/creds-file.js';
import type { RunSummary } from '../../runner/progress.js';
import { resolveReportSettings, type ReportSources } from '../../runner/report-settings.js';
import { runReport, type RunReportDeps, type RunReportOptions } from '../../runner/run-report.js';

export interface ReportResultsOptions extends ReportSources, RunReportOptions {}

/** Runs report-results; returns the summary when everything was delivered, else throws a CliError (exit 1). */
export async function reportResultsCommand(options: ReportResultsOptions, deps: Partial<RunReportDeps> = {}): Promise<RunSummary> {
  const settings = await resolveReportSettings(options);
  const exposed = options.config !== undefined ? await exposedCredsWarning(options.config) : undefined;
  if (exposed) process.stderr.write(`${exposed}\n`);
  return runReport(settings, options, { collectors: { forScript: collectorForScript }, ...deps });
}
