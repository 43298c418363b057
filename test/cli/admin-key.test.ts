// The admin key off the command line, as operators give it: from a file (--admin-key-file), the
// environment (MAAS_ADMIN_KEY) or standard input (ADMIN_TOKEN or FILE given as -), for
// register-machine, get-machine-token and redfish-report. The built CLI runs as a subprocess
// against the bundled server; the key's secret must appear in no output, no file the tool writes
// and not in the process's argv as the system shows it (/proc/<pid>/cmdline).
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { MaasClient } from '../../src/maas/client.js';
import { parseCredentials } from '../../src/maas/credentials.js';
import { startMaasServer, type RunningServer } from '../../src/server/server.js';
import { CLI, type CliRun } from '../helpers/cli.js';
import { startFakeMaas } from '../helpers/fake-maas.js';
import { startRedfishMock } from '../helpers/redfish-mock.js';
import { eventually } from '../helpers/trees.js';
import { writeTree } from '../helpers/make-root.js';

const FAST = { MAAS_RUN_SCRIPTS_ATTEMPTS: '3', MAAS_RUN_SCRIPTS_RETRY_DELAY: '0.05', MAAS_RUN_SCRIPTS_RETRY_TOTAL: '10' };

let server: RunningServer;
let admin: MaasClient;
let work: string;
let keys: string;
let keyFile: string;
let secret: string;
let counter = 0;

beforeAll(async () => {
  server = await startMaasServer({ port: 0 });
  admin = new MaasClient({ baseUrl: server.url, credentials: parseCredentials(server.adminKey, 'admin key') });
  secret = server.adminKey.split(':')[2]!;
  // Where the tool may write (scanned for the secret afterwards), and, apart, the operator's key files.
  work = await mkdtemp(join(tmpdir(), 'mrs-adminkey-work-'));
  keys = await mkdtemp(join(tmpdir(), 'mrs-adminkey-keys-'));
  keyFile = join(keys, 'admin.key');
  await writeFile(keyFile, `${server.adminKey}\n`, { mode: 0o600 });
});
afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
  await rm(keys, { recursive: true, force: true });
});

interface Run extends CliRun {
  /** The process's argv as the system showed it while it ran ('' when it ended before it was read). */
  cmdline: string;
  /** It was given standard input, so it was still waiting for it when its argv was read. */
  heldOnStdin: boolean;
}

/**
 * Runs the CLI with `stdin` (written only after its argv was read from /proc, so the process is
 * alive then) and `env`; returns its output and its argv.
 */
async function run(args: string[], options: { stdin?: string; env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  const child = execa(process.execPath, [CLI, ...args], { reject: false, timeout: 120_000, env: { ...FAST, ...options.env }, cwd: options.cwd ?? work, stdin: 'pipe' });
  let cmdline = '';
  await eventually(async () => {
    cmdline = (await readFile(`/proc/${child.pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
    return cmdline.includes(CLI);
  });
  child.stdin!.end(options.stdin ?? '');
  const result = await child;
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr), cmdline, heldOnStdin: options.stdin !== undefined };
}

/** A host tree with its own host name, so each registration makes a new machine. */
async function host(): Promise<{ root: string; hostname: string }> {
  const hostname = `keyhost-${++counter}`;
  const root = join(work, 'roots', hostname);
  await writeTree(root, { 'proc/sys/kernel/hostname': `${hostname}\n`, 'proc/sys/kernel/ostype': 'Linux\n' });
  return { root, hostname };
}

async function filesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) found.push(join(entry.parentPath, entry.name));
  }
  return found;
}

function expectKeyNowhere(runs: Run[], { argv = true } = {}): void {
  for (const r of runs) {
    expect(r.stdout).not.toContain(secret);
    expect(r.stderr).not.toContain(secret);
    // A run reading the key from standard input was certainly alive when its argv was read; the
    // others are checked while waiting on MAAS in 'the process list while the key is in use'.
    if (argv && r.heldOnStdin) expect(r.cmdline).toContain(CLI);
    if (argv) expect(r.cmdline).not.toContain(secret);
  }
}

async function expectNoFileHoldsKey(): Promise<void> {
  const files = await filesUnder(work);
  expect(files.length).toBeGreaterThan(0);
  for (const file of files) expect((await readFile(file)).includes(secret), file).toBe(false);
}

/** The error line of a refused run (besides the usage hint), checked to be the only one. */
function refusal(r: Run): string {
  expect(r.exitCode).toBe(2);
  const lines = r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('(run with --help'));
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe('register-machine takes the admin key from a file, the environment or standard input', () => {
  const sources: { name: string; args: (url: string) => string[]; stdin?: () => string; env?: () => Record<string, string> }[] = [
    { name: '--admin-key-file FILE', args: (url) => [url, '--admin-key-file', keyFile] },
    { name: 'MAAS_ADMIN_KEY', args: (url) => [url], env: () => ({ MAAS_ADMIN_KEY: server.adminKey }) },
    { name: 'ADMIN_TOKEN -', args: (url) => [url, '-'], stdin: () => `${server.adminKey}\n` },
    { name: '--admin-key-file -', args: (url) => [url, '--admin-key-file', '-'], stdin: () => server.adminKey },
  ];

  it.each(sources)('$name: registers, and the key is in no output, no file and not in argv', async (source) => {
    const { root, hostname } = await host();
    const r = await run(['register-machine', ...source.args(server.url), '--no-report', '--root', root, '--dir', work], {
      ...(source.stdin ? { stdin: source.stdin() } : {}),
      ...(source.env ? { env: source.env() } : {}),
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Machine ${hostname} created with system ID: \\w+$`, 'm'));
    expect(await admin.listMachines({ hostname: [hostname] })).toHaveLength(1);
    expectKeyNowhere([r]);
    await expectNoFileHoldsKey();
  });

  it('the command line wins over MAAS_ADMIN_KEY', async () => {
    const wrong = { MAAS_ADMIN_KEY: 'aaaaaaaaaaaaaaaaaa:bbbbbbbbbbbbbbbbbb:cccccccccccccccccccccccccccccccc' };
    for (const args of [['--admin-key-file', keyFile], ['-']]) {
      const { root, hostname } = await host();
      const r = await run(['register-machine', server.url, ...args, '--no-report', '--root', root, '--dir', work], { env: wrong, stdin: server.adminKey });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(await admin.listMachines({ hostname: [hostname] })).toHaveLength(1);
    }
  });

  it('refuses, in one line naming the source and without the key, a missing, unreadable, empty or malformed key, and two keys at once', async () => {
    const empty = join(keys, 'empty.key');
    const malformed = join(keys, 'malformed.key');
    await writeFile(empty, '\n', { mode: 0o600 });
    await writeFile(malformed, `${secret}\n`, { mode: 0o600 });
    const before = (await admin.listMachines({})).length;
    const { root } = await host();
    const base = ['register-machine', server.url];
    const tail = ['--no-report', '--root', root, '--dir', work];
    const cases: { args: string[]; stdin?: string; env?: Record<string, string>; says: RegExp }[] = [
      { args: [...base, '--admin-key-file', join(keys, 'nosuch.key'), ...tail], says: /^cannot read --admin-key-file .*nosuch\.key: no such file/ },
      { args: [...base, '--admin-key-file', join(keyFile, 'inside'), ...tail], says: /^cannot read --admin-key-file .*inside: a parent is not a directory/ },
      { args: [...base, '--admin-key-file', keys, ...tail], says: /is a directory/ },
      { args: [...base, '--admin-key-file', empty, ...tail], says: /^the admin key in .*empty\.key is empty/ },
      { args: [...base, '--admin-key-file', malformed, ...tail], says: /^the admin key in .*malformed\.key: Invalid OAuth credentials format/ },
      { args: [...base, ...tail], env: { MAAS_ADMIN_KEY: secret }, says: /^MAAS_ADMIN_KEY: Invalid OAuth credentials format/ },
      { args: [...base, '-', ...tail], stdin: '', says: /^the admin key read from standard input is empty/ },
      { args: [...base, '-', ...tail], stdin: `${secret}\n`, says: /^the admin key read from standard input: Invalid OAuth credentials format/ },
      { args: [...base, server.adminKey, '--admin-key-file', keyFile, ...tail], says: /^the admin key is given twice/ },
      { args: [...base, '-', '--admin-key-file', keyFile, ...tail], says: /^the admin key is given twice/ },
      { args: [...base, ...tail], says: /^missing required argument 'ADMIN_TOKEN': give ADMIN_TOKEN, --admin-key-file FILE, MAAS_ADMIN_KEY, or -/ },
    ];
    if (process.getuid?.() !== 0) {
      // Root reads any file, so a file without read permission is refused only for other users.
      const locked = join(keys, 'locked.key');
      await writeFile(locked, server.adminKey, { mode: 0o000 });
      cases.push({ args: [...base, '--admin-key-file', locked, ...tail], says: /^cannot read --admin-key-file .*locked\.key: permission denied/ });
    }
    for (const c of cases) {
      const r = await run(c.args, { ...(c.stdin !== undefined ? { stdin: c.stdin } : {}), ...(c.env ? { env: c.env } : {}) });
      expect(refusal(r), c.args.join(' ')).toMatch(c.says);
      expectKeyNowhere([r], { argv: false });
    }
    expect((await admin.listMachines({})).length).toBe(before);
  });

  it('warns, without the key, when the key file can be read by other users', async () => {
    const open = join(keys, 'open.key');
    await writeFile(open, server.adminKey);
    await chmod(open, 0o644);
    const { root } = await host();
    const r = await run(['register-machine', server.url, '--admin-key-file', open, '--no-report', '--root', root, '--dir', work]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/other users can read it: chmod 600 .*open\.key/);
    expectKeyNowhere([r]);
  });
});

describe('get-machine-token takes the admin key the same ways', () => {
  it('from a file, the environment and standard input, writing the machine token and never the admin key', async () => {
    const machine = await admin.createMachine({ hostname: `tok-${++counter}`, deployed: 'true' });
    const token = (await admin.getMachineToken(machine.system_id))!;
    const out = (name: string) => join(work, `${name}.yaml`);
    const runs = [
      await run(['get-machine-token', server.url, '--admin-key-file', keyFile, machine.system_id, out('file')]),
      await run(['get-machine-token', server.url, machine.system_id, out('env')], { env: { MAAS_ADMIN_KEY: server.adminKey } }),
      await run(['get-machine-token', server.url, '-', machine.system_id, out('stdin')], { stdin: server.adminKey }),
      await run(['get-machine-token', server.url, machine.system_id, out('stdin-file'), '--admin-key-file', '-'], { stdin: server.adminKey }),
    ];
    for (const r of runs) expect(r.exitCode, r.stderr).toBe(0);
    for (const name of ['file', 'env', 'stdin', 'stdin-file']) {
      const creds = parse(await readFile(out(name), 'utf8')) as { reporting: { maas: { token_key: string; token_secret: string } } };
      expect(creds.reporting.maas).toMatchObject({ token_key: token.token_key, token_secret: token.token_secret });
    }
    expectKeyNowhere(runs);
    await expectNoFileHoldsKey();
  });

  it('refuses a key in the argument place together with --admin-key-file, and too many arguments', async () => {
    const r = await run(['get-machine-token', server.url, server.adminKey, 'abc123', '--admin-key-file', keyFile]);
    expect(refusal(r)).toMatch(/^the admin key is given twice/);
    const extra = await run(['get-machine-token', server.url, 'abc123', 'out.yaml', 'more', '--admin-key-file', keyFile]);
    expect(refusal(extra)).toMatch(/^too many arguments/);
    expectKeyNowhere([extra], { argv: false });
  });
});

describe('redfish-report takes the admin key the same ways', () => {
  it('registers from the BMC with the key on standard input or in a file', async () => {
    const bmc = await startRedfishMock('public-rackmount1', { user: 'operator', password: 'bmc-pw-5d1' });
    try {
      const passwordFile = join(keys, 'bmc.pass');
      await writeFile(passwordFile, 'bmc-pw-5d1\n', { mode: 0o600 });
      const dir = join(work, 'redfish');
      await mkdir(dir, { recursive: true });
      const common = ['--bmc', bmc.url, '--bmc-user', 'operator', '--bmc-password-file', passwordFile, '--dir', dir, '--state-dir', join(dir, 'state')];
      const first = await run(['redfish-report', server.url, '-', ...common], { stdin: server.adminKey });
      expect(first.exitCode, first.stderr).toBe(0);
      const again = await run(['redfish-report', server.url, '--admin-key-file', keyFile, ...common]);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(again.stdout).toMatch(/already registered/);
      expect(await admin.listMachines({ hostname: ['web483'] })).toHaveLength(1);
      expectKeyNowhere([first, again]);
      await expectNoFileHoldsKey();
    } finally {
      await bmc.close();
    }
  });
});

describe('the process list while the key is in use', () => {
  it('shows no key from a file or the environment while register-machine waits on MAAS (and shows one given as ADMIN_TOKEN)', async () => {
    // The recording stand-in makes MAAS answer the first request 503 with Retry-After: 1, so the
    // process is still running when its argv is read.
    const maas = await startFakeMaas({ forwardTo: new URL(server.url).origin });
    try {
      for (const source of ['file', 'env', 'argument'] as const) {
        maas.failNext(1, { status: 503, headers: { 'Retry-After': '1' }, body: 'busy' });
        const { root, hostname } = await host();
        const key = source === 'file' ? ['--admin-key-file', keyFile] : source === 'argument' ? [server.adminKey] : [];
        const args = ['register-machine', maas.url, ...key, '--no-report', '--root', root, '--dir', work];
        const child = execa(process.execPath, [CLI, ...args], { reject: false, env: { ...FAST, ...(source === 'env' ? { MAAS_ADMIN_KEY: server.adminKey } : {}) } });
        // Read once the first request has been answered 503: the process is waiting to retry.
        expect(await eventually(() => maas.requests.some((r) => r.status === 503), 20_000)).toBe(true);
        const cmdline = (await readFile(`/proc/${child.pid}/cmdline`, 'utf8')).replaceAll('\0', ' ');
        const result = await child;
        expect(result.exitCode, String(result.stderr)).toBe(0);
        expect(cmdline).toContain('register-machine');
        // The argument is what the other sources avoid: it is there for every user to see.
        if (source === 'argument') expect(cmdline).toContain(secret);
        else expect(cmdline).not.toContain(secret);
        expect(await admin.listMachines({ hostname: [hostname] })).toHaveLength(1);
        maas.requests.length = 0;
      }
    } finally {
      await maas.close();
    }
  });
});
