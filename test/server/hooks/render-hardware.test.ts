// The machine JSON fields of a machine before and after reports.
import { describe, expect, it } from 'vitest';
import { HARDWARE_INFO_KEYS } from '../../../src/maas/types.js';
import { deriveHardware, emptyHardware, renderHardware } from '../../../src/server/hooks/process-resources.js';
import { subnetId } from '../../../src/server/hooks/render-hardware.js';
import { compactReport, network, networksOf } from './compact-report.js';

describe('renderHardware', () => {
  it('renders a never-reported machine as MAAS does right after creation', () => {
    const json = renderHardware(emptyHardware(), 'x7ghqk');
    expect(json).toEqual({
      architecture: '',
      osystem: '',
      distro_series: '',
      cpu_count: 0,
      cpu_speed: 0,
      memory: 0,
      storage: 0,
      hardware_uuid: null,
      hardware_info: Object.fromEntries(HARDWARE_INFO_KEYS.map((k) => [k, 'Unknown'])),
      numanode_set: [{ index: 0, cores: [], memory: 0, hugepages_set: [] }],
      interface_set: [],
      blockdevice_set: [],
      physicalblockdevice_set: [],
      tag_names: [],
    });
  });

  it('always renders all 18 hardware_info keys', () => {
    const json = renderHardware(deriveHardware({ document: compactReport(), previous: emptyHardware(), deployed: true }), 'x7ghqk');
    expect(Object.keys(json.hardware_info ?? {}).sort()).toEqual([...HARDWARE_INFO_KEYS].sort());
  });

  it('gives children, VLAN objects, resource URIs and stable subnet ids', () => {
    const doc = compactReport();
    networksOf(doc)['ens3.7'] = network('52:54:00:12:34:56', [{ family: 'inet', address: '10.7.0.2', netmask: '16', scope: 'global' }], { vlan: { lower_device: 'ens3', vid: 7 } });
    const json = renderHardware(deriveHardware({ document: doc, previous: emptyHardware(), deployed: true }), 'x7ghqk');
    const [ens3, vlan] = json.interface_set ?? [];
    expect(ens3?.children).toEqual(['ens3.7']);
    expect(vlan).toMatchObject({ parents: ['ens3'], type: 'vlan', vlan: { vid: 7 }, resource_uri: `/MAAS/api/2.0/nodes/x7ghqk/interfaces/${vlan?.id}/` });
    expect(vlan?.links[0]?.subnet).toMatchObject({ cidr: '10.7.0.0/16', id: subnetId('10.7.0.0/16') });
    expect(subnetId('10.7.0.0/16')).not.toBe(subnetId('10.0.0.0/24'));
    expect(json.blockdevice_set?.[0]).toMatchObject({ path: '/dev/disk/by-dname/vda', uuid: null, filesystem: null, partitions: [], numa_node: 0 });
  });
});
