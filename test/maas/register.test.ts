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
