// PCI and USB devices, typed by what sits at their address.
import { describe, expect, it } from 'vitest';
import { HardwareType } from '../../../src/server/hooks/hardware.js';
import { deriveNodeDevices } from '../../../src/server/hooks/node-devices.js';
import { emptyHardware, deriveHardware } from '../../../src/server/hooks/process-resources.js';
import { compactReport, resourcesOf } from './compact-report.js';

const pci = (pci_address: string, extra: Record<string, unknown> = {}) => ({ pci_address, vendor_id: '8086', product_id: '1234', numa_node: 0, driver: 'drv', vendor: 'V', product: 'P', ...extra });

describe('deriveNodeDevices', () => {
  it('types devices as network, storage, GPU or plain by their address', () => {
    const devices = deriveNodeDevices(
      { pci: { devices: [pci('0000:00:03.0'), pci('0000:00:04.0'), pci('0000:00:02.0'), pci('0000:00:1f.0', { vpd: { entries: { SN: 'X1' } } })] }, gpu: { cards: [{ pci_address: '0000:00:02.0' }] } },
      { interfaces: new Map([['0000:00:03.0', 7]]), disks: new Map([['0000:00:04.0', 9]]) },
      new Set([0]),
    );
    expect(devices.map((d) => [d.pciAddress, d.hardwareType, d.interfaceId, d.diskId])).toEqual([
      ['0000:00:03.0', HardwareType.NETWORK, 7, null],
      ['0000:00:04.0', HardwareType.STORAGE, null, 9],
      ['0000:00:02.0', HardwareType.GPU, null, null],
      ['0000:00:1f.0', HardwareType.NODE, null, null],
    ]);
    expect(devices[3]?.vpd).toEqual({ SN: 'X1' });
  });

  it('puts USB devices on NUMA node 0 and joins their interface drivers', () => {
    const [device] = deriveNodeDevices(
      { usb: { devices: [{ bus_address: 1, device_address: 4, vendor_id: '0bda', product_id: '8153', interfaces: [{ driver: 'r8152' }, { driver: 'r8152' }, { class: 'x' }] }] } },
      { interfaces: new Map([['1:4', 3]]), disks: new Map() },
      new Set([0]),
    );
    expect(device).toMatchObject({ bus: 'usb', busNumber: 1, deviceNumber: 4, numaNode: 0, commissioningDriver: 'r8152', hardwareType: HardwareType.NETWORK });
  });

  it('links the compact example’s NIC and disk devices through a whole report', () => {
    const doc = compactReport();
    resourcesOf(doc).pci = { devices: [pci('0000:00:03.0', { vendor_id: '1af4' }), pci('0000:00:04.0', { vendor_id: '1af4' })], total: 2 };
    const hw = deriveHardware({ document: doc, previous: emptyHardware(), deployed: true });
    expect(hw.nodeDevices.map((d) => [d.hardwareType, d.interfaceId, d.diskId])).toEqual([
      [HardwareType.NETWORK, hw.interfaces[0]?.id, null],
      [HardwareType.STORAGE, null, hw.disks[0]?.id],
    ]);
  });

  it('fails for a device on a NUMA node the report does not describe', () => {
    expect(() => deriveNodeDevices({ pci: { devices: [pci('0000:00:05.0', { numa_node: 2 })] } }, { interfaces: new Map(), disks: new Map() }, new Set([0]))).toThrow(/NUMA node 2/);
  });
});
