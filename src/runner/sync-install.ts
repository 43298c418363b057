// install-sync, uninstall-sync and sync-status (docs/design.md D19): the periodic report-results
// run as a systemd service and timer, or as a cron entry where systemd is not running, at idle
// CPU and IO priority with a memory cap, on the host's own slot of the interval
// (sync-schedule.ts). Everything is written under a root directory ('/' on the live system; any
// directory for tests and image builds), and a manifest in the state directory lists exactly what
// was written, so uninstall-sync removes that and nothing else. Only on the live system are
// systemctl and crontab run, through the injected `exec`.
import { userInfo } from 'node:os';
import { lstat, mkdir, readFile, readlink, rm, rmdir, stat, symlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, posix, resolve } from 'node:path';
import { CliError, hasCode, oneLine, UsageError } from '../errors.js';
import { fsReason, writeAtomic } from '../files.js';
import { runCommand } from '../host/run-command.js';
import { readCredsFile } from '../maas/credentials.js';
import { machineKey } from './report.js';
import { readRunRecord, type RunRecord } from './run-record.js';
import { machineStateDir } from './spool.js';
import { calendarExpressions, cronSchedules, formatSeconds, syncJitter, syncOffset } from './sync-schedule.js';

export type Scheduler = 'systemd' | 'cron';
export type SyncScope = 'system' | 'user';

/** The base name of the units (`.service`, `.timer`) and of the cron.d file. */
export const SYNC_UNIT = 'maas-run-scripts-sync';
const MANIFEST = 'sync-install.json';
const MANIFEST_FORMAT = 1;
/** The memory cap of a run: systemd MemoryMax=, and the data-segment limit of the cron entry. */
export const MEMORY_CAP_MIB = 512;
/** How long one run may take before it is stopped (TimeoutStartSec=, `timeout` in cron). */
const RUN_TIMEOUT = '1h';
const CRON_BEGIN = '# BEGIN maas-run-scripts install-sync';
const CRON_END = '# END maas-run-scripts install-sync';

/** Runs a program of the live system (systemctl, crontab); rejects with a one-line reason. */
export type ExecProgram = (file: string, args: readonly string[], input?: string) => Promise<string>;

/** Who and where the command runs: injected so tests can describe a user and a home under a root. */
export interface SyncEnvironment {
  /** Where the target system's files are: '/' for the live system. */
  root: string;
  env: NodeJS.ProcessEnv;
  uid: number | undefined;
  username: string;
  /** Runs systemctl and crontab; called only on the live system. */
  exec: ExecProgram;
  /** Whether `root` is the running system (default: root is '/'), where systemctl and crontab are used. */
  live?: boolean;
  /** Where a step that failed without harm is reported (default: standard error). */
  warn?: (line: string) => void;
}

export interface InstallSyncOptions {
  /** The creds file, as the target system sees it (absolute). */
  config: string;
  intervalSeconds: number;
  scope: SyncScope;
  /** Default: systemd when <root>/run/systemd/system exists (systemd is running), else cron. */
  scheduler?: Scheduler;
  /** The command line that runs the tool, absolute paths (e.g. [node, script] or [standalone]). */
  tool: readonly string[];
}

/** The environment of this process for `root`: its user, and systemctl and crontab run for real (LC_ALL=C, with a timeout). */
export function syncEnvironment(root: string | undefined): SyncEnvironment {
  let username = process.env.USER || 'root';
  try {
    username = userInfo().username;
  } catch {
    // no passwd entry (a container): keep $USER
  }
  return {
    root: resolve(root ?? '/'),
    env: process.env,
    uid: process.getuid?.(),
    username,
    // Through the tool's one command runner: idle priority, LC_ALL=C, a timeout, no shell.
    exec: async (file, args, input) => {
      const result = await runCommand(file, args, { timeoutMs: 60_000, ...(input === undefined ? {} : { input }) });
      if (result.failed) {
        const reason = result.stderr.trim().split('\n')[0] || (result.timedOut ? 'it did not finish within 60 s' : `exit status ${result.exitCode ?? 'unknown'}`);
        throw new CliError(`${file} ${args.join(' ')} failed: ${reason}`);
      }
      return result.stdout;
    },
  };
}

/** What a manifest records: the schedule, and every file, link, directory and crontab block written. */
export interface SyncManifest {
  format: number;
  scheduler: Scheduler;
  scope: SyncScope;
  interval_seconds: number;
  offset_seconds: number;
  jitter_seconds: number;
  /** OnCalendar= values (UTC) or cron time fields (local time). */
  schedule: string[];
  config: string;
  state_dir: string;
  /** Names the machine's state (machine-<system_id>, else token-<digest>); also the offset's hash input. */
  machine_key: string;
  command: string[];
  installed_at: string;
  /** Files written whole (target paths). */
  files: string[];
  links: { path: string; target: string }[];
  /** Directories created, parents first. */
  dirs: string[];
  /** A block added to a crontab (user crontab): where, and whether the file was created for it. */
  crontab?: { path: string; created: boolean; live: boolean };
}

/** Where things go for a scope (target paths, without the root). */
function locations(scope: SyncScope, env: NodeJS.ProcessEnv, username: string): { unitDir: string; stateDir: string; cronFile: string } {
  if (scope === 'system') return { unitDir: '/etc/systemd/system', stateDir: '/var/lib/maas-run-scripts', cronFile: `/etc/cron.d/${SYNC_UNIT}` };
  const home = env.HOME && isAbsolute(env.HOME) ? env.HOME : `/home/${username}`;
  const config = env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : posix.join(home, '.config');
  return {
    unitDir: posix.join(config, 'systemd', 'user'),
    // report-results' default for a user other than root, for root's --user schedule too.
    stateDir: env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME) ? posix.join(env.XDG_STATE_HOME, 'maas-run-scripts') : posix.join(home, '.local', 'state', 'maas-run-scripts'),
    cronFile: `/var/spool/cron/crontabs/${username}`,
  };
}

const isLive = (environment: Pick<SyncEnvironment, 'root' | 'live'>) => environment.live ?? resolve(environment.root) === '/';
const under = (root: string, path: string) => join(root, path);

/** systemd when it runs on the target (its runtime directory exists), else cron. */
export async function detectScheduler(root: string): Promise<Scheduler> {
  const info = await stat(under(root, '/run/systemd/system')).catch(() => undefined);
  return info?.isDirectory() ? 'systemd' : 'cron';
}

/** Installs (replacing an earlier install of the same scope) and returns the manifest. */
export async function installSync(options: InstallSyncOptions, environment: SyncEnvironment): Promise<SyncManifest> {
  const { root, env, username } = environment;
  const live = isLive(environment);
  if (live && options.scope === 'system' && environment.uid !== 0) {
    throw new UsageError('install-sync writes system units or /etc/cron.d: run it as root (sudo), or add --user for a schedule of your own');
  }
  if (!isAbsolute(options.config)) throw new UsageError(`--config ${options.config} must be an absolute path`);
  const credsPath = under(root, options.config);
  const creds = await readCredsFile(credsPath);
  const mode = (await stat(credsPath)).mode;
  if ((mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    throw new UsageError(`creds file ${credsPath} can be read by other users (mode ${octal}); make it private (chmod 600 ${credsPath}) and run install-sync again`);
  }
  const scheduler = options.scheduler ?? (await detectScheduler(root));
  const where = locations(options.scope, env, username);

  const previous = await readManifest(root, where.stateDir);
  if (previous) await uninstallWith(previous, environment);

  const key = machineKey(creds.endpoint, creds.credentials);
  const interval = options.intervalSeconds;
  const offset = syncOffset(key, interval);
  const jitter = syncJitter(interval);
  const command = [...options.tool, 'report-results', '--config', options.config, '--state-dir', where.stateDir];
  const manifest: SyncManifest = {
    format: MANIFEST_FORMAT,
    scheduler,
    scope: options.scope,
    interval_seconds: interval,
    offset_seconds: offset,
    jitter_seconds: jitter,
    schedule: scheduler === 'systemd' ? calendarExpressions(interval, offset) : cronSchedules(interval, offset),
    config: options.config,
    state_dir: where.stateDir,
    machine_key: key,
    command,
    installed_at: new Date().toISOString(),
    files: [],
    links: [],
    dirs: [],
  };
  const writer = new TreeWriter(root, manifest);
  try {
    if (scheduler === 'systemd') {
      const service = posix.join(where.unitDir, `${SYNC_UNIT}.service`);
      const timer = posix.join(where.unitDir, `${SYNC_UNIT}.timer`);
      await writer.file(service, serviceUnit(manifest), 0o644);
      await writer.file(timer, timerUnit(manifest), 0o644);
      // What `systemctl enable` does: the timer wanted by timers.target.
      await writer.link(posix.join(where.unitDir, 'timers.target.wants', `${SYNC_UNIT}.timer`), timer);
    } else if (options.scope === 'system') {
      await writer.file(where.cronFile, cronFile(manifest, 'root'), 0o644);
    } else {
      await addCrontabBlock(writer, where.cronFile, cronLines(manifest, undefined), environment);
    }
    await writer.dir(where.stateDir, 0o700);
    await writeAtomic(under(root, posix.join(where.stateDir, MANIFEST)), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  } catch (error) {
    // Nothing half-written: take back what this attempt wrote.
    await removeWritten(root, manifest).catch(() => undefined);
    if (error instanceof CliError) throw error;
    throw new CliError(`install-sync could not write under ${root}: ${fsReason(error)}`, { cause: error, code: 'MRS_FILE_WRITE' });
  }
  if (live && scheduler === 'systemd') {
    const user = options.scope === 'user' ? ['--user'] : [];
    await environment.exec('systemctl', [...user, 'daemon-reload']);
    await environment.exec('systemctl', [...user, 'enable', '--now', `${SYNC_UNIT}.timer`]);
  }
  return manifest;
}

/** Removes what the install of `scope` wrote; returns its manifest, or undefined when nothing was installed. */
export async function uninstallSync(scope: SyncScope, environment: SyncEnvironment): Promise<SyncManifest | undefined> {
  const where = locations(scope, environment.env, environment.username);
  const manifest = await readManifest(environment.root, where.stateDir);
  if (!manifest) return undefined;
  await uninstallWith(manifest, environment);
  return manifest;
}

async function uninstallWith(manifest: SyncManifest, environment: SyncEnvironment): Promise<void> {
  const { root } = environment;
  const live = isLive(environment);
  const user = manifest.scope === 'user' ? ['--user'] : [];
  // systemctl failing (the timer already stopped, no user manager) must not keep the files.
  const systemctl = (args: string[]) =>
    environment.exec('systemctl', [...user, ...args]).catch((error: unknown) => (environment.warn ?? warnOnStderr)(`warning: ${oneLine(error)}`));
  if (live && manifest.scheduler === 'systemd') await systemctl(['disable', '--now', `${SYNC_UNIT}.timer`]);
  if (manifest.crontab) await removeCrontabBlock(manifest.crontab, environment);
  await rm(under(root, posix.join(manifest.state_dir, MANIFEST)), { force: true });
  await removeWritten(root, manifest);
  if (live && manifest.scheduler === 'systemd') await systemctl(['daemon-reload']);
}

function warnOnStderr(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Removes the files and links of a manifest, then the directories it created that are empty. */
async function removeWritten(root: string, manifest: SyncManifest): Promise<void> {
  for (const link of manifest.links) await rm(under(root, link.path), { force: true });
  for (const file of manifest.files) await rm(under(root, file), { force: true });
  for (const dir of [...manifest.dirs].reverse()) {
    // A directory that has gained content since (the state of report runs) stays.
    await rmdir(under(root, dir)).catch((error: unknown) => {
      if (!hasCode(error, 'ENOENT', 'ENOTEMPTY', 'EEXIST')) throw error;
    });
  }
}

/** Reads the manifest of an install; undefined when there is none. */
export async function readManifest(root: string, stateDir: string): Promise<SyncManifest | undefined> {
  try {
    const parsed = JSON.parse(await readFile(under(root, posix.join(stateDir, MANIFEST)), 'utf8')) as Partial<SyncManifest>;
    return parsed.format === MANIFEST_FORMAT && Array.isArray(parsed.files) ? (parsed as SyncManifest) : undefined;
  } catch (error) {
    if (hasCode(error, 'ENOENT', 'ENOTDIR')) return undefined;
    throw new CliError(`cannot read the install manifest in ${under(root, stateDir)}: ${fsReason(error)}`, { cause: error });
  }
}

/** Writes files, links and directories under a root, recording each in the manifest as it goes. */
class TreeWriter {
  constructor(
    private readonly root: string,
    readonly manifest: SyncManifest,
  ) {}

  /** Creates `path` and its missing parents (recorded), each with `mode`. */
  async dir(path: string, mode = 0o755): Promise<void> {
    const parts = path.split('/').filter(Boolean);
    let at = '';
    for (const part of parts) {
      at = `${at}/${part}`;
      try {
        await mkdir(under(this.root, at), { mode });
        this.manifest.dirs.push(at);
      } catch (error) {
        if (!hasCode(error, 'EEXIST')) throw error;
      }
    }
  }

  async file(path: string, text: string, mode: number): Promise<void> {
    await this.dir(dirname(path));
    if (await exists(under(this.root, path))) throw new UsageError(`${under(this.root, path)} already exists and was not written by install-sync; remove it first`);
    this.manifest.files.push(path);
    await writeAtomic(under(this.root, path), text, { mode });
  }

  /** A symbolic link to `target` (a target path, as `systemctl enable` writes it). */
  async link(path: string, target: string): Promise<void> {
    await this.dir(dirname(path));
    const current = await readlink(under(this.root, path)).catch(() => undefined);
    if (current === target) return; // already enabled (e.g. by systemctl): not ours to remove
    this.manifest.links.push({ path, target });
    await symlink(target, under(this.root, path));
  }
}

async function exists(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined)) !== undefined;
}

// ---- the units and the cron entry ----

/** A word of ExecStart=: quoted when needed; `%` doubled (systemd specifiers). */
function systemdWord(word: string): string {
  if (/[\n\r]/.test(word)) throw new UsageError('paths given to install-sync must not contain line breaks');
  const escaped = word.replace(/%/g, '%%');
  return /^[\w@%+=:,./-]+$/.test(escaped) ? escaped : `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A word of a cron command (run by /bin/sh): single-quoted when needed; `%` escaped (cron turns it into a newline). */
function shellWord(word: string): string {
  if (/[\n\r]/.test(word)) throw new UsageError('paths given to install-sync must not contain line breaks');
  const quoted = /^[\w@+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
  return quoted.replace(/%/g, '\\%');
}

function describe(manifest: SyncManifest): string {
  return `every ${formatSeconds(manifest.interval_seconds)}, ${formatSeconds(manifest.offset_seconds)} into the interval, plus up to ${manifest.jitter_seconds}s of random delay`;
}

export function serviceUnit(manifest: SyncManifest): string {
  const system = manifest.scope === 'system';
  return [
    '# Written by maas-run-scripts install-sync; remove it with uninstall-sync.',
    '[Unit]',
    "Description=Report this machine's hardware to MAAS",
    'Documentation=man:maas-run-scripts(1)',
    ...(system ? ['After=network-online.target', 'Wants=network-online.target'] : []),
    // Nothing to do until the creds file is in place (as the packaged unit).
    `ConditionPathExists=${systemdWord(manifest.config)}`,
    '',
    '[Service]',
    'Type=oneshot',
    `ExecStart=${manifest.command.map(systemdWord).join(' ')}`,
    ...(system ? ['StateDirectory=maas-run-scripts', 'StateDirectoryMode=0700'] : []),
    'Nice=19',
    'IOSchedulingClass=idle',
    'CPUSchedulingPolicy=idle',
    `MemoryMax=${MEMORY_CAP_MIB}M`,
    `TimeoutStartSec=${RUN_TIMEOUT}`,
    '',
  ].join('\n');
}

export function timerUnit(manifest: SyncManifest): string {
  return [
    '# Written by maas-run-scripts install-sync; remove it with uninstall-sync.',
    `# Runs ${describe(manifest)}.`,
    '[Unit]',
    "Description=Report this machine's hardware to MAAS periodically",
    'Documentation=man:maas-run-scripts(1)',
    '',
    '[Timer]',
    ...manifest.schedule.map((expression) => `OnCalendar=${expression}`),
    `RandomizedDelaySec=${manifest.jitter_seconds}`,
    // The default accuracy (1 min) would move every run by a per-host amount of its own.
    'AccuracySec=1s',
    // After downtime, one run at start-up for all the runs missed.
    'Persistent=true',
    '',
    '[Install]',
    'WantedBy=timers.target',
    '',
  ].join('\n');
}

/** The cron lines: the offset's seconds plus a random delay slept first, then the run under limits. */
export function cronLines(manifest: SyncManifest, user: string | undefined): string[] {
  const first = manifest.offset_seconds % 60;
  const run = [
    `sleep $(shuf -i ${first}-${first + manifest.jitter_seconds} -n 1)`,
    `ulimit -d ${MEMORY_CAP_MIB * 1024}`,
    `exec timeout ${RUN_TIMEOUT} nice -n 19 ionice -c 3 ${manifest.command.map(shellWord).join(' ')}`,
  ].join(' && ');
  return manifest.schedule.map((fields) => `${fields}${user ? ` ${user}` : ''} ${run} >/dev/null 2>&1`);
}

function cronFile(manifest: SyncManifest, user: string): string {
  return [
    '# Written by maas-run-scripts install-sync; remove it with uninstall-sync.',
    `# Runs ${describe(manifest)} (local time).`,
    ...cronLines(manifest, user),
    '',
  ].join('\n');
}

async function addCrontabBlock(writer: TreeWriter, path: string, lines: string[], environment: SyncEnvironment): Promise<void> {
  const { root } = environment;
  const block = [CRON_BEGIN, ...lines, CRON_END];
  const { manifest } = writer;
  if (isLive(environment)) {
    const current = await environment.exec('crontab', ['-l']).catch(() => '');
    manifest.crontab = { path, created: false, live: true };
    await environment.exec('crontab', ['-'], joinLines([...withoutBlock(current), ...block]));
    return;
  }
  const full = under(root, path);
  const current = await readFile(full, 'utf8').catch((error: unknown) => {
    if (hasCode(error, 'ENOENT')) return undefined;
    throw error;
  });
  if (current === undefined) await writer.dir(dirname(path));
  manifest.crontab = { path, created: current === undefined, live: false };
  await writeAtomic(full, joinLines([...withoutBlock(current ?? ''), ...block]), { mode: 0o600 });
}

async function removeCrontabBlock(crontab: NonNullable<SyncManifest['crontab']>, environment: SyncEnvironment): Promise<void> {
  if (crontab.live) {
    const current = await environment.exec('crontab', ['-l']).catch(() => '');
    const kept = withoutBlock(current);
    await environment.exec('crontab', kept.length > 0 ? ['-'] : ['-r'], kept.length > 0 ? joinLines(kept) : undefined);
    return;
  }
  const full = under(environment.root, crontab.path);
  const current = await readFile(full, 'utf8').catch(() => undefined);
  if (current === undefined) return;
  const kept = withoutBlock(current);
  if (kept.length === 0 && crontab.created) await rm(full, { force: true });
  else await writeAtomic(full, joinLines(kept), { mode: 0o600 });
}

/** The lines of a crontab without our block (a file without a final newline keeps its last line). */
function withoutBlock(text: string): string[] {
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const begin = lines.indexOf(CRON_BEGIN);
  const end = lines.indexOf(CRON_END, begin);
  return begin === -1 || end === -1 ? lines : [...lines.slice(0, begin), ...lines.slice(end + 1)];
}

function joinLines(lines: string[]): string {
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

// ---- status ----

/** What sync-status shows (also its --json document). */
export interface SyncStatus {
  installed: boolean;
  scheduler?: Scheduler;
  scope?: SyncScope;
  interval?: string;
  offset?: string;
  jitter_seconds?: number;
  schedule?: string[];
  config?: string;
  state_dir?: string;
  last_run?: Omit<RunRecord, 'format' | 'last_delivery'>;
  last_delivery?: { at: string; delivered?: number };
}

/** Reads the install of `scope` (or: system, else user) and the last run it recorded. */
export async function syncStatus(scope: SyncScope | undefined, environment: SyncEnvironment): Promise<SyncStatus> {
  const scopes: SyncScope[] = scope ? [scope] : ['system', 'user'];
  let denied: string | undefined;
  for (const candidate of scopes) {
    const where = locations(candidate, environment.env, environment.username);
    let manifest: SyncManifest | undefined;
    try {
      manifest = await readManifest(environment.root, where.stateDir);
    } catch (error) {
      // The system's state directory is root's own (mode 0700): look at the user's, then say so.
      if (!hasCode((error as { cause?: unknown }).cause, 'EACCES')) throw error;
      denied ??= under(environment.root, where.stateDir);
      continue;
    }
    if (!manifest) continue;
    const machineDir = under(environment.root, machineStateDir(manifest.state_dir, manifest.machine_key));
    const record = await readRunRecord(machineDir);
    const delivery = record?.last_delivery ?? (await lastDeliveredAt(machineDir));
    const { format: _format, last_delivery: _last, ...run } = record ?? ({} as RunRecord);
    return {
      installed: true,
      scheduler: manifest.scheduler,
      scope: manifest.scope,
      interval: formatSeconds(manifest.interval_seconds),
      offset: formatSeconds(manifest.offset_seconds),
      jitter_seconds: manifest.jitter_seconds,
      schedule: manifest.schedule,
      config: manifest.config,
      state_dir: manifest.state_dir,
      ...(record ? { last_run: run } : {}),
      ...(delivery ? { last_delivery: delivery } : {}),
    };
  }
  if (denied) throw new UsageError(`cannot read the install manifest in ${denied}: permission denied; run sync-status as root (sudo)`);
  return { installed: false };
}

/** The latest delivery change-only sync remembers (delivered.json), for runs older than last-run.json. */
async function lastDeliveredAt(machineDir: string): Promise<{ at: string } | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(machineDir, 'delivered.json'), 'utf8')) as { results?: Record<string, { delivered_at?: number }> };
    const times = Object.values(parsed.results ?? {}).map((r) => r.delivered_at ?? 0);
    const latest = Math.max(0, ...times);
    return latest > 0 ? { at: new Date(latest).toISOString() } : undefined;
  } catch {
    return undefined;
  }
}
