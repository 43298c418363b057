// Each MAAS sample, signalled as 50-maas-01-commissioning for a deployed machine,
// yields over the API the machine fields, metadata, NUMA nodes, block devices and interfaces
// that MAAS's own code derived (the `hook` section of the matching .maas-view.json).
/* eslint-disable @typescript-eslint/no-explicit-any -- compares untyped fixture JSON with API JSON */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAAS_SAMPLES as SAMPLES } from '../helpers/fixtures.js';
import { STORE_KINDS, createDeployed, readMachine, signal, startHarness, type Harness } from './server-harness.js';

const names = readdirSync(SAMPLES)
  .filter((f) => f.endsWith('.json') && !f.endsWith('.maas-view.json'))
  .map((f) => f.replace(/\.json$/, ''));

interface HookSection {
  node: Record<string, unknown>;
  metadata: Record<string, string>;
  numa_nodes: Record<string, { cores: number[]; memory_mib: number }>;
  numa_hugepages: { numa_node: number; page_size: number; total: number }[];
  physical_block_devices: Record<string, unknown>[];
  interfaces: (Record<string, unknown> & { links: { address: string; netmask: string }[] })[];
}

describe.each(STORE_KINDS)('MAAS samples processed by the server with the %s store', (kind) => {
  it('has samples to check', () => {
    expect(names.length).toBeGreaterThanOrEqual(5);
  });

  describe.each(names)('%s', (name) => {
    const hook = (JSON.parse(readFileSync(join(SAMPLES, `${name}.maas-view.json`), 'utf8')) as { hook: HookSection }).hook;
    let machine: any;
    let events: string[];
    // A server per sample: several samples share MACs and a UUID, which the server keeps with the
    // first machine or clears across machines (checked in lifecycle.test.ts).
    let h: Harness;
    afterAll(() => h.stop());

    beforeAll(async () => {
      h = await startHarness(kind);
      const { systemId, token } = await createDeployed(h, { hostname: name.replace(/[^a-z0-9-]/gi, '-') });
      const response = await signal(h, token, '50-maas-01-commissioning', { stdout: readFileSync(join(SAMPLES, `${name}.json`)) });
      expect(response.status).toBe(200);
      machine = await readMachine(h, systemId);
      events = h.store.eventsOf(systemId).map((e) => e.description);
    });

    it('logs no processing failure', () => {
      expect(events).toEqual([]);
    });

    it('sets the machine fields MAAS sets', () => {
      const node = hook.node;
      expect(machine.architecture).toBe(node.architecture);
      expect(machine.cpu_count).toBe(node.cpu_count);
      expect(machine.cpu_speed).toBe(node.cpu_speed);
      expect(machine.memory).toBe(node.memory_mib);
      expect(machine.osystem).toBe(node.osystem);
      expect(machine.distro_series).toBe(node.distro_series);
      expect(machine.hardware_uuid).toBe(node.hardware_uuid);
      expect([...machine.tag_names].sort()).toEqual([...(node.tags as string[])].sort());
    });

    it('stores the system, board, chassis and CPU metadata as hardware_info', () => {
      for (const [key, value] of Object.entries(machine.hardware_info as Record<string, string>)) {
        expect({ key, value }).toEqual({ key, value: hook.metadata[key] ?? 'Unknown' });
      }
    });

    it('has the NUMA nodes with their cores, memory and hugepages', () => {
      const expected = Object.entries(hook.numa_nodes)
        .map(([index, n]) => ({
          index: Number(index),
          cores: [...n.cores].sort((a, b) => a - b),
          memory: n.memory_mib,
          hugepages_set: hook.numa_hugepages.filter((p) => p.numa_node === Number(index)).map((p) => ({ total: p.total, page_size: p.page_size })),
        }))
        .sort((a, b) => a.index - b.index);
      const actual = (machine.numanode_set as any[])
        .map((n) => ({ index: n.index, cores: [...n.cores].sort((a: number, b: number) => a - b), memory: n.memory, hugepages_set: n.hugepages_set }))
        .sort((a, b) => a.index - b.index);
      expect(actual).toEqual(expected);
    });

    it('has the physical block devices', () => {
      const pick = (d: Record<string, any>) => ({
        name: d.name,
        id_path: d.id_path,
        size: d.size,
        block_size: d.block_size,
        model: d.model,
        serial: d.serial,
        firmware_version: d.firmware_version ?? null,
        numa_node: d.numa_node,
        tags: [...(d.tags ?? [])].sort(),
      });
      const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
      expect((machine.physicalblockdevice_set as any[]).map(pick).sort(byName)).toEqual(hook.physical_block_devices.map(pick).sort(byName));
      const total = hook.physical_block_devices.reduce((sum, d) => sum + (d.size as number), 0);
      expect(machine.storage).toBeCloseTo(total / 1e6, 1);
    });

    it('has the interfaces with their MACs, parents, speeds and addresses', () => {
      const pick = (i: Record<string, any>, links: string[]) => ({
        name: i.name,
        type: i.type,
        mac_address: i.mac_address,
        parents: [...i.parents].sort(),
        vendor: i.vendor ?? null,
        product: i.product ?? null,
        firmware_version: i.firmware_version ?? null,
        // MAAS's columns default to 0; its in-memory stand-in left unset ones null.
        interface_speed: i.interface_speed ?? 0,
        link_speed: i.link_speed ?? 0,
        link_connected: i.link_connected,
        numa_node: i.numa_node,
        sriov_max_vf: i.sriov_max_vf ?? 0,
        tags: [...(i.tags ?? [])].sort(),
        links: links.sort(),
      });
      const expected = hook.interfaces.map((i) => pick(i, i.links.map((l) => `${l.address}/${l.netmask}`)));
      const actual = (machine.interface_set as any[]).map((i) =>
        pick(
          i,
          (i.links as any[]).filter((l) => l.ip_address).map((l) => `${l.ip_address}/${String(l.subnet?.cidr ?? '').split('/')[1]}`),
        ),
      );
      const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
      expect(actual.sort(byName)).toEqual(expected.sort(byName));
    });
  });
});
