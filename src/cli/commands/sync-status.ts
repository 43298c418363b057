// `maas-run-scripts sync-status`: the installed schedule, its offset, and the last run, its
// outcome and the last delivery, as report-results recorded them in the state directory.
import { CliError } from '../../errors.js';
import { standardOutput } from '../../files.js';
import { syncEnvironment, syncStatus, type SyncEnvironment, type SyncStatus } from '../../runner/sync-install.js';

export interface SyncStatusCommandOptions {
  json: boolean;
  user: boolean;
  root?: string;
}

/** Prints the status; exit 1 when no periodic sync is installed. */
export async function syncStatusCommand(options: SyncStatusCommandOptions, environment: SyncEnvironment = syncEnvironment(options.root)): Promise<SyncStatus> {
  const status = await syncStatus(options.user ? 'user' : undefined, environment);
  if (options.json) standardOutput.write(`${JSON.stringify(status, null, 2)}\n`);
  if (!status.installed) throw new CliError('no periodic sync is installed; install one with: maas-run-scripts install-sync --config FILE');
  if (options.json) return status;
  const run = status.last_run;
  const counts = run ? `${run.delivered} delivered, ${run.unchanged} unchanged, ${run.spooled} spooled, ${run.rejected} rejected` : '';
  const lines = [
    `schedule:      every ${status.interval}, ${status.offset} into the interval, plus up to ${status.jitter_seconds}s of random delay (${status.scheduler}${status.scope === 'user' ? ', user' : ''})`,
    ...status.schedule!.map((s) => `               ${status.scheduler === 'systemd' ? `OnCalendar=${s}` : `${s} (local time)`}`),
    `creds file:    ${status.config}`,
    `state:         ${status.state_dir}`,
    `last run:      ${run ? `${run.finished_at} ${run.outcome} (${counts})${run.problem ? `: ${run.problem}` : ''}` : 'never'}`,
    `last delivery: ${status.last_delivery ? `${status.last_delivery.at}${status.last_delivery.delivered !== undefined ? ` (${status.last_delivery.delivered} result(s))` : ''}` : 'never'}`,
  ];
  standardOutput.write(`${lines.join('\n')}\n`);
  return status;
}
