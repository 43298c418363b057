// What install-sync and uninstall-sync ask of the live system: systemctl and crontab. Running
// them for real would change this machine's units and crontab, so these tests mark a temporary
// root as the live system and record the programs' calls instead (the only stand-in here).
import { chmod, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { credsYaml } from '../../src/maas/credentials.js';
import { installSync, syncEnvironment, syncStatus, uninstallSync, type SyncEnvironment } from '../../src/runner/sync-install.js';
import { makeRoot } from '../helpers/make-root.js';

const CREDS = '/etc/maas/maas-machine-creds.yml';

async function liveRoot(crontab = ''): Promise<{ environment: SyncEnvironment; calls: string[]; warnings: string[]; crontab: () => string }> {
  const root = await makeRoot({
    'etc/maas/maas-machine-creds.yml': credsYaml({ consumer_key: 'ck', endpoint: 'http://maas.example.com:5240/MAAS/metadata/status/h7k2pq', token_key: 'tk', token_secret: 'ts' }),
  });
  await chmod(join(root, CREDS), 0o600);
  const calls: string[] = [];
  const warnings: string[] = [];
  let table = crontab;
  const environment: SyncEnvironment = {
    root,
    live: true,
    env: { HOME: '/home/op' },
    uid: 0,
    username: 'op',
    warn: (line) => warnings.push(line),
    exec: async (file, args, input) => {
      calls.push([file, ...args].join(' '));
      if (file === 'crontab' && args[0] === '-l') {
        if (table === '') throw new Error('no crontab for op');
        return table;
      }
      if (file === 'crontab' && args[0] === '-') table = input ?? '';
      if (file === 'crontab' && args[0] === '-r') table = '';
      if (file === 'systemctl' && args.includes('disable')) throw new Error('systemctl disable failed: Unit maas-run-scripts-sync.timer not loaded.');
      return '';
    },
  };
  return { environment, calls, warnings, crontab: () => table };
}

const TOOL = ['/usr/bin/maas-run-scripts'];

describe('install-sync on the live system', () => {
  it('reloads systemd and enables and starts the timer; uninstall-sync disables it, removes the files and reloads, even when disabling fails', async () => {
    const { environment, calls, warnings } = await liveRoot();
    await installSync({ config: CREDS, intervalSeconds: 3600, scope: 'system', scheduler: 'systemd', tool: TOOL }, environment);
    expect(calls).toEqual(['systemctl daemon-reload', 'systemctl enable --now maas-run-scripts-sync.timer']);
    calls.length = 0;
    await uninstallSync('system', environment);
    expect(calls).toEqual(['systemctl disable --now maas-run-scripts-sync.timer', 'systemctl daemon-reload']);
    expect(warnings).toEqual(['warning: systemctl disable failed: Unit maas-run-scripts-sync.timer not loaded.']);
    expect(await readdir(join(environment.root, 'etc/systemd/system')).catch(() => 'gone')).toBe('gone');
  });

  it('uses the user manager with --user', async () => {
    const { environment, calls } = await liveRoot();
    await installSync({ config: CREDS, intervalSeconds: 1800, scope: 'user', scheduler: 'systemd', tool: TOOL }, environment);
    expect(calls).toEqual(['systemctl --user daemon-reload', 'systemctl --user enable --now maas-run-scripts-sync.timer']);
  });

  it('edits the user crontab through crontab(1), keeping the lines already there, and restores it exactly', async () => {
    const mine = 'MAILTO=op\n0 4 * * * /usr/local/bin/backup\n';
    const { environment, calls, crontab } = await liveRoot(mine);
    await installSync({ config: CREDS, intervalSeconds: 3600, scope: 'user', scheduler: 'cron', tool: TOOL }, environment);
    expect(calls).toEqual(['crontab -l', 'crontab -']);
    expect(crontab().startsWith(mine)).toBe(true);
    expect(crontab()).toMatch(/^\d+ \* \* \* \* sleep .* \/usr\/bin\/maas-run-scripts report-results --config \/etc\/maas\/maas-machine-creds\.yml/m);
    expect((await syncStatus(undefined, environment)).scope).toBe('user');
    await uninstallSync('user', environment);
    expect(crontab()).toBe(mine);
  });

  it('removes the user crontab it created when nothing else is left in it', async () => {
    const { environment, calls, crontab } = await liveRoot('');
    await installSync({ config: CREDS, intervalSeconds: 3600, scope: 'user', scheduler: 'cron', tool: TOOL }, environment);
    await uninstallSync('user', environment);
    expect(calls.at(-1)).toBe('crontab -r');
    expect(crontab()).toBe('');
  });

  it('refuses a system install by a user other than root, before writing or running anything', async () => {
    const { environment, calls } = await liveRoot();
    await expect(installSync({ config: CREDS, intervalSeconds: 3600, scope: 'system', scheduler: 'systemd', tool: TOOL }, { ...environment, uid: 1000 })).rejects.toThrow(
      /^install-sync writes system units or \/etc\/cron\.d: run it as root \(sudo\), or add --user/,
    );
    expect(calls).toEqual([]);
    expect(await readFile(join(environment.root, 'etc/systemd/system/maas-run-scripts-sync.timer'), 'utf8').catch(() => 'none')).toBe('none');
  });
});

// The one part the stand-in above replaces: how systemctl and crontab are run. Checked here with
// a shell in their place, since running them for real would change this machine.
describe('running systemctl and crontab', () => {
  const { exec } = syncEnvironment('/');

  it('passes the input on standard input and returns standard output, with LC_ALL=C', async () => {
    expect(await exec('/bin/sh', ['-c', 'cat; echo "LC_ALL=$LC_ALL"'], '# old crontab line\n')).toBe('# old crontab line\nLC_ALL=C\n');
  });

  it('is not upset by a program that exits without reading its input', async () => {
    expect(await exec('/bin/sh', ['-c', 'echo done'], 'x'.repeat(4 * 1024 * 1024))).toBe('done\n');
  });

  it('runs the program at idle CPU priority (nice 19), read back from its /proc stat', async () => {
    // Field 19 of /proc/<pid>/stat is the nice value; the command name has no space here.
    expect((await exec('/bin/sh', ['-c', 'cut -d " " -f 19 /proc/$$/stat'])).trim()).toBe('19');
  });

  it('turns a failure into one line with the program and its first line of stderr', async () => {
    await expect(exec('/bin/sh', ['-c', 'echo "no crontab for op" >&2; echo more >&2; exit 1'])).rejects.toThrow(/^\/bin\/sh -c .* failed: no crontab for op$/);
    await expect(exec('/bin/sh', ['-c', 'exit 3'])).rejects.toThrow(/failed: exit status 3$/);
  });

  it('says so when the program is not installed', async () => {
    await expect(exec('/nonexistent/crontab', ['-l'])).rejects.toThrow('/nonexistent/crontab -l failed: /nonexistent/crontab: command not found');
  });
});
