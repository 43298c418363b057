// `maas-run-scripts diff`: what changed in this host's hardware since the last report MAAS holds
// from it (docs/design.md D18). MAAS sends its stored results back in the scripts tarball, so the
// machine's own credentials suffice: the tarball is downloaded (nothing is sent), the stored
// machine-resources document read from it (in memory), the resources collector run here, and the two compared
// without the values that move on an idle machine. Exit 0 whether or not anything changed.
import { collectorNamed } from '../../../collectors/index.js';
import { CliError } from '../../errors.js';
import { standardOutput } from '../../files.js';
import { createHost } from '../../host/host.js';
import { commandsNotRun } from '../../host/run-command.js';
import { MaasClient } from '../../maas/client.js';
import { changeSummary, hardwareChanges, parseResources, type HardwareChange } from '../../runner/hardware-diff.js';
import { heldReport } from '../../runner/held-report.js';
import { resolveReportSettings, type ReportSources } from '../../runner/report-settings.js';
import { ROOT_ENV } from '../../runner/run-report.js';
import { runCollectors } from '../../runner/run-collectors.js';
import { readIndex, scriptsTarball } from '../../runner/scripts.js';
import { unpackTar } from '../../runner/tar.js';

export interface DiffOptions extends ReportSources {
  json?: boolean;
  /** A captured tree to read instead of this machine (testing; also MAAS_RUN_SCRIPTS_ROOT). */
  root?: string;
}

/** The --json document. */
export interface DiffResult {
  /** The stored result compared with, or null when MAAS holds no hardware report from this machine. */
  baseline: { script: string; script_result_id: number } | null;
  changed: boolean;
  changes: HardwareChange[];
  /** The line report-results prints. */
  summary: string;
}

/** Runs `diff`; prints the changes (or the JSON document) and returns them. */
export async function diffCommand(options: DiffOptions, out: (text: string) => void = (t) => standardOutput.write(t)): Promise<DiffResult> {
  const settings = await resolveReportSettings(options);
  const client = MaasClient.forMetadata(settings.endpoint ?? settings.metadataUrl, settings.credentials, { log: (line) => process.stderr.write(`${line}\n`) });
  const root = options.root ?? (process.env[ROOT_ENV] || undefined);
  const host = root ? createHost({ root, run: commandsNotRun('the collectors read a captured tree'), isRoot: false }) : createHost();

  // The tarball and this host's reading, at the same time.
  const [tar, outcomes] = await Promise.all([client.downloadScripts(), runCollectors([collectorNamed('resources')!], host)]);
  const outcome = outcomes[0]!;
  const now = outcome.output.exitCode === 0 ? parseResources(outcome.output.stdout) : undefined;
  if (!now) {
    const reason = outcome.failure ?? outcome.output.stderr.trim().split('\n').pop() ?? `exit status ${outcome.output.exitCode}`;
    throw new CliError(`cannot read this host's hardware: ${reason}`, { code: 'MRS_COLLECTOR' });
  }
  if (tar === null) throw new CliError('MAAS has no scripts for this machine (HTTP 204), so it holds no report to compare with; is it Deployed?');

  // Read in memory: nothing of the tarball is written to disk.
  const scripts = scriptsTarball(unpackTar(tar).entries);
  const held = heldReport(scripts, readIndex(scripts));
  const changes = held ? hardwareChanges(held.document, now) : [];
  const result: DiffResult = {
    baseline: held ? { script: held.script, script_result_id: held.script_result_id } : null,
    changed: changes.length > 0,
    changes,
    summary: held ? changeSummary(changes) : 'MAAS holds no hardware report from this machine yet: run report-results to send one',
  };

  if (options.json) {
    out(`${JSON.stringify(result, null, 2)}\n`);
  } else if (!result.baseline) {
    out(`${result.summary}\n`);
  } else if (!result.changed) {
    out(`no hardware changes since the report MAAS holds (${result.baseline.script}, result ${result.baseline.script_result_id})\n`);
  } else {
    out(`${result.changes.length} hardware change(s) since the report MAAS holds (${result.baseline.script}, result ${result.baseline.script_result_id}):\n`);
    for (const change of result.changes) out(`  ${change.text}\n`);
  }
  return result;
}
