// redfish-report as an operator runs it: the built CLI as a subprocess, a BMC served from DMTF's
// public-rackmount1 mockup on 127.0.0.1, and the bundled server. Expectations come from the
// mockup's ground truth (test/fixtures/redfish/README.md): web483, one Xeon of 8 cores and
// 16 threads present, 96 GiB in three DIMMs, two SATA drives of 8 and 4 TB, two physical NICs.
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MaasClient } from '../../src/maas/client.js';
import { parseCredentials } from '../../src/maas/credentials.js';
import { NodeStatus } from '../../src/maas/types.js';
import { startMaasServer, type RunningServer } from '../../src/server/server.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { startRedfishMock } from '../helpers/redfish-mock.js';

const BMC_USER = 'operator';
const BMC_PASSWORD = 'bmc-pass-7f3a91';
const FAST = { MAAS_RUN_SCRIPTS_ATTEMPTS: '2', MAAS_RUN_SCRIPTS_RETRY_DELAY: '0.05', MAAS_RUN_SCRIPTS_RETRY_TOTAL: '5' };

let server: RunningServer;
let admin: MaasClient;
let bmc: Awaited<ReturnType<typeof startRedfishMock>>;
let work: string;
let passwordFile: string;

beforeAll(async () => {
  server = await startMaasServer({ port: 0 });
  admin = new MaasClient({ baseUrl: server.url, credentials: parseCredentials(server.adminKey, 'admin key') });
  bmc = await startRedfishMock('public-rackmount1', { user: BMC_USER, password: BMC_PASSWORD });
  work = await mkdtemp(join(tmpdir(), 'redfish-report-'));
  passwordFile = join(work, 'bmc-password');
  await writeFile(passwordFile, `${BMC_PASSWORD}\n`, { mode: 0o600 });
});
afterAll(async () => {
  await bmc?.close();
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

function redfishReport(args: string[], options: { dir?: string; stateDir?: string } = {}): Promise<CliRun> {
  const dir = options.dir ?? work;
  return runCli(['redfish-report', ...args, '--dir', dir, '--state-dir', options.stateDir ?? join(dir, 'state')], { env: FAST });
}

const register = (extra: string[] = [], options: { dir?: string; stateDir?: string } = {}) =>
  redfishReport([server.url, server.adminKey, '--bmc', bmc.url, '--bmc-user', BMC_USER, '--bmc-password-file', passwordFile, ...extra], options);

function expectNoSecrets(run: CliRun): void {
  for (const secret of [BMC_PASSWORD, server.adminKey.split(':')[2]!]) {
    expect(run.stdout).not.toContain(secret);
    expect(run.stderr).not.toContain(secret);
  }
}

describe('redfish-report', () => {
  it('registers the machine from its BMC as Deployed and gives MAAS the hardware the BMC describes', async () => {
    const run = await register();
    expect(run.exitCode, run.stderr).toBe(0);
    expectNoSecrets(run);
    // Its SATA bays give no media type: the operator is told what MAAS will assume.
    expect(run.stderr).toMatch(/^warning: storage: .* gives no media type: reported as not rotating/m);
    const machines = await admin.listMachines({ hostname: ['web483'] });
    expect(machines).toHaveLength(1);
    const machine = await admin.readMachine(machines[0]!.system_id);
    expect(machine.status).toBe(NodeStatus.DEPLOYED);
    expect(machine.cpu_count).toBe(16);
    expect(machine.memory).toBe(96 * 1024);
    expect(machine.physicalblockdevice_set.map((d) => d.size).sort((a, b) => b - a)).toEqual([8_000_000_000_000, 4_000_000_000_000]);
    const physical = machine.interface_set.filter((i) => i.type === 'physical');
    expect(physical.map((i) => i.mac_address).sort()).toEqual(['12:44:6a:3b:04:11', '12:44:6a:3b:88:90']);
    // NIC 1 carries VLAN 1000 (the BMC's VLAN1 interface); the host interface to the BMC is no NIC.
    expect(machine.interface_set.filter((i) => i.type === 'vlan').map((i) => i.mac_address)).toEqual(['12:44:6a:3b:04:11']);
    // The creds file is the machine's, written as register-machine writes it.
    const creds = join(work, 'web483-creds.yaml');
    expect((await stat(creds)).mode & 0o777).toBe(0o600);
    expect(await readFile(creds, 'utf8')).toContain(`/metadata/status/${machine.system_id}`);
    // Nothing that describes a running OS was sent for it: only the two machine-resources results.
    expect(run.stdout + run.stderr).toMatch(/not run, as they would describe this host rather than the machine: .*maas-lshw/);
    const results = server.store.resultsOfSet(server.store.getMachine(machine.system_id)!.scriptSetId!);
    const sent = results.filter((r) => r.stdout !== null).map((r) => r.name).sort();
    expect(sent).toEqual(['20-maas-03-machine-resources', '50-maas-01-commissioning']);
  });

  it('run again, finds the same machine by its creds file and sends nothing unchanged; --config needs no admin key', async () => {
    const again = await register();
    expect(again.exitCode, again.stderr).toBe(0);
    expect(await admin.listMachines({ hostname: ['web483'] })).toHaveLength(1);
    expect(again.stdout).toMatch(/already registered/);
    const periodic = await redfishReport(['--config', join(work, 'web483-creds.yaml'), '--bmc', bmc.url, '--bmc-user', BMC_USER, '--bmc-password-file', passwordFile, '--json']);
    expect(periodic.exitCode, periodic.stderr).toBe(0);
    const summary = JSON.parse(periodic.stdout) as { delivered: number; unchanged: number };
    expect(summary).toMatchObject({ delivered: 0, unchanged: 2 });
    expectNoSecrets(periodic);
  });

  it('refuses a wrong BMC password in one line, before registering anything', async () => {
    const dir = await mkdtemp(join(work, 'wrong-'));
    const wrong = join(dir, 'password');
    await writeFile(wrong, 'not-the-password\n');
    const before = (await admin.listMachines({})).length;
    const run = await redfishReport([server.url, server.adminKey, '--bmc', bmc.url, '--bmc-user', BMC_USER, '--bmc-password-file', wrong], { dir });
    expect(run.exitCode).not.toBe(0);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/401|refused|credentials|password/i);
    expect(run.stderr).not.toContain('not-the-password');
    expect((await admin.listMachines({})).length).toBe(before);
    expect((await readdir(dir)).sort()).toEqual(['password']);
  });

  it('says how to give the password when --bmc-user has none, and refuses both or neither of MAAS_URL and --config', async () => {
    const noPassword = await redfishReport([server.url, server.adminKey, '--bmc', bmc.url, '--bmc-user', BMC_USER]);
    expect(noPassword.exitCode).toBe(2);
    expect(noPassword.stderr).toMatch(/--bmc-password-file/);
    const neither = await redfishReport(['--bmc', bmc.url]);
    expect(neither.exitCode).toBe(2);
    expect(neither.stderr).toMatch(/either MAAS_URL and ADMIN_TOKEN .* or --config FILE/);
    const both = await redfishReport([server.url, server.adminKey, '--config', join(work, 'web483-creds.yaml'), '--bmc', bmc.url]);
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toMatch(/not both or neither/);
  });

  it('checks the creds file before asking the BMC anything', async () => {
    const asked = bmc.requests.length;
    const run = await redfishReport(['--config', join(work, 'no-such-creds.yaml'), '--bmc', bmc.url, '--bmc-user', BMC_USER, '--bmc-password-file', passwordFile]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/no-such-creds\.yaml/);
    expect(bmc.requests.length).toBe(asked);
  });

  it('refuses a BMC URL that carries the password, without echoing it', async () => {
    const url = bmc.url.replace('://', `://${BMC_USER}:${BMC_PASSWORD}@`);
    const run = await redfishReport([server.url, server.adminKey, '--bmc', url]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/--bmc holds credentials: .*--bmc-password-file/);
    expectNoSecrets(run);
  });

  it('with --json prints the summary alone on stdout, also when it registers (an eight-socket tower with four NIC ports)', async () => {
    const tower = await startRedfishMock('public-tower', { user: BMC_USER, password: BMC_PASSWORD });
    try {
      const dir = await mkdtemp(join(work, 'tower-'));
      const run = await redfishReport([server.url, server.adminKey, '--bmc', tower.url, '--bmc-user', BMC_USER, '--bmc-password-file', passwordFile, '--json'], { dir });
      expect(run.exitCode, run.stderr).toBe(0);
      const summary = JSON.parse(run.stdout) as { delivered: number };
      expect(summary.delivered).toBe(2);
      expect(run.stderr).toMatch(/Machine devrender2 created with system ID/);
      const [found] = await admin.listMachines({ hostname: ['devrender2'] });
      const machine = await admin.readMachine(found!.system_id);
      expect(machine.cpu_count).toBe(256);
      expect(machine.memory).toBe(1024 * 1024);
      expect(machine.interface_set.filter((i) => i.type === 'physical')).toHaveLength(4);
    } finally {
      await tower.close();
    }
  });
});
