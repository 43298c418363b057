// The lifecycle of a deployed machine over the API, with both stores — creation rules
// (docs/design.md requirement 1), reports, release to Ready/New (docs/design.md requirement 4),
// token regeneration and permissions (docs/design.md D5; docs/protocol.md §8.5), FAILED/OK signal
// semantics (docs/design.md D2), lock, annotations, netboot refusal, and the cross-machine effects
// of reports.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptResultStatus, type MachineJson } from '../../src/maas/types.js';
import { DEPLOY_INFO_SCRIPTS } from '../../src/resources/types.js';
import { MAAS_SAMPLES as SAMPLES } from '../helpers/fixtures.js';
import { STORE_KINDS, call, createDeployed, machineToken, readMachine, signal, startHarness, type Harness } from './server-harness.js';

type FieldErrors = Record<string, string[]>;

const sample = (name: string) => readFileSync(resolve(SAMPLES, `maas-sample-${name}.json`), 'utf8');

// Runs the six deploy-info scripts' signals as a client would, with `resources` as the JSON.
async function reportAll(h: Harness, token: string, resources: string): Promise<void> {
  for (const name of DEPLOY_INFO_SCRIPTS) {
    const stdout = name === '50-maas-01-commissioning' || name === '20-maas-03-machine-resources' ? resources : `${name} output\n`;
    const response = await signal(h, token, name, { stdout });
    expect(response.status).toBe(200);
  }
}

describe.each(STORE_KINDS)('machine lifecycle with the %s store', (kind) => {
  let h: Harness;
  let userKey: string;
  let otherAdminKey: string;
  beforeAll(async () => {
    h = await startHarness(kind);
    userKey = h.store.addUser('alice', { admin: false });
    otherAdminKey = h.store.addUser('root2', { admin: true });
  });
  afterAll(() => h.stop());

  describe('creation as deployed', () => {
    it('needs neither MAC nor power type, and gives a Deployed machine owned by the admin', async () => {
      const { systemId } = await createDeployed(h, { hostname: 'plain' });
      const machine = await readMachine(h, systemId);
      expect(machine).toMatchObject({ hostname: 'plain', status: 6, status_name: 'Deployed', owner: 'admin', power_type: '', interface_set: [] });
      expect(machine.numanode_set).toEqual([{ index: 0, cores: [], memory: 0, hugepages_set: [] }]);
    });

    it('turns MACs sent with an architecture into physical interfaces', async () => {
      const { systemId } = await createDeployed(h, { hostname: 'withmac', architecture: 'amd64', mac_addresses: ['52-54-00-AA-BB-01'] });
      const machine = await readMachine(h, systemId);
      expect(machine.architecture).toBe('amd64/generic');
      expect(machine.interface_set.map((i) => [i.name, i.type, i.mac_address])).toEqual([['eth0', 'physical', '52:54:00:aa:bb:01']]);
    });

    it('accepts IPMI and manual power types without a MAC, but not redfish', async () => {
      expect((await call(h, 'POST', '/api/2.0/machines/', h.adminKey, { fields: { hostname: 'bmc1', deployed: 'true', power_type: 'ipmi' } })).status).toBe(200);
      expect((await call(h, 'POST', '/api/2.0/machines/', h.adminKey, { fields: { hostname: 'man1', deployed: 'true', power_type: 'manual' } })).status).toBe(200);
      const refused = await call(h, 'POST', '/api/2.0/machines/', h.adminKey, { fields: { hostname: 'rf1', deployed: 'true', power_type: 'redfish' } });
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as FieldErrors).power_type).toEqual(["Can't set power type to redfish without network interfaces"]);
    });

    it('refuses a duplicate hostname, an invalid hostname and a MAC already in use, with field errors', async () => {
      await createDeployed(h, { hostname: 'dup' });
      const duplicate = await call(h, 'POST', '/api/2.0/machines/', h.adminKey, { fields: { hostname: 'dup', deployed: 'true' } });
      expect(duplicate.status).toBe(400);
      expect(Object.keys((await duplicate.json()) as FieldErrors)).toEqual(['hostname']);
      const invalid = await call(h, 'POST', '/api/2.0/machines/', h.adminKey, { fields: { hostname: 'bad_name', deployed: 'true' } });
      expect(invalid.status).toBe(400);
      expect(((await invalid.json()) as FieldErrors).hostname?.[0]).toMatch(/bad_name/);
      const taken = await call(h, 'POST', '/api/2.0/machines/', h.adminKey, {
        fields: { hostname: 'macthief', deployed: 'true', architecture: 'amd64/generic', mac_addresses: '52:54:00:aa:bb:01' },
      });
      expect(taken.status).toBe(400);
      expect(await taken.json()).toEqual({ mac_addresses: ['MAC address 52:54:00:aa:bb:01 already in use on withmac.'] });
    });

    it('lists machines filtered by hostname, MAC and id, and rejects a malformed MAC filter', async () => {
      const byName = (await (await call(h, 'GET', '/api/2.0/machines/?hostname=withmac', h.adminKey)).json()) as MachineJson[];
      expect(byName.map((m) => m.hostname)).toEqual(['withmac']);
      const byMac = (await (await call(h, 'GET', '/api/2.0/machines/?mac_address=52:54:00:AA:BB:01', h.adminKey)).json()) as MachineJson[];
      expect(byMac.map((m) => m.hostname)).toEqual(['withmac']);
      const byId = (await (await call(h, 'GET', `/api/2.0/machines/?id=${byName[0]!.system_id}`, h.adminKey)).json()) as MachineJson[];
      expect(byId.map((m) => m.hostname)).toEqual(['withmac']);
      expect(await (await call(h, 'GET', '/api/2.0/machines/?hostname=nothing-here', h.adminKey)).json()).toEqual([]);
      const bad = await call(h, 'GET', '/api/2.0/machines/?mac_address=zz', h.adminKey);
      expect(bad.status).toBe(400);
    });
  });

  describe('reports and release', () => {
    it('goes to Ready on release after a full report, keeping hardware and dropping owner and token', async () => {
      const { systemId, token } = await createDeployed(h, { hostname: 'full' });
      await reportAll(h, token, sample('machine-resources'));
      const reported = await readMachine(h, systemId);
      expect(reported.status_name).toBe('Deployed');
      expect(reported.commissioning_status_name).toBe('Passed');
      expect(reported.cpu_count).toBeGreaterThan(0);
      const released = await call(h, 'POST', `/api/2.0/machines/${systemId}/?op=release`, h.adminKey);
      expect(released.status).toBe(200);
      const machine = (await released.json()) as MachineJson;
      expect(machine).toMatchObject({ status_name: 'Ready', owner: null, osystem: '', distro_series: '' });
      expect(machine.cpu_count).toBe(reported.cpu_count);
      expect((await call(h, 'GET', '/metadata/2012-03-01/maas-scripts', token)).status).toBe(401);
      expect(await (await call(h, 'GET', `/api/2.0/machines/${systemId}/?op=get_token`, h.adminKey)).json()).toBeNull();
    });

    it('goes back to New on release when nothing was reported', async () => {
      const { systemId } = await createDeployed(h, { hostname: 'silent' });
      const machine = (await (await call(h, 'POST', `/api/2.0/machines/${systemId}/?op=release`, h.adminKey)).json()) as MachineJson;
      expect(machine.status_name).toBe('New');
    });

    it('removes VLANs, bonds and bridges on release and keeps the physical interfaces', async () => {
      const { systemId, token } = await createDeployed(h, { hostname: 'bonded' });
      await reportAll(h, token, sample('lp1939456'));
      const before = await readMachine(h, systemId);
      const types = before.interface_set.map((i) => i.type);
      expect(types).toContain('bond');
      expect(types).toContain('vlan');
      const after = (await (await call(h, 'POST', `/api/2.0/machines/${systemId}/?op=release`, h.adminKey)).json()) as MachineJson;
      const physical = before.interface_set.filter((i) => i.type === 'physical').map((i) => i.mac_address).sort();
      expect(after.interface_set.map((i) => i.type)).toEqual(physical.map(() => 'physical'));
      expect(after.interface_set.map((i) => i.mac_address).sort()).toEqual(physical);
    });

    it('answers FAILED with 409 and stores nothing', async () => {
      const { systemId, token } = await createDeployed(h, { hostname: 'failing' });
      const response = await signal(h, token, 'maas-lshw', { status: 'FAILED', exitStatus: 1, stdout: '<list/>' });
      expect(response.status).toBe(409);
      expect(await response.text()).toBe('Invalid transition: Deployed -> Failed commissioning.');
      const machine = h.store.getMachine(systemId)!;
      const lshw = h.store.resultsOfSet(machine.scriptSetId!).find((r) => r.name === 'maas-lshw')!;
      expect(lshw).toMatchObject({ status: ScriptResultStatus.PENDING, stdout: null, exitStatus: null });
      expect((await readMachine(h, systemId)).status_name).toBe('Deployed');
    });

    it('turns the machine Ready on OK and revokes its token', async () => {
      const { systemId, token } = await createDeployed(h, { hostname: 'okay' });
      expect((await signal(h, token, 'maas-serial-ports', { status: 'OK', stdout: '/dev/ttyS0\n' })).status).toBe(200);
      expect(await readMachine(h, systemId)).toMatchObject({ status_name: 'Ready', owner: null });
      const after = await call(h, 'GET', '/metadata/2012-03-01/maas-scripts', token);
      expect(after.status).toBe(401);
      expect(await after.text()).toMatch(/Invalid access token/);
    });

    it('keeps storing results of a non-zero exit as FAILED while the machine stays Deployed', async () => {
      const { systemId, token } = await createDeployed(h, { hostname: 'exit3' });
      expect((await signal(h, token, 'maas-support-info', { exitStatus: 3, stderr: 'boom\n' })).status).toBe(200);
      const machine = h.store.getMachine(systemId)!;
      expect(machine.status).toBe(6);
      const result = h.store.resultsOfSet(machine.scriptSetId!).find((r) => r.name === 'maas-support-info')!;
      expect(result).toMatchObject({ status: ScriptResultStatus.FAILED, exitStatus: 3 });
      expect(Buffer.from(result.stderr!, 'base64').toString()).toBe('boom\n');
    });
  });

  describe('tokens and permissions', () => {
    it('makes the old token fail right after regeneration, and the new one work', async () => {
      const { systemId, token } = await createDeployed(h, { hostname: 'regen' });
      const response = await call(h, 'POST', `/api/2.0/machines/${systemId}/?op=regenerate_token`, h.adminKey);
      expect(response.status).toBe(200);
      const fresh = (await response.json()) as { consumer_key: string; token_key: string; token_secret: string };
      const old = await call(h, 'GET', '/metadata/2012-03-01/maas-scripts', token);
      expect(old.status).toBe(401);
      expect(old.headers.get('www-authenticate')).toBe('OAuth realm="OAuth"');
      const freshKey = `${fresh.consumer_key}:${fresh.token_key}:${fresh.token_secret}`;
      expect(freshKey).not.toBe(token);
      expect((await call(h, 'GET', '/metadata/2012-03-01/maas-scripts', freshKey)).status).toBe(200);
      expect(await machineToken(h, systemId, h.adminKey)).toBe(freshKey);
    });

    it('lets the owner and admins read and regenerate a token, and refuses others', async () => {
      const { systemId, token } = await createDeployed(h, { hostname: 'owned' });
      // Make the non-admin user the owner (no API allocates machines here), then add a stranger.
      h.store.putMachine({ ...h.store.getMachine(systemId)!, owner: 'alice' });
      const strangerKey = h.store.addUser(`bob-${kind}`, { admin: false });
      const path = `/api/2.0/machines/${systemId}/?op=get_token`;
      expect((await call(h, 'GET', path, userKey)).status).toBe(200);
      expect((await call(h, 'GET', path, otherAdminKey)).status).toBe(200);
      // Another user's machine answers as a missing one would: nobody learns which ids exist.
      const stranger = await call(h, 'GET', path, strangerKey);
      const missing = await call(h, 'GET', '/api/2.0/machines/nosuch/?op=get_token', strangerKey);
      expect([stranger.status, await stranger.text()]).toEqual([404, await missing.text()]);
      expect(missing.status).toBe(404);
      expect((await call(h, 'POST', `/api/2.0/machines/${systemId}/?op=regenerate_token`, strangerKey)).status).toBe(404);
      // A machine without an owner is in everyone's list: its token is refused with 403.
      h.store.putMachine({ ...h.store.getMachine(systemId)!, owner: null });
      const unowned = await call(h, 'GET', path, strangerKey);
      expect([unowned.status, await unowned.text()]).toEqual([403, '']);
      h.store.putMachine({ ...h.store.getMachine(systemId)!, owner: 'alice' });
      expect((await call(h, 'GET', `/api/2.0/machines/${systemId}/?op=get_token`, undefined)).status).toBe(401);
      const anonymous = await call(h, 'GET', path, undefined);
      expect([anonymous.status, await anonymous.text()]).toEqual([401, 'Forbidden']);
      const asMachine = await call(h, 'GET', path, token);
      expect([asMachine.status, await asMachine.text()]).toEqual([403, 'User is not allowed access to this API.']);
      expect((await call(h, 'POST', `/api/2.0/machines/${systemId}/?op=regenerate_token`, userKey)).status).toBe(200);
    });

    it('forbids a user token on the metadata API and a machine token on another machine', async () => {
      const a = await createDeployed(h, { hostname: 'scope-a' });
      const b = await createDeployed(h, { hostname: 'scope-b' });
      const asUser = await call(h, 'GET', '/metadata/2012-03-01/maas-scripts', h.adminKey);
      expect([asUser.status, await asUser.text()]).toEqual([403, 'Not authenticated as a known node.']);
      expect((await call(h, 'GET', `/api/2.0/machines/${b.systemId}/`, a.token)).status).toBe(403);
      // A's token reports into A only.
      await signal(h, a.token, 'maas-serial-ports', { stdout: '/dev/ttyS9\n' });
      const bSet = h.store.resultsOfSet(h.store.getMachine(b.systemId)!.scriptSetId!);
      expect(bSet.every((r) => r.stdout === null)).toBe(true);
    });
  });

  describe('lock, annotations and netboot operations', () => {
    it('refuses release of a locked machine until it is unlocked', async () => {
      const { systemId } = await createDeployed(h, { hostname: 'locked' });
      expect(((await (await call(h, 'POST', `/api/2.0/machines/${systemId}/?op=lock`, h.adminKey)).json()) as MachineJson).locked).toBe(true);
      const refused = await call(h, 'POST', `/api/2.0/machines/${systemId}/?op=release`, h.adminKey);
      expect(refused.status).toBe(403);
      expect(await refused.text()).toMatch(/locked/);
      await call(h, 'POST', `/api/2.0/machines/${systemId}/?op=unlock`, h.adminKey);
      expect((await call(h, 'POST', `/api/2.0/machines/${systemId}/?op=release`, h.adminKey)).status).toBe(200);
    });

    it('sets and deletes workload annotations', async () => {
      const { systemId } = await createDeployed(h, { hostname: 'annotated' });
      const path = `/api/2.0/machines/${systemId}/?op=set_workload_annotations`;
      await call(h, 'POST', path, h.adminKey, { fields: { role: 'maas-controller', team: 'infra' } });
      const machine = (await (await call(h, 'POST', path, h.adminKey, { fields: { team: '' } })).json()) as MachineJson;
      expect(machine.workload_annotations).toEqual({ role: 'maas-controller' });
    });

    it('refuses deploy, rescue_mode and test for a machine without a MAC, saying why', async () => {
      const { systemId } = await createDeployed(h, { hostname: 'nomac' });
      for (const op of ['deploy', 'rescue_mode', 'test']) {
        const response = await call(h, 'POST', `/api/2.0/machines/${systemId}/?op=${op}`, h.adminKey);
        expect(response.status).toBe(409);
        expect(await response.text()).toMatch(/has no MAC address/);
      }
    });

    it('requires a MAC before a machine gets a power driver other than IPMI or manual', async () => {
      const { systemId } = await createDeployed(h, { hostname: 'later-power' });
      const refused = await call(h, 'PUT', `/api/2.0/machines/${systemId}/`, h.adminKey, { fields: { power_type: 'redfish' } });
      expect(refused.status).toBe(400);
      expect((await call(h, 'PUT', `/api/2.0/machines/${systemId}/`, h.adminKey, { fields: { power_type: 'ipmi' } })).status).toBe(200);
    });
  });

  describe('reports across machines', () => {
    it("keeps a MAC with the machine whose interface holds it, records the clash on both, and clears a duplicated hardware UUID on both", async () => {
      const first = await createDeployed(h, { hostname: 'first-host' });
      const second = await createDeployed(h, { hostname: 'second-host' });
      // MACs no earlier test of this store has reported, so the first machine holds them.
      const fresh = new Map<string, string>();
      const report = sample('machine-resources').replace(/(?:[0-9a-f]{2}:){5}[0-9a-f]{2}/gi, (mac) => {
        if (!fresh.has(mac.toLowerCase())) fresh.set(mac.toLowerCase(), `02:${randomBytes(5).toString('hex').match(/../g)!.join(':')}`);
        return fresh.get(mac.toLowerCase())!;
      });
      await signal(h, first.token, '50-maas-01-commissioning', { stdout: report });
      const before = await readMachine(h, first.systemId);
      expect(before.hardware_uuid).not.toBeNull();
      expect(before.interface_set.length).toBeGreaterThan(0);
      // The second machine's token reports the first machine's NICs (a copied report, or an attack).
      const response = await signal(h, second.token, '50-maas-01-commissioning', { stdout: report });
      expect(response.status).toBe(200);
      const [a, b] = [await readMachine(h, first.systemId), await readMachine(h, second.systemId)];
      const macs = before.interface_set.filter((i) => i.type === 'physical').map((i) => i.mac_address).sort();
      expect(a.interface_set.filter((i) => i.type === 'physical').map((i) => i.mac_address).sort()).toEqual(macs);
      expect(b.interface_set.filter((i) => macs.includes(i.mac_address))).toEqual([]);
      // The rest of the report is taken.
      expect([b.cpu_count, b.memory]).toEqual([before.cpu_count, before.memory]);
      // A lookup by MAC still finds the first machine, and only it.
      const found = (await (await call(h, 'GET', `/api/2.0/machines/?mac_address=${encodeURIComponent(macs[0]!)}`, h.adminKey)).json()) as { system_id: string }[];
      expect(found.map((m) => m.system_id)).toEqual([first.systemId]);
      for (const id of [first.systemId, second.systemId]) {
        const clashes = h.store.eventsOf(id).filter((e) => e.type === 'MAC address conflict').map((e) => e.description);
        expect(clashes).toContain(`MAC address ${macs[0]} reported by second-host (${second.systemId}) belongs to a physical interface of first-host (${first.systemId}); it stays there`);
      }
      expect([a.hardware_uuid, b.hardware_uuid]).toEqual([null, null]);
    });
  });
});
