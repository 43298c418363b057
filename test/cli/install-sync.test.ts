// install-sync, uninstall-sync and sync-status as users run them: the built CLI as a subprocess,
// always with --root pointing at a temporary tree (the real system's units and crontab are never
// touched), and report-results against the bundled server on 127.0.0.1 for the status.
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MaasClient } from '../../src/maas/client.js';
import { credsYaml, parseCredentials } from '../../src/maas/credentials.js';
import { machineKey } from '../../src/runner/report.js';
import { calendarExpressions, cronSchedules, syncOffset } from '../../src/runner/sync-schedule.js';
import { startMaasServer, type RunningServer } from '../../src/server/server.js';
import { CLI, runCli } from '../helpers/cli.js';

const FAST_RETRIES = { MAAS_RUN_SCRIPTS_ATTEMPTS: '2', MAAS_RUN_SCRIPTS_RETRY_DELAY: '0.05', MAAS_RUN_SCRIPTS_RETRY_TOTAL: '5', MAAS_RUN_SCRIPTS_TIMEOUT: '5' };
const CREDS_PATH = '/etc/maas/maas-machine-creds.yml';
const TOKEN = { consumer_key: 'ck-host', token_key: 'tk-host', token_secret: 'secret-never-shown' };

let work: string;
let counter = 0;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'install-sync-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A fresh target root holding a creds file (mode 0600) for machine `systemId`; systemd "running" when asked. */
async function targetRoot(options: { systemId?: string; endpoint?: string; systemd?: boolean; mode?: number } = {}): Promise<string> {
  const root = join(work, `root-${++counter}`);
  await mkdir(join(root, 'etc/maas'), { recursive: true });
  await mkdir(join(root, 'etc/cron.d'), { recursive: true });
  if (options.systemd) await mkdir(join(root, 'run/systemd/system'), { recursive: true });
  const endpoint = options.endpoint ?? `http://maas.example.com:5240/MAAS/metadata/status/${options.systemId ?? 'k3xw7p'}`;
  await writeFile(join(root, CREDS_PATH), credsYaml({ ...TOKEN, endpoint }), { mode: options.mode ?? 0o600 });
  await chmod(join(root, CREDS_PATH), options.mode ?? 0o600);
  return root;
}

/** Every entry under `root`: type, mode, content or link target, so two snapshots compare a whole tree. */
async function snapshot(root: string): Promise<Record<string, string>> {
  const entries: Record<string, string> = {};
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const info = await lstat(path);
      const key = `${rel}/${name}`;
      const mode = (info.mode & 0o7777).toString(8);
      if (info.isSymbolicLink()) entries[key] = `link ${await readlink(path)}`;
      else if (info.isDirectory()) {
        entries[key] = `dir ${mode}`;
        await walk(path, key);
      } else entries[key] = `file ${mode} ${await readFile(path, 'utf8')}`;
    }
  };
  await walk(root, '');
  return entries;
}

const expectedOffset = (systemId: string, interval: number) => syncOffset(machineKey(`http://maas.example.com:5240/MAAS/metadata/status/${systemId}`, { consumerKey: '', tokenKey: TOKEN.token_key, tokenSecret: '', consumerSecret: '' }), interval);

/** The values of `key=` lines of a unit. */
const values = (unit: string, key: string) => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]);

describe('install-sync with systemd', () => {
  it('writes a service and timer running report-results on the host\'s slot at idle priority with a memory cap, enabled, and uninstall-sync leaves the root as it was', async () => {
    const root = await targetRoot({ systemId: 'k3xw7p', systemd: true });
    const before = await snapshot(root);
    const run = await runCli(['install-sync', '--config', CREDS_PATH, '--root', root]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).not.toContain(TOKEN.token_secret);

    const unitDir = join(root, 'etc/systemd/system');
    const service = await readFile(join(unitDir, 'maas-run-scripts-sync.service'), 'utf8');
    const timer = await readFile(join(unitDir, 'maas-run-scripts-sync.timer'), 'utf8');
    // The tool as it ran here (Node and this script), absolute, then the run with that creds file.
    expect(values(service, 'ExecStart')).toEqual([`${process.execPath} ${CLI} report-results --config ${CREDS_PATH} --state-dir /var/lib/maas-run-scripts`]);
    expect(values(service, 'Type')).toEqual(['oneshot']);
    expect(values(service, 'Nice')).toEqual(['19']);
    expect(values(service, 'IOSchedulingClass')).toEqual(['idle']);
    expect(values(service, 'CPUSchedulingPolicy')).toEqual(['idle']);
    expect(values(service, 'MemoryMax')).toEqual(['512M']);
    expect(values(service, 'ConditionPathExists')).toEqual([CREDS_PATH]);

    const offset = expectedOffset('k3xw7p', 3600);
    expect(values(timer, 'OnCalendar')).toEqual(calendarExpressions(3600, offset));
    expect(values(timer, 'RandomizedDelaySec')).toEqual(['60']);
    expect(values(timer, 'Persistent')).toEqual(['true']);
    expect(values(timer, 'WantedBy')).toEqual(['timers.target']);
    // Nothing systemd 245 would not know.
    expect(timer).not.toMatch(/RandomizedOffsetSec|FixedRandomDelay/);
    // Enabled as `systemctl enable` would: a link in timers.target.wants to the unit's path on the target.
    expect(await readlink(join(unitDir, 'timers.target.wants/maas-run-scripts-sync.timer'))).toBe('/etc/systemd/system/maas-run-scripts-sync.timer');
    expect((await lstat(join(unitDir, 'maas-run-scripts-sync.timer'))).mode & 0o777).toBe(0o644);

    const removed = await runCli(['uninstall-sync', '--root', root]);
    expect(removed.exitCode, removed.stderr).toBe(0);
    expect(await snapshot(root)).toEqual(before);
  });

  // systemd-analyze is systemd's own unit parser; where it is not installed there is nothing to ask.
  it.skipIf(!existsSync('/usr/bin/systemd-analyze'))('writes units systemd-analyze verify accepts without a warning', async () => {
    const root = await targetRoot({ systemd: true });
    expect((await runCli(['install-sync', '--config', CREDS_PATH, '--root', root, '--interval', '90m'])).exitCode).toBe(0);
    const unitDir = join(root, 'etc/systemd/system');
    // --man=no: the Documentation= man page is not installed on a test machine.
    const verify = await execa('/usr/bin/systemd-analyze', ['verify', '--man=no', './maas-run-scripts-sync.service', './maas-run-scripts-sync.timer'], { cwd: unitDir, reject: false, env: { LC_ALL: 'C' } });
    expect(verify.exitCode, verify.stderr).toBe(0);
    expect(verify.stderr).toBe('');
  });

  it('writes user units under the home directory with --user, and removes them again', async () => {
    const root = await targetRoot({ systemd: true });
    const before = await snapshot(root);
    const env = { HOME: '/home/tester', XDG_CONFIG_HOME: '', XDG_STATE_HOME: '' };
    const run = await runCli(['install-sync', '--config', CREDS_PATH, '--root', root, '--user', '--interval', '30m'], { env });
    expect(run.exitCode, run.stderr).toBe(0);
    const unitDir = join(root, 'home/tester/.config/systemd/user');
    const service = await readFile(join(unitDir, 'maas-run-scripts-sync.service'), 'utf8');
    expect(values(service, 'ExecStart')[0]).toContain('--state-dir /home/tester/.local/state/maas-run-scripts');
    expect(values(service, 'StateDirectory')).toEqual([]);
    expect(values(await readFile(join(unitDir, 'maas-run-scripts-sync.timer'), 'utf8'), 'OnCalendar')).toEqual(calendarExpressions(1800, expectedOffset('k3xw7p', 1800)));
    expect(await readlink(join(unitDir, 'timers.target.wants/maas-run-scripts-sync.timer'))).toBe('/home/tester/.config/systemd/user/maas-run-scripts-sync.timer');
    // The system scope has nothing to remove; the user scope has.
    expect((await runCli(['uninstall-sync', '--root', root], { env })).exitCode).toBe(1);
    expect((await runCli(['uninstall-sync', '--root', root, '--user'], { env })).exitCode).toBe(0);
    expect(await snapshot(root)).toEqual(before);
  });

  it('gives a host the same slot on every install: installed, removed and installed again under another root', async () => {
    const first = await targetRoot({ systemId: 'p4m8qa', systemd: true });
    const second = await targetRoot({ systemId: 'p4m8qa', systemd: true });
    const other = await targetRoot({ systemId: 'z9z9z9', systemd: true });
    const timerOf = async (root: string) => values(await readFile(join(root, 'etc/systemd/system/maas-run-scripts-sync.timer'), 'utf8'), 'OnCalendar');
    expect((await runCli(['install-sync', '--config', CREDS_PATH, '--root', first])).exitCode).toBe(0);
    const once = await timerOf(first);
    expect((await runCli(['uninstall-sync', '--root', first])).exitCode).toBe(0);
    expect((await runCli(['install-sync', '--config', CREDS_PATH, '--root', first])).exitCode).toBe(0);
    expect(await timerOf(first)).toEqual(once);
    expect((await runCli(['install-sync', '--config', CREDS_PATH, '--root', second])).exitCode).toBe(0);
    expect(await timerOf(second)).toEqual(once);
    expect((await runCli(['install-sync', '--config', CREDS_PATH, '--root', other])).exitCode).toBe(0);
    expect(await timerOf(other)).not.toEqual(once);
  });

  it('replaces its own earlier install when run again (another interval) and still uninstalls to the original tree', async () => {
    const root = await targetRoot({ systemd: true });
    const before = await snapshot(root);
    expect((await runCli(['install-sync', '--config', CREDS_PATH, '--root', root])).exitCode).toBe(0);
    const again = await runCli(['install-sync', '--config', CREDS_PATH, '--root', root, '--interval', '6h']);
    expect(again.exitCode, again.stderr).toBe(0);
    const timer = await readFile(join(root, 'etc/systemd/system/maas-run-scripts-sync.timer'), 'utf8');
    expect(values(timer, 'OnCalendar')).toEqual(calendarExpressions(6 * 3600, expectedOffset('k3xw7p', 6 * 3600)));
    expect((await runCli(['uninstall-sync', '--root', root])).exitCode).toBe(0);
    expect(await snapshot(root)).toEqual(before);
  });
});

describe('install-sync with cron', () => {
  it('writes /etc/cron.d on a host without systemd: the slot\'s minute, its seconds and random delay slept first, idle priority, a memory cap', async () => {
    const root = await targetRoot({ systemId: 'r2d2c3' });
    const before = await snapshot(root);
    const run = await runCli(['install-sync', '--config', CREDS_PATH, '--root', root, '--interval', '90m']);
    expect(run.exitCode, run.stderr).toBe(0);
    const text = await readFile(join(root, 'etc/cron.d/maas-run-scripts-sync'), 'utf8');
    const lines = text.split('\n').filter((l) => l && !l.startsWith('#'));
    const offset = expectedOffset('r2d2c3', 5400);
    expect(lines.map((l) => l.split(' ').slice(0, 5).join(' '))).toEqual(cronSchedules(5400, offset));
    const second = offset % 60;
    for (const line of lines) {
      expect(line.split(' ')[5]).toBe('root');
      expect(line).toContain(`sleep $(shuf -i ${second}-${second + 60} -n 1)`);
      expect(line).toContain('ulimit -d 524288');
      expect(line).toContain(`nice -n 19 ionice -c 3 ${process.execPath} ${CLI} report-results --config ${CREDS_PATH} --state-dir /var/lib/maas-run-scripts`);
    }
    expect((await lstat(join(root, 'etc/cron.d/maas-run-scripts-sync'))).mode & 0o777).toBe(0o644);
    expect(await readdir(join(root, 'etc/systemd')).catch(() => [])).toEqual([]);

    expect((await runCli(['uninstall-sync', '--root', root])).exitCode).toBe(0);
    expect(await snapshot(root)).toEqual(before);
  });

  it('adds a block to the user crontab with --user, keeping the lines already there, and takes exactly that block out again', async () => {
    const root = await targetRoot();
    const user = (await import('node:os')).userInfo().username;
    const crontab = join(root, 'var/spool/cron/crontabs', user);
    await mkdir(join(root, 'var/spool/cron/crontabs'), { recursive: true });
    await writeFile(crontab, '# my jobs\n0 4 * * * /usr/local/bin/backup\n', { mode: 0o600 });
    const before = await snapshot(root);
    const env = { HOME: '/home/tester', XDG_CONFIG_HOME: '', XDG_STATE_HOME: '' };
    const run = await runCli(['install-sync', '--config', CREDS_PATH, '--root', root, '--user', '--scheduler', 'cron'], { env });
    expect(run.exitCode, run.stderr).toBe(0);
    const text = await readFile(crontab, 'utf8');
    expect(text.startsWith('# my jobs\n0 4 * * * /usr/local/bin/backup\n')).toBe(true);
    const [entry] = text.split('\n').filter((l) => /^\d/.test(l) && l.includes('report-results'));
    expect(entry!.split(' ').slice(0, 5).join(' ')).toBe(cronSchedules(3600, expectedOffset('k3xw7p', 3600))[0]);
    expect(entry).toContain('--state-dir /home/tester/.local/state/maas-run-scripts');

    const status = await runCli(['sync-status', '--root', root, '--json'], { env });
    expect(status.exitCode, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ installed: true, scheduler: 'cron', scope: 'user' });

    expect((await runCli(['uninstall-sync', '--root', root, '--user'], { env })).exitCode).toBe(0);
    expect(await snapshot(root)).toEqual(before);
  });
});

describe('install-sync refuses', () => {
  const refusals: [string, (root: string) => Promise<string[]>, RegExp][] = [
    ['a missing creds file', async () => ['--config', '/etc/maas/nothing.yml'], /cannot read creds file .*nothing\.yml: no such file or directory/],
    [
      'an unreadable creds file',
      async (root) => {
        await mkdir(join(root, 'etc/maas/dir.yml'));
        return ['--config', '/etc/maas/dir.yml'];
      },
      /cannot read creds file .*dir\.yml: it is not a regular file/,
    ],
    [
      'a creds file others can read',
      async (root) => {
        await chmod(join(root, CREDS_PATH), 0o644);
        return ['--config', CREDS_PATH];
      },
      /can be read by other users \(mode 0644\); make it private \(chmod 600 /,
    ],
    [
      'a creds file its group can read',
      async (root) => {
        await chmod(join(root, CREDS_PATH), 0o640);
        return ['--config', CREDS_PATH];
      },
      /can be read by other users \(mode 0640\)/,
    ],
    [
      'a file that is not a creds file',
      async (root) => {
        await writeFile(join(root, 'etc/maas/other.yml'), 'hello: world\n', { mode: 0o600 });
        return ['--config', '/etc/maas/other.yml'];
      },
      /has neither reporting\.maas nor datasource\.MAAS/,
    ],
    ['an interval that does not divide a day', async () => ['--config', CREDS_PATH, '--interval', '7m'], /--interval 7m is not a usable interval/],
    ['an interval longer than a day', async () => ['--config', CREDS_PATH, '--interval', '2d'], /--interval 2d is not a usable interval/],
    ['a relative creds path with --root', async () => ['--config', 'etc/maas/maas-machine-creds.yml'], /must be an absolute path when --root is given/],
  ];

  it.each(refusals)('%s: one line, exit 2, nothing written', async (_what, arrange, message) => {
    const root = await targetRoot({ systemd: true });
    const args = await arrange(root);
    const before = await snapshot(root);
    const run = await runCli(['install-sync', ...args, '--root', root]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toContain(TOKEN.token_secret);
    expect(await snapshot(root)).toEqual(before);
  });

  it('to overwrite a unit it did not write, and leaves nothing behind', async () => {
    const root = await targetRoot({ systemd: true });
    await mkdir(join(root, 'etc/systemd/system'), { recursive: true });
    await writeFile(join(root, 'etc/systemd/system/maas-run-scripts-sync.timer'), '# an operator\'s own timer\n');
    const before = await snapshot(root);
    const run = await runCli(['install-sync', '--config', CREDS_PATH, '--root', root]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/maas-run-scripts-sync\.timer already exists and was not written by install-sync; remove it first/);
    expect(await snapshot(root)).toEqual(before);
  });
});

describe('sync-status', () => {
  let server: RunningServer;
  let admin: MaasClient;
  beforeAll(async () => {
    server = await startMaasServer({ port: 0 });
    admin = new MaasClient({ baseUrl: server.url, credentials: parseCredentials(server.adminKey, 'admin key') });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('says when nothing is installed (exit 1)', async () => {
    const root = await targetRoot();
    const run = await runCli(['sync-status', '--root', root]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/no periodic sync is installed; install one with: maas-run-scripts install-sync/);
  });

  it('shows the schedule, the offset, the last run with its outcome and the last delivery that report-results recorded', async () => {
    const machine = await admin.createMachine({ hostname: `sync-status-${counter}`, deployed: 'true' });
    const token = (await admin.getMachineToken(machine.system_id))!;
    const root = await targetRoot({ systemd: true });
    await writeFile(
      join(root, CREDS_PATH),
      credsYaml({ consumer_key: token.consumer_key, endpoint: `${server.url}/metadata/status/${machine.system_id}`, token_key: token.token_key, token_secret: token.token_secret }),
      { mode: 0o600 },
    );
    await mkdir(join(root, 'proc/sys/kernel'), { recursive: true });
    await writeFile(join(root, 'proc/sys/kernel/hostname'), 'status-host\n');
    expect((await runCli(['install-sync', '--config', CREDS_PATH, '--root', root, '--interval', '2h'])).exitCode).toBe(0);

    const never = JSON.parse((await runCli(['sync-status', '--root', root, '--json'])).stdout) as Record<string, unknown>;
    const offset = syncOffset(machineKey(`${server.url}/metadata/status/${machine.system_id}`, parseCredentials(`${token.consumer_key}:${token.token_key}:${token.token_secret}`, 't')), 7200);
    expect(never).toMatchObject({ installed: true, scheduler: 'systemd', interval: '2h', schedule: calendarExpressions(7200, offset), config: CREDS_PATH });
    expect(never.last_run).toBeUndefined();
    expect((await runCli(['sync-status', '--root', root])).stdout).toMatch(/^last run: +never$/m);

    // What the timer would run (the state directory under the root, the collectors reading the tree).
    const report = (...extra: string[]) =>
      runCli(['report-results', '--config', join(root, CREDS_PATH), '--state-dir', join(root, 'var/lib/maas-run-scripts'), '--root', root, ...extra], { env: FAST_RETRIES });
    const first = await report();
    expect(first.exitCode, first.stderr).toBe(0);
    const afterFirst = JSON.parse((await runCli(['sync-status', '--root', root, '--json'])).stdout) as { last_run: Record<string, unknown>; last_delivery: { at: string; delivered: number } };
    expect(afterFirst.last_run).toMatchObject({ outcome: 'ok', delivered: 6, unchanged: 0 });
    expect(afterFirst.last_delivery.delivered).toBe(6);

    // Nothing changed: the next run finds results unchanged (on a captured tree lshw cannot run and
    // fails, and a failure is always sent, so the run still delivers that one).
    expect((await report()).exitCode).toBe(0);
    const steady = JSON.parse((await runCli(['sync-status', '--root', root, '--json'])).stdout) as { last_run: { outcome: string; delivered: number; unchanged: number }; last_delivery: { at: string; delivered: number } };
    expect(steady.last_run.outcome).toBe('ok');
    expect(steady.last_run.unchanged).toBeGreaterThan(0);
    expect(steady.last_run.delivered + steady.last_run.unchanged).toBe(6);
    expect(steady.last_delivery.delivered).toBe(steady.last_run.delivered);

    // MAAS unreachable: the run is recorded as incomplete, with why.
    const down = await report('--metadata-url', 'http://127.0.0.1:9');
    expect(down.exitCode).toBe(1);
    const text = await runCli(['sync-status', '--root', root]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(/^schedule: +every 2h, .* into the interval, plus up to 60s of random delay \(systemd\)$/m);
    expect(text.stdout).toMatch(/^last run: +\S+ incomplete \(0 delivered, 0 unchanged, \d+ spooled, 0 rejected\): .*cannot reach MAAS/m);
    // The last delivery is still the one before the outage.
    expect(text.stdout).toContain(`last delivery: ${steady.last_delivery.at} (${steady.last_delivery.delivered} result(s))`);
    expect(text.stdout + text.stderr).not.toContain(token.token_secret);
  });
});
