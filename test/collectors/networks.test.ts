import { describe, expect, it } from 'vitest';
import { addressScope, compressIpv6, interfaceType, parseIfInet6, parseProcNetDev, parseVlanConfig, readNetworks } from '../../collectors/networks.js';
import { createHost } from '../../src/host/host.js';
import { cannedCommands, makeRoot, noCommands } from '../helpers/make-root.js';
import { EDGE_COMMANDS, edgeMachine } from './edge-machine.js';

describe('interface-state parsers', () => {
  it('scopes loopback, link-local and other addresses as LXD does', () => {
    expect(['127.0.0.1', '::1', '169.254.1.1', 'fe80::1', '10.0.0.1', '2001:db8::1'].map(addressScope)).toEqual(['local', 'local', 'link', 'link', 'global', 'global']);
  });

  it('prints IPv6 addresses from /proc/net/if_inet6 in their short form with prefix lengths', () => {
    const parsed = parseIfInet6('20010db8000100010000000000000011 03 40 00 80     eth0\n');
    expect(parsed.get('eth0')).toEqual([{ family: 'inet6', address: '2001:db8:1:1::11', netmask: '64', scope: 'global' }]);
    expect(compressIpv6(['2001', 'db8', '0', '1', '0', '0', '0', '1'])).toBe('2001:db8:0:1::1');
  });

  it('reads byte and packet counters from /proc/net/dev', () => {
    const text = 'Inter-| ...\n face |...\n  eth0: 100 2 0 0 0 0 0 0 300 4 0 0 0 0 0 0\n';
    expect(parseProcNetDev(text).get('eth0')).toEqual({ bytes_received: 100, bytes_sent: 300, packets_received: 2, packets_sent: 4 });
  });

  it('reads VLAN parents and ids from /proc/net/vlan/config', () => {
    expect(parseVlanConfig('VLAN Dev name | VLAN ID\nName-Type: X\nens6.100 | 100 | ens6\n').get('ens6.100')).toEqual({ lower_device: 'ens6', vid: 100 });
  });

  it('ranks loopback over point-to-point over broadcast', () => {
    expect([interfaceType(0x9), interfaceType(0x91), interfaceType(0x1003), interfaceType(0x1)]).toEqual(['loopback', 'point-to-point', 'broadcast', 'unknown']);
  });
});

describe('readNetworks', () => {
  async function read(run = cannedCommands(EDGE_COMMANDS)) {
    return readNetworks(createHost({ root: await makeRoot(edgeMachine()), run }));
  }

  it('lists every interface, sorted, but not the bonding_masters file', async () => {
    const { value: networks } = await read();
    expect(Object.keys(networks)).toEqual(['bond0', 'br0', 'eth0', 'eth0v0', 'eth1', 'eth2', 'eth3', 'eth3.10', 'lo', 'wg0']);
  });

  it('describes the bond, the bridge and the VLAN and leaves the others null', async () => {
    const { value: networks } = await read();
    expect(networks.bond0?.bond).toEqual({ mode: '802.3ad', transmit_policy: 'layer3+4', up_delay: 200, down_delay: 0, mii_frequency: 100, mii_state: 'up', lower_devices: ['eth1', 'eth2'] });
    expect(networks.br0?.bridge).toEqual({ id: '8000.52cb5cf1bba5', stp: true, forward_delay: 1500, vlan_default: 1, vlan_filtering: false, upper_devices: ['eth3'] });
    expect(networks['eth3.10']?.vlan).toEqual({ lower_device: 'eth3', vid: 10 });
    expect(networks.eth0).toMatchObject({ bond: null, bridge: null, vlan: null, ovn: null });
  });

  it('takes addresses from ip, with prefix lengths and scopes', async () => {
    const { value: networks, warnings } = await read();
    expect(networks.bond0?.addresses).toEqual([
      { family: 'inet', address: '10.1.0.5', netmask: '16', scope: 'global' },
      { family: 'inet', address: '169.254.3.4', netmask: '16', scope: 'link' },
    ]);
    expect(warnings).toEqual([]);
  });

  it('falls back to /proc/net/if_inet6 without ip and says IPv4 is missing', async () => {
    const { value: networks, warnings } = await read(noCommands);
    expect(networks.eth0?.addresses).toEqual([{ family: 'inet6', address: 'fe80::1', netmask: '64', scope: 'link' }]);
    expect(warnings.join('\n')).toMatch(/IPv4 addresses left out/);
  });

  it('gives loopback no hardware address and reports state, type, MTU and counters', async () => {
    const { value: networks } = await read();
    expect(networks.lo).toMatchObject({ hwaddr: '', state: 'up', type: 'loopback', mtu: 65536, counters: { bytes_received: 1000, bytes_sent: 1000, packets_received: 10, packets_sent: 10 } });
    expect(networks.wg0).toMatchObject({ hwaddr: '', type: 'point-to-point' });
    expect(networks.eth1?.hwaddr).toBe('fe:9d:21:b6:ac:72');
  });
});
