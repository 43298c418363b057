// Interfaces: which are modelled, in what order, with which parents, details and links.
import { describe, expect, it } from 'vitest';
import { emptyHardware } from '../../../src/server/hooks/process-resources.js';
import { linksOf, parseCards, parseNetworks, processingOrder, updateInterfaces } from '../../../src/server/hooks/interfaces.js';
import { HookError } from '../../../src/server/hooks/validate.js';
import { network } from './compact-report.js';

const ids = () => {
  let n = 1;
  return () => n++;
};
const port = (id: string, address: string, extra: Record<string, unknown> = {}) => ({ id, address, port: 0, protocol: 'ethernet', auto_negotiation: false, link_detected: true, ...extra });

function model(networks: Record<string, unknown>, cards: unknown[] = [], deployed = true, previous = emptyHardware().interfaces) {
  return updateInterfaces(previous, parseNetworks({ networks }), parseCards({ network: { cards } }, deployed), new Set([0, 1]), deployed, ids());
}

describe('processingOrder', () => {
  it('puts parents before children and sorts each level by name', () => {
    const order = processingOrder(
      parseNetworks({
        networks: {
          'bond0.10': network('aa:00:00:00:00:01', [], { vlan: { lower_device: 'bond0', vid: 10 } }),
          bond0: network('aa:00:00:00:00:01', [], { bond: { lower_devices: ['eth1', 'eth0', 'ghost'] } }),
          eth1: network('aa:00:00:00:00:02'),
          eth0: network('aa:00:00:00:00:01'),
          br0: network('aa:00:00:00:00:03', [], { bridge: { upper_devices: null } }),
        },
      }),
    );
    expect(order).toEqual(['br0', 'eth0', 'eth1', 'bond0', 'bond0.10']);
  });

  it('refuses interfaces that are each other’s parents', () => {
    const networks = { a: network('aa:00:00:00:00:01', [], { bond: { lower_devices: ['b'] } }), b: network('aa:00:00:00:00:02', [], { bond: { lower_devices: ['a'] } }) };
    expect(() => processingOrder(parseNetworks({ networks }))).toThrow(HookError);
  });
});

describe('updateInterfaces', () => {
  it('models only broadcast interfaces, skipping the OpenBMC MAC and IPoIB addresses', () => {
    const { interfaces } = model({
      lo: { ...network(''), type: 'loopback' },
      tun0: { ...network(''), type: 'point-to-point' },
      usb0: network('02:00:00:00:00:02'),
      ib0: network('a0:00:02:20:fe:80:00:00:00:00:00:00:e4:1d:2d:03:00:4f:06:e1'),
      eth0: network('00:00:00:00:00:02'),
    });
    expect(interfaces.map((i) => i.name)).toEqual(['eth0']);
  });

  it('takes the MAC and link state from the card port, the rest from the card', () => {
    const { interfaces } = model({ eno1: network('62:af:27:86:a7:b5', [], { state: 'up' }), eno2: network('62:af:27:86:a7:b5', [], { state: 'up' }) }, [
      { numa_node: 1, vendor: 'Intel Corporation', firmware_version: '1.2', pci_address: '0000:01:00.0', sriov: { current_vfs: 0, maximum_vfs: 63, vfs: null }, ports: [port('eno1', '44:A8:42:BA:A3:B4', { supported_modes: ['1000baseKX/Full', '10000baseKR/Full'], link_speed: 10000 })] },
      { numa_node: 0, ports: [port('eno2', '44:a8:42:ba:a3:b6', { link_detected: false })] },
    ]);
    expect(interfaces.map((i) => [i.name, i.mac, i.linkConnected, i.interfaceSpeed, i.linkSpeed, i.sriovMaxVf, i.numaNode, i.tags, i.vendor, i.firmwareVersion])).toEqual([
      ['eno1', '44:a8:42:ba:a3:b4', true, 10000, 10000, 63, 1, ['sriov'], 'Intel Corporation', '1.2'],
      ['eno2', '44:a8:42:ba:a3:b6', false, 0, 0, 0, 0, [], null, null],
    ]);
  });

  it('leaves card details unknown for interfaces no card describes', () => {
    const [eth0] = model({ eth0: network('00:00:00:00:00:01', [], { state: 'down' }) }).interfaces;
    expect(eth0).toMatchObject({ linkConnected: false, vendor: null, linkSpeed: null, interfaceSpeed: null, sriovMaxVf: null, numaNode: null, backedByCard: false });
  });

  it('builds bonds, bridges and VLANs on their parents, parents first, with the VLAN taking its parent’s MAC and a parentless bond ignored', () => {
    const { interfaces } = model({
      eth0: network('aa:00:00:00:00:01'),
      eth1: network('aa:00:00:00:00:02'),
      bond0: network('aa:00:00:00:00:09', [], { bond: { lower_devices: ['eth1', 'eth0'] } }),
      'bond0.240': network('ff:ff:ff:ff:ff:ff', [], { vlan: { lower_device: 'bond0', vid: 240 } }),
      br0: network('aa:00:00:00:00:03', [], { bridge: { upper_devices: null } }),
      bond1: network('aa:00:00:00:00:04', [], { bond: { lower_devices: ['missing'] } }),
    });
    const name = new Map(interfaces.map((i) => [i.id, i.name]));
    expect(interfaces.map((i) => [i.name, i.type, i.mac, i.parents.map((p) => name.get(p)), i.vid])).toEqual([
      ['br0', 'bridge', 'aa:00:00:00:00:03', [], null],
      ['eth0', 'physical', 'aa:00:00:00:00:01', [], null],
      ['eth1', 'physical', 'aa:00:00:00:00:02', [], null],
      ['bond0', 'bond', 'aa:00:00:00:00:09', ['eth1', 'eth0'], null],
      ['bond0.240', 'vlan', 'aa:00:00:00:00:09', ['bond0'], 240],
    ]);
  });

  it('fails on a VLAN whose parent is not modelled on this machine, as MAAS does', () => {
    const networks = { 'ib0.8001': network('aa:00:00:00:00:01', [], { vlan: { lower_device: 'ib0', vid: 1 } }), ib0: { ...network(''), type: 'unknown' } };
    expect(() => model(networks)).toThrow(/VLAN interface ib0\.8001: its parent ib0 is not an interface of this machine/);
  });

  it('ignores SR-IOV virtual functions of cards on deployed machines only', () => {
    const cards = [{ numa_node: 0, ports: [port('eth0', 'aa:00:00:00:00:01')], sriov: { current_vfs: 1, maximum_vfs: 4, vfs: [{ numa_node: 0, vendor: 'VF vendor', ports: [port('eth0v0', 'aa:00:00:00:00:f0')] }] } }];
    const networks = { eth0: network('aa:00:00:00:00:01'), eth0v0: network('aa:00:00:00:00:f0') };
    expect(model(networks, cards, true).interfaces.find((i) => i.name === 'eth0v0')).toMatchObject({ vendor: null, backedByCard: false, sriovVf: true });
    expect(model(networks, cards, false).interfaces.find((i) => i.name === 'eth0v0')).toMatchObject({ vendor: 'VF vendor', backedByCard: true });
  });

  it('keeps the id of an interface and of its unchanged links on a re-report', () => {
    const networks = { eth0: network('aa:00:00:00:00:01', [{ family: 'inet', address: '10.0.0.5', netmask: '24', scope: 'global' }]) };
    const first = model(networks).interfaces;
    const again = updateInterfaces(first, parseNetworks({ networks }), parseCards({}, true), new Set([0]), true, () => 100);
    expect(again.interfaces).toEqual(first);
  });
});

describe('linksOf', () => {
  const entry = (addresses: { family: 'inet' | 'inet6'; address: string; netmask: string; scope: string }[]) => ({ name: 'eth0', type: 'broadcast', hwaddr: '', up: true, addresses, vlan: null, bond: null, bridge: null });

  it('keeps only global addresses and derives each subnet from address and prefix', () => {
    const links = linksOf(
      entry([
        { family: 'inet', address: '10.128.210.1', netmask: '20', scope: 'global' },
        { family: 'inet6', address: '2001:db8:a::123', netmask: '64', scope: 'global' },
        { family: 'inet6', address: 'fe80::1', netmask: '64', scope: 'link' },
        { family: 'inet', address: '127.0.0.1', netmask: '8', scope: 'local' },
      ]),
    );
    expect(links.map((l) => [l.address, l.family, l.cidr])).toEqual([
      ['10.128.210.1', 'inet', '10.128.208.0/20'],
      ['2001:db8:a::123', 'inet6', '2001:db8:a::/64'],
    ]);
  });

  it('puts a /32 into a wider network of the same interface that contains it', () => {
    const links = linksOf(
      entry([
        { family: 'inet', address: '10.0.0.7', netmask: '32', scope: 'global' },
        { family: 'inet', address: '10.0.0.5', netmask: '24', scope: 'global' },
        { family: 'inet', address: '192.168.9.9', netmask: '32', scope: 'global' },
      ]),
    );
    expect(links.map((l) => `${l.address}/${l.netmask} in ${l.cidr}`)).toEqual(['10.0.0.7/24 in 10.0.0.0/24', '10.0.0.5/24 in 10.0.0.0/24', '192.168.9.9/32 in 192.168.9.9/32']);
  });
});
