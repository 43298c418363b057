import { describe, expect, it } from 'vitest';
import { parseEthtoolKeyValues, parseEthtoolSettings, protocolOf, readNetwork } from '../../collectors/network.js';
import { createHost } from '../../src/host/host.js';
import type { NetworkCard } from '../../src/resources/types.js';
import { cannedCommands, makeRoot, noCommands } from '../helpers/make-root.js';
import { EDGE_COMMANDS, edgeMachine } from './edge-machine.js';

async function cards(withEthtool: boolean) {
  const host = createHost({ root: await makeRoot(edgeMachine()), run: withEthtool ? cannedCommands(EDGE_COMMANDS) : noCommands });
  const { value: network } = await readNetwork(host);
  const byAddress = (a: string): NetworkCard => network.cards!.find((c) => c.pci_address === a)!;
  return { network, byAddress };
}

describe('ethtool output parsers', () => {
  it('reads supported modes across continuation lines, ports, autonegotiation and link', () => {
    const s = parseEthtoolSettings(EDGE_COMMANDS['ethtool eth0']!);
    expect(s.supportedModes).toEqual(['10baseT/Half', '10baseT/Full', '100baseT/Half', '100baseT/Full', '1000baseT/Full']);
    expect(s).toMatchObject({ supportedPorts: ['twisted pair'], autoNegotiation: true, port: 'twisted pair', transceiver: 'internal', speed: 1000, duplex: 'full', linkDetected: true });
  });

  it('reads driver information and permanent addresses as key/value lines', () => {
    expect(parseEthtoolKeyValues('firmware-version: 3.25, 0x800005cc\n').get('firmware-version')).toBe('3.25, 0x800005cc');
    expect(parseEthtoolKeyValues('Permanent address: 52:54:00:12:01:01\n').get('Permanent address')).toBe('52:54:00:12:01:01');
  });

  it('names ethernet, ATM and infiniband link types', () => {
    expect([protocolOf('1'), protocolOf('19'), protocolOf('32'), protocolOf('772')]).toEqual(['ethernet', 'ATM', 'infiniband', 'unknown']);
  });
});

describe('readNetwork', () => {
  it('makes one card per PCI function, SR-IOV VFs under their parent, and counts them all', async () => {
    const { network, byAddress } = await cards(false);
    expect(network.cards?.map((c) => c.pci_address)).toEqual(['0000:03:00.0', '0000:04:00.0', '0000:04:00.1', '0000:00:1f.6']);
    const pf = byAddress('0000:03:00.0');
    expect(pf.sriov).toMatchObject({ current_vfs: 2, maximum_vfs: 7 });
    expect(pf.sriov?.vfs?.map((v) => v.pci_address).sort()).toEqual(['0000:03:10.0', '0000:03:10.4']);
    expect(network.total).toBe(6);
  });

  it('names vendor and product from pci.ids and reads driver, version and NUMA node', async () => {
    const { byAddress } = await cards(false);
    expect(byAddress('0000:03:00.0')).toMatchObject({
      driver: 'igb', driver_version: '5.4.0-k', numa_node: 1, vendor: 'Intel Corporation', vendor_id: '8086', product: 'I210 Gigabit Network Connection', product_id: '1533',
    });
  });

  it('gives bond slaves their permanent MAC, not the bond’s', async () => {
    const { byAddress } = await cards(false);
    expect(byAddress('0000:04:00.0').ports?.[0]).toMatchObject({ id: 'eth1', address: '00:1b:21:cc:dd:01', link_detected: true, link_speed: 10000, link_duplex: 'full' });
    expect(byAddress('0000:04:00.1').ports?.[0]?.address).toBe('00:1b:21:cc:dd:02');
  });

  it('reports a port without carrier as not linked, with no speed or duplex', async () => {
    const { byAddress } = await cards(false);
    const port = byAddress('0000:00:1f.6').ports![0]!;
    expect(port).toMatchObject({ id: 'eth3', link_detected: false, auto_negotiation: false, protocol: 'ethernet', port: 0 });
    expect(Object.keys(port)).toEqual(['id', 'address', 'port', 'protocol', 'auto_negotiation', 'link_detected']);
  });

  it('adds supported modes and firmware version from ethtool when it is installed', async () => {
    const { byAddress } = await cards(true);
    const pf = byAddress('0000:03:00.0');
    expect(pf.firmware_version).toBe('3.25, 0x800005cc');
    expect(pf.ports?.[0]).toMatchObject({ supported_modes: expect.arrayContaining(['1000baseT/Full']), port_type: 'twisted pair', auto_negotiation: true, link_speed: 1000 });
  });
});
