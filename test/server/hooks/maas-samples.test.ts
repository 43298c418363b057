// Each machine-resources sample, processed for a deployed machine, must give what real MAAS
// stored for it: the `hook` section of the matching `.maas-view.json`, field by field.
import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyHardware, hookView, processResources, renderHardware } from '../../../src/server/hooks/process-resources.js';
import { MAAS_SAMPLES as SAMPLES } from '../../helpers/fixtures.js';

const names = readdirSync(SAMPLES)
  .filter((f) => f.endsWith('.json') && !f.endsWith('.maas-view.json'))
  .map((f) => f.slice(0, -'.json'.length));

interface MaasView {
  node_status: string;
  hook: {
    events: unknown[];
    node: Record<string, unknown>;
    metadata: Record<string, string>;
    numa_nodes: Record<string, unknown>;
    numa_hugepages: unknown[];
    physical_block_devices: unknown[];
    interfaces: { name: string }[];
    node_devices: unknown[];
  };
}

const byName = <T extends { name: unknown }>(list: readonly T[]): T[] => [...list].sort((a, b) => String(a.name).localeCompare(String(b.name)));

describe.each(names)('the %s sample reported by a deployed machine', (name) => {
  // The raw bytes, as the .out file of the signal carries them.
  const report = readFileSync(resolve(SAMPLES, `${name}.json`));
  const view = JSON.parse(readFileSync(resolve(SAMPLES, `${name}.maas-view.json`), 'utf8')) as MaasView;
  const result = processResources({ document: report, previous: emptyHardware(), deployed: view.node_status === 'deployed' });
  const got = hookView(result.hardware);

  it('is a sample MAAS processed for a deployed machine', () => {
    expect(view.node_status).toBe('deployed');
  });

  it('sets the machine fields MAAS stored', () => {
    expect(got.node).toEqual(view.hook.node);
  });

  it('sets the same metadata keys and values, and no other', () => {
    expect(got.metadata).toEqual(view.hook.metadata);
  });

  it('describes the same NUMA nodes and hugepage records', () => {
    expect(got.numa_nodes).toEqual(view.hook.numa_nodes);
    expect(got.numa_hugepages).toEqual(view.hook.numa_hugepages);
  });

  it('models the same physical block devices', () => {
    expect(got.physical_block_devices).toEqual(view.hook.physical_block_devices);
  });

  it('models the same interfaces with the same details, parents and links', () => {
    expect(byName(got.interfaces as { name: string }[])).toEqual(byName(view.hook.interfaces));
  });

  it('records the same node devices and events', () => {
    expect(got.node_devices).toEqual(view.hook.node_devices);
    expect(result.events).toEqual(view.hook.events);
  });

  it('renders the same hardware into the machine JSON', () => {
    const json = renderHardware(result.hardware, 'x7ghqk');
    const node = view.hook.node;
    expect(json).toMatchObject({
      architecture: node.architecture,
      cpu_count: node.cpu_count,
      cpu_speed: node.cpu_speed,
      memory: node.memory_mib,
      osystem: node.osystem,
      distro_series: node.distro_series,
      hardware_uuid: node.hardware_uuid,
      tag_names: node.tags,
    });
    for (const [key, value] of Object.entries(json.hardware_info ?? {})) {
      expect(value, key).toBe(view.hook.metadata[key] ?? 'Unknown');
    }
    const disks = view.hook.physical_block_devices as { name: string; size: number; id_path: string; tags: string[] }[];
    expect(json.physicalblockdevice_set?.map((d) => [d.name, d.id_path, d.size, d.tags])).toEqual(disks.map((d) => [d.name, d.id_path, d.size, d.tags]));
    expect(json.storage).toBeCloseTo(disks.reduce((sum, d) => sum + d.size, 0) / 1e6, 6);
    const expectedInterfaces = view.hook.interfaces as unknown as { name: string; mac_address: string; type: string; parents: string[]; links: { address: string }[] }[];
    expect(byName(json.interface_set ?? []).map((i) => [i.name, i.mac_address, i.type, i.parents, i.links.map((l) => l.ip_address)])).toEqual(
      byName(expectedInterfaces).map((i) => [i.name, i.mac_address, i.type, i.parents, i.links.map((l) => l.address)]),
    );
    expect(json.numanode_set?.map((n) => [String(n.index), n.memory])).toEqual(Object.entries(view.hook.numa_nodes).map(([i, n]) => [i, (n as { memory_mib: number }).memory_mib]));
  });
});
