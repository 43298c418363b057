// `maas-run-scripts install-sync`: installs and enables the periodic report-results run (a
// systemd service and timer, or a cron entry) on this host's own slot of the interval, and says
// what it wrote (docs/design.md D19; src/runner/sync-install.ts does the work).
import { isAbsolute, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { standardOutput } from '../../files.js';
import { installSync, SYNC_UNIT, syncEnvironment, type Scheduler, type SyncEnvironment, type SyncManifest } from '../../runner/sync-install.js';
import { formatSeconds, parseInterval } from '../../runner/sync-schedule.js';
import { isStandalone } from '../../standalone.js';

export interface InstallSyncCommandOptions {
  config: string;
  interval: string;
  user: boolean;
  root?: string;
  scheduler?: Scheduler;
  /** The tool the schedule runs (absolute); default: this one. */
  exec?: string;
  json: boolean;
}

/** Installs the periodic sync and prints what was written; returns the manifest. */
export async function installSyncCommand(options: InstallSyncCommandOptions, environment: SyncEnvironment = syncEnvironment(options.root)): Promise<SyncManifest> {
  const intervalSeconds = parseInterval(options.interval);
  const config = options.root === undefined ? resolve(options.config) : options.config;
  if (!isAbsolute(config)) throw new UsageError(`--config ${options.config} must be an absolute path when --root is given (the creds file as the installed system sees it)`);
  const manifest = await installSync(
    { config, intervalSeconds, scope: options.user ? 'user' : 'system', ...(options.scheduler ? { scheduler: options.scheduler } : {}), tool: toolCommand(options.exec) },
    environment,
  );
  if (options.json) {
    standardOutput.write(`${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
  }
  const what = manifest.scheduler === 'systemd' ? `systemd timer ${SYNC_UNIT}.timer` : manifest.crontab ? 'a crontab entry' : `cron entry /etc/cron.d/${SYNC_UNIT}`;
  const lines = [
    `Installed ${what}${manifest.scope === 'user' ? ' (user)' : ''}: report-results every ${formatSeconds(manifest.interval_seconds)}, ${formatSeconds(manifest.offset_seconds)} into the interval, plus up to ${manifest.jitter_seconds}s of random delay`,
    ...manifest.schedule.map((s) => (manifest.scheduler === 'systemd' ? `  OnCalendar=${s}` : `  ${s}  (local time)`)),
    ...[...manifest.files, ...manifest.links.map((l) => l.path), ...(manifest.crontab ? [manifest.crontab.live ? 'the user crontab' : manifest.crontab.path] : [])].map((p) => `  wrote ${p}`),
    `See it with: maas-run-scripts sync-status${manifest.scope === 'user' ? ' --user' : ''}; remove it with: maas-run-scripts uninstall-sync${manifest.scope === 'user' ? ' --user' : ''}`,
  ];
  if (manifest.scheduler === 'systemd' && manifest.scope === 'user') lines.push('Note: user timers run only while you are logged in, unless lingering is on (loginctl enable-linger)');
  standardOutput.write(`${lines.join('\n')}\n`);
  return manifest;
}

/** The command line that runs this tool, absolute: the standalone itself, or Node and the script. */
function toolCommand(exec: string | undefined): string[] {
  if (exec !== undefined) {
    if (!isAbsolute(exec)) throw new UsageError(`--exec ${exec} must be an absolute path to the maas-run-scripts executable`);
    return [exec];
  }
  if (isStandalone()) return [process.execPath];
  const script = process.argv[1];
  return script ? [process.execPath, resolve(script)] : [process.execPath];
}
