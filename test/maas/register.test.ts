// registerMachine in-process against the recording MAAS stand-in: the identity the command hands
// in (this host's, or a BMC's) words what the user reads; retries wait through the one retry loop.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CliError } from '../../src/errors.js';
import { parseCredentials } from '../../src/maas/credentials.js';
import { registerMachine, type MachineIdentity } from '../../src/maas/register.js';
import { startFakeMaas, type FakeMaas } from '../helpers/fake-maas.js';
import { compactReport } from '../server/hooks/compact-report.js';
import { createDeployed, signal, startHarness, type Harness } from '../server/server-harness.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((c) => c()));
});

async function setUp(): Promise<{ maas: FakeMaas; dir: string }> {
  const maas = await startFakeMaas();
  const dir = await mkdtemp(join(tmpdir(), 'register-'));
  cleanup.push(() => maas.close(), () => rm(dir, { recursive: true, force: true }));
  return { maas, dir };
}

/** Runs registerMachine, keeping what it printed and warned; `sleeps` records the retry delays instead of waiting. */
async function register(maas: FakeMaas, dir: string, identity: MachineIdentity) {
  const printed: string[] = [];
  const warned: string[] = [];
  const sleeps: number[] = [];
  const result = await registerMachine(
    { maasUrl: maas.url, adminCredentials: parseCredentials(maas.adminKey, 'admin key'), dir },
    {
      identity,
      print: (line) => printed.push(line),
      warn: (line) => warned.push(line),
      client: { retry: { attempts: 4, initialDelayMs: 1000, maxDelayMs: 30_000, totalMs: 90_000 }, sleep: async (ms) => void sleeps.push(ms), log: (line) => warned.push(line) },
    },
  );
  return { result, printed, warned, sleeps };
}

const bmc = (hostname: string): MachineIdentity => ({ hostname, macs: ['52:54:00:aa:bb:01'], architecture: 'amd64', seenBy: 'bmc' });

describe('registerMachine', () => {
  it('speaks of the machine and its BMC, not this host, when the identity came from a BMC', async () => {
    const { maas, dir } = await setUp();
    const first = await register(maas, dir, bmc('web483'));
    expect(first.printed[0]).toMatch(/^Machine web483 created with system ID: \w+$/);
    // Renamed on its BMC, and its creds file gone: found again by its MACs.
    await rm(join(dir, 'web483-creds.yaml'));
    const again = await register(maas, dir, bmc('web484'));
    expect(again.printed.slice(0, 2)).toEqual([
      `Machine web483 already registered with system ID: ${first.result.systemId} (found by the machine's MAC address)`,
      'It keeps its MAAS name web483 (its BMC now calls it web484).',
    ]);
    expect(maas.machines).toHaveLength(1);
  });

  it('waits the backoff between creates that MAAS answered 503, looks for the machine before each new try, and creates it once', async () => {
    const { maas, dir } = await setUp();
    maas.failNext(2, { status: 503, body: 'busy' }, (r) => r.method === 'POST');
    const { result, warned, sleeps } = await register(maas, dir, { hostname: 'web01', macs: ['52:54:00:aa:bb:02'], seenBy: 'host' });
    expect(result.created).toBe(true);
    expect(maas.machines).toHaveLength(1);
    expect(sleeps).toHaveLength(2);
    expect(sleeps[1]!).toBeGreaterThan(sleeps[0]!);
    expect(warned.filter((w) => w.includes('checking whether MAAS created the machine anyway'))).toHaveLength(2);
    // Before each new create, a look-up by MAC.
    const calls = maas.requests.map((r) => `${r.method} ${r.path.split('?')[0]}${r.path.includes('mac_address') ? '?mac' : ''}`);
    expect(calls.slice(0, 6)).toEqual(['GET /MAAS/api/2.0/machines/?mac', 'GET /MAAS/api/2.0/machines/', 'POST /MAAS/api/2.0/machines/', 'GET /MAAS/api/2.0/machines/?mac', 'GET /MAAS/api/2.0/machines/', 'POST /MAAS/api/2.0/machines/']);
  });

  it('says which request failed when MAAS calls a MAC in use that no machine visible to the key has, and writes no creds file', async () => {
    const { maas, dir } = await setUp();
    maas.machines.push({ system_id: 'hidden', hostname: 'elsewhere', architecture: 'amd64/generic', macs: ['52:54:00:aa:bb:03'], token: null });
    // The machine holding the MAC is not visible to this key.
    maas.intercept((r) => (r.method === 'GET' && r.path.startsWith('/MAAS/api/2.0/machines/?') ? { status: 200, headers: { 'Content-Type': 'application/json' }, body: '[]' } : undefined));
    const error = await register(maas, dir, { hostname: 'web02', macs: ['52:54:00:aa:bb:03'], architecture: 'amd64', seenBy: 'host' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toBe(
      "Machine creation failed: MAAS says a MAC address of this host is in use, but no machine visible to this API key has it; check MAAS's devices and controllers",
    );
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('registerMachine finding a machine by MAC', () => {
  const REPORTED_UUID = '1c4d5e6f-0a1b-4c2d-8e3f-405162738495';
  const REPORTED_MAC = '52:54:00:12:34:56';

  // The bundled server, with a machine that reported the compact document (that MAC, that UUID).
  async function serverWithReportedMachine(): Promise<{ h: Harness; dir: string; systemId: string }> {
    const h = await startHarness('memory');
    const dir = await mkdtemp(join(tmpdir(), 'register-'));
    cleanup.push(async () => h.stop(), () => rm(dir, { recursive: true, force: true }));
    const { systemId, token } = await createDeployed(h, { hostname: 'owner-host' });
    expect((await signal(h, token, '50-maas-01-commissioning', { stdout: JSON.stringify(compactReport()) })).status).toBe(200);
    return { h, dir, systemId };
  }

  const host = (hardwareUuid: string | undefined): MachineIdentity => ({ hostname: 'other-name', macs: [REPORTED_MAC], ...(hardwareUuid ? { hardwareUuid } : {}), seenBy: 'host' });
  const registerOn = (h: Harness, dir: string, identity: MachineIdentity) =>
    registerMachine({ maasUrl: h.url, adminCredentials: parseCredentials(h.adminKey, 'admin key'), dir }, { identity, print: () => {}, warn: () => {} });

  it('takes it when the hardware UUIDs agree, or when this host cannot read its own', async () => {
    const { h, dir, systemId } = await serverWithReportedMachine();
    for (const uuid of [REPORTED_UUID, undefined]) {
      const found = await registerOn(h, dir, host(uuid));
      expect([found.systemId, found.matchedBy]).toEqual([systemId, 'mac']);
    }
  });

  it("stops, saying what it found, when the machine's recorded hardware UUID is another's: no token taken, no file, no machine", async () => {
    const { h, dir, systemId } = await serverWithReportedMachine();
    const before = h.store.listMachines().length;
    const refused = await registerOn(h, dir, host('00000000-1111-2222-3333-444444444444')).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(CliError);
    expect((refused as CliError).code).toBe('MRS_IDENTITY_CONFLICT');
    expect((refused as Error).message).toBe(
      `MAAS lists machine owner-host (${systemId}) with this host's MAC address, but its hardware UUID ${REPORTED_UUID} is not this host's (00000000-1111-2222-3333-444444444444); its token was not taken: check that machine in MAAS (a NIC moved or a MAC copied?) and delete it if it is stale, then run again`,
    );
    expect(await readdir(dir)).toEqual([]);
    expect(h.store.listMachines()).toHaveLength(before);
  });
});
