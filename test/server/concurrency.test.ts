// A fleet reporting at once: 200 machines × 6 signals sent together to the SQLite store — every
// result stored exactly once, in its own machine, nothing lost and nothing mixed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptResultStatus } from '../../src/maas/types.js';
import { DEPLOY_INFO_SCRIPTS } from '../../src/resources/types.js';
import { MAAS_SAMPLES } from '../helpers/fixtures.js';
import { createDeployed, readMachine, signal, startHarness, type Harness } from './server-harness.js';

const MACHINES = 200;
const SAMPLE = readFileSync(join(MAAS_SAMPLES, 'maas-sample-machine-resources.json'), 'utf8');

/** The sample with MACs and UUID unique to machine `n`, so machines do not take each other's NICs. */
export function uniqueResources(n: number): string {
  const hex = n.toString(16).padStart(4, '0');
  return SAMPLE.replace(/"([0-9a-f]{2}:){5}[0-9a-f]{2}"/gi, (mac) => `"${mac.slice(1, 6)}:${hex.slice(0, 2)}:${hex.slice(2)}${mac.slice(12, 19)}`)
    .replace(/"uuid": "[^"]*"/, `"uuid": "00000000-0000-4000-8000-00000000${hex}"`);
}

describe('concurrent signals from many machines to the SQLite store', () => {
  let h: Harness;
  const machines: { systemId: string; token: string }[] = [];
  let statuses: number[] = [];

  beforeAll(async () => {
    h = await startHarness('sqlite');
    for (let i = 0; i < MACHINES; i++) machines.push(await createDeployed(h, { hostname: `node-${i}` }));
    const sends = machines.flatMap(({ systemId, token }, i) =>
      DEPLOY_INFO_SCRIPTS.map((name) =>
        signal(h, token, name, { stdout: name === '50-maas-01-commissioning' ? uniqueResources(i) : `${systemId} ${name}\n`, stderr: `${systemId}\n` }),
      ),
    );
    statuses = (await Promise.all(sends)).map((r) => r.status);
  }, 120_000);
  afterAll(() => h.stop());

  it('answers every signal with 200', () => {
    expect(statuses.length).toBe(MACHINES * DEPLOY_INFO_SCRIPTS.length);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  });

  it('stores each result exactly once, with its own machine’s output', () => {
    for (const { systemId } of machines) {
      const machine = h.store.getMachine(systemId)!;
      const results = h.store.resultsOfSet(machine.scriptSetId!);
      expect(results.map((r) => r.name)).toEqual([...DEPLOY_INFO_SCRIPTS]);
      for (const result of results) {
        expect({ name: result.name, status: result.status }).toEqual({ name: result.name, status: ScriptResultStatus.PASSED });
        expect(Buffer.from(result.stderr!, 'base64').toString()).toBe(`${systemId}\n`);
        if (result.name !== '50-maas-01-commissioning') expect(Buffer.from(result.stdout!, 'base64').toString()).toBe(`${systemId} ${result.name}\n`);
      }
    }
  });

  it('keeps each machine’s own interfaces and hardware UUID', async () => {
    for (const i of [0, 77, MACHINES - 1]) {
      const machine = await readMachine(h, machines[i]!.systemId);
      const hex = i.toString(16).padStart(4, '0');
      expect(machine.interface_set.length).toBe(3);
      for (const iface of machine.interface_set) expect(iface.mac_address.slice(6, 11)).toBe(`${hex.slice(0, 2)}:${hex.slice(2)}`);
      expect(machine.hardware_uuid).toBe(`00000000-0000-4000-8000-00000000${hex}`);
    }
  });
});
