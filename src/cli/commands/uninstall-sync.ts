// `maas-run-scripts uninstall-sync`: removes exactly what install-sync wrote, as its manifest
// lists it (docs/design.md D19), and disables the timer on the live system.
import { CliError } from '../../errors.js';
import { standardOutput } from '../../files.js';
import { syncEnvironment, uninstallSync, type SyncEnvironment } from '../../runner/sync-install.js';

export interface UninstallSyncCommandOptions {
  user: boolean;
  root?: string;
}

/** Removes the installed periodic sync; fails (exit 1) when none is installed. */
export async function uninstallSyncCommand(options: UninstallSyncCommandOptions, environment: SyncEnvironment = syncEnvironment(options.root)): Promise<void> {
  const manifest = await uninstallSync(options.user ? 'user' : 'system', environment);
  if (!manifest) {
    throw new CliError(`no periodic sync is installed${options.user ? ' for this user' : ''}${options.root ? ` under ${options.root}` : ''}; nothing to remove${options.user ? '' : ' (a --user install is removed with --user)'}`);
  }
  const removed = [...manifest.files, ...manifest.links.map((l) => l.path), ...(manifest.crontab ? [manifest.crontab.live ? 'the user crontab entry' : `the entry in ${manifest.crontab.path}`] : [])];
  standardOutput.write(`Removed the periodic sync (${manifest.scheduler}${manifest.scope === 'user' ? ', user' : ''}): ${removed.join(', ')}\n`);
}
