// The hook on maas-list-modaliases over the API, on both stores: the modaliases a deployed
// machine reports decide its switch tags in tag_names (docs/protocol.md §7.9, §4.3).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptResultStatus } from '../../src/maas/types.js';
import { MAAS_SAMPLES } from '../helpers/fixtures.js';
import { STORE_KINDS, createDeployed, readMachine, signal, startHarness, type Harness } from './server-harness.js';

const TOMAHAWK = 'pci:v000014E4d0000B960sv000014E4sd0000B960bc02sc00i00';
const WEDGE100_DMI = 'dmi:bvnAmericanMegatrendsInc.:bvr36:svnTobefilledbyO.E.M.:pnTobefilledbyO.E.M.:rvnTobefilledbyO.E.M.:rnPCOM-B632VG-ECC-FB-ACCTON-D:ct3:';
const INTEL_NIC = 'pci:v00008086d00001533sv000015D9sd00001533bc02sc00i00';
const SWITCH_REPORT = [WEDGE100_DMI, INTEL_NIC, TOMAHAWK, 'platform:serial8250', ''].join('\n');
const SERVER_REPORT = [INTEL_NIC, 'platform:serial8250', ''].join('\n');
const RESOURCES = readFileSync(join(MAAS_SAMPLES, 'maas-sample-machine-resources.json'), 'utf8');

describe.each(STORE_KINDS)('switch tags from reported modaliases with the %s store', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(kind);
  });
  afterAll(() => h.stop());

  it('tags a machine with a Tomahawk ASIC and a Wedge 100 board as switch, ASIC, vendor and model', async () => {
    const { systemId, token } = await createDeployed(h, { hostname: `wedge-${kind}` });
    expect((await readMachine(h, systemId)).tag_names).toEqual([]);
    expect((await signal(h, token, 'maas-list-modaliases', { stdout: SWITCH_REPORT })).status).toBe(200);
    expect((await readMachine(h, systemId)).tag_names).toEqual(['accton', 'bcm-tomahawk-asic', 'switch', 'wedge100']);
  });

  it('keeps the switch tags through a hardware report, and drops switch and ASIC tags once the ASIC is gone', async () => {
    const { systemId, token } = await createDeployed(h, { hostname: `was-switch-${kind}` });
    await signal(h, token, 'maas-list-modaliases', { stdout: SWITCH_REPORT });
    expect((await signal(h, token, '50-maas-01-commissioning', { stdout: RESOURCES })).status).toBe(200);
    const reported = await readMachine(h, systemId);
    expect(reported.cpu_count).toBeGreaterThan(0);
    expect(reported.tag_names).toEqual(expect.arrayContaining(['bcm-tomahawk-asic', 'switch']));
    await signal(h, token, 'maas-list-modaliases', { stdout: SERVER_REPORT });
    const after = (await readMachine(h, systemId)).tag_names;
    expect(after).not.toContain('switch');
    expect(after).not.toContain('bcm-tomahawk-asic');
    // Upstream never removes vendor and model tags once given.
    expect(after).toEqual(expect.arrayContaining(['accton', 'wedge100']));
  });

  it('leaves the tags alone when the script failed, and stores the result as failed', async () => {
    const { systemId, token } = await createDeployed(h, { hostname: `failed-list-${kind}` });
    expect((await signal(h, token, 'maas-list-modaliases', { stdout: SWITCH_REPORT, exitStatus: 1 })).status).toBe(200);
    expect((await readMachine(h, systemId)).tag_names).toEqual([]);
    const result = h.store.resultsOfSet(h.store.getMachine(systemId)!.scriptSetId!).find((r) => r.name === 'maas-list-modaliases')!;
    expect(result.status).toBe(ScriptResultStatus.FAILED);
  });

  it('marks the result failed and logs why when the output is not UTF-8, still answering 200', async () => {
    const { systemId, token } = await createDeployed(h, { hostname: `binary-list-${kind}` });
    const response = await signal(h, token, 'maas-list-modaliases', { stdout: Buffer.from([0x70, 0x63, 0xff, 0xfe, 0x0a]) });
    expect(response.status).toBe(200);
    const result = h.store.resultsOfSet(h.store.getMachine(systemId)!.scriptSetId!).find((r) => r.name === 'maas-list-modaliases')!;
    expect(result.status).toBe(ScriptResultStatus.FAILED);
    expect(h.store.eventsOf(systemId).map((e) => e.description).join('\n')).toMatch(/maas-list-modaliases' failed during post-processing/);
    expect((await readMachine(h, systemId)).tag_names).toEqual([]);
  });
});
