import { describe, expect, it } from 'vitest';
import { parseVpd, readPci } from '../../collectors/pci.js';
import { readGpu } from '../../collectors/gpu.js';
import { readUsb } from '../../collectors/usb.js';
import { createHost } from '../../src/host/host.js';
import { link, makeRoot, noCommands, type Tree } from '../helpers/make-root.js';
import { edgeMachine } from './edge-machine.js';

function vpdResource(tag: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag, body.length & 0xff, body.length >> 8]), body]);
}

function keyword(key: string, value: string): Buffer {
  return Buffer.concat([Buffer.from(key, 'latin1'), Buffer.from([value.length]), Buffer.from(value, 'latin1')]);
}

describe('parseVpd', () => {
  it('reads the product name and keeps only the keywords LXD keeps', () => {
    const bytes = Buffer.concat([
      vpdResource(0x82, Buffer.from('ConnectX-6 Dx')),
      vpdResource(0x90, Buffer.concat([keyword('PN', 'MCX623106AN'), keyword('SN', 'MT2112X00001'), keyword('RV', '\u0000'), keyword('V2', 'vendor')])),
      Buffer.from([0x78]),
    ]);
    expect(parseVpd(bytes)).toEqual({ product_name: 'ConnectX-6 Dx', entries: { PN: 'MCX623106AN', SN: 'MT2112X00001', V2: 'vendor' } });
  });

  it('gives an empty object for empty or foreign data', () => {
    expect(parseVpd(Buffer.alloc(0))).toEqual({});
    expect(parseVpd(Buffer.from([0x10, 0, 0]))).toEqual({});
  });
});

describe('readPci', () => {
  it('lists every PCI function with ids, names, driver, NUMA node and IOMMU group', async () => {
    const { value: pci } = await readPci(createHost({ root: await makeRoot(edgeMachine()), run: noCommands, uname: { release: '6.8.0-test' } }));
    expect(pci.total).toBe(pci.devices?.length);
    const pf = pci.devices?.find((d) => d.pci_address === '0000:03:00.0');
    expect(pf).toEqual({
      driver: 'igb', driver_version: '5.4.0-k', numa_node: 1, pci_address: '0000:03:00.0', vendor: 'Intel Corporation', vendor_id: '8086',
      product: 'I210 Gigabit Network Connection', product_id: '1533', iommu_group: 12, vpd: {},
    });
    const vf = pci.devices?.find((d) => d.pci_address === '0000:03:10.4');
    expect(vf).toMatchObject({ driver: '', driver_version: '', iommu_group: 0 });
    // A driver built into the kernel has no module version: the kernel release stands in.
    expect(pci.devices?.find((d) => d.pci_address === '0000:03:10.0')?.driver_version).toBe('6.8.0-test');
  });
});

describe('PCI VPD as root', () => {
  const pf = 'sys/devices/pci0000:00/0000:00:01.0/0000:03:00.0';
  const vpd = Buffer.concat([vpdResource(0x82, Buffer.from('I210 Card')), vpdResource(0x90, keyword('SN', 'SN0001')), Buffer.from([0x78])]);
  const vpdOf = async (runtimeStatus: string | undefined) => {
    const tree: Tree = { ...edgeMachine(), [`${pf}/vpd`]: vpd };
    if (runtimeStatus !== undefined) tree[`${pf}/power/runtime_status`] = `${runtimeStatus}\n`;
    const { value: pci } = await readPci(createHost({ root: await makeRoot(tree), run: noCommands, isRoot: true }));
    return pci.devices?.find((d) => d.pci_address === '0000:03:00.0')?.vpd;
  };

  it('is read from an awake device', async () => {
    expect(await vpdOf('active')).toEqual({ product_name: 'I210 Card', entries: { SN: 'SN0001' } });
    expect(await vpdOf('unsupported')).toEqual({ product_name: 'I210 Card', entries: { SN: 'SN0001' } });
    expect(await vpdOf(undefined)).toEqual({ product_name: 'I210 Card', entries: { SN: 'SN0001' } });
  });

  it('is not read from a runtime-suspended device, since the read would wake it', async () => {
    expect(await vpdOf('suspended')).toEqual({});
  });
});

describe('readGpu', () => {
  it('finds the display controller with its DRM card and render nodes', async () => {
    const { value: gpu } = await readGpu(createHost({ root: await makeRoot(edgeMachine()), run: noCommands }));
    expect(gpu.total).toBe(1);
    expect(gpu.cards?.[0]).toMatchObject({
      driver: 'i915', pci_address: '0000:00:02.0', vendor_id: '8086', product: 'CoffeeLake-S GT2 [UHD Graphics 630]',
      drm: { id: 0, card_name: 'card0', card_device: '226:0', render_name: 'renderD128', render_device: '226:128' },
    });
  });
});

describe('readUsb', () => {
  it('lists non-hub devices with names from usb.ids and their interfaces', async () => {
    const { value: usb } = await readUsb(createHost({ root: await makeRoot(edgeMachine()), run: noCommands }));
    expect(usb.total).toBe(1);
    expect(usb.devices?.[0]).toMatchObject({
      bus_address: 1, device_address: 3, serial: '4C530001', vendor: 'SanDisk Corp.', vendor_id: '0781', product: 'Cruzer Blade', product_id: '5567', speed: 480,
      interfaces: [{ class: 'Mass Storage', class_id: 8, driver: 'usb-storage', number: 0, subclass: 'SCSI', subclass_id: 6 }],
    });
  });
});

describe('readGpu with SR-IOV', () => {
  it('lists a GPU’s virtual functions under it and counts them in the total', async () => {
    const tree = edgeMachine();
    const gpu = 'sys/devices/pci0000:00/0000:00:02.0';
    Object.assign(tree, {
      [`${gpu}/sriov_totalvfs`]: '7\n',
      [`${gpu}/sriov_numvfs`]: '1\n',
      'sys/devices/pci0000:00/0000:00:02.1/vendor': '0x8086\n',
      'sys/devices/pci0000:00/0000:00:02.1/device': '0x3e92\n',
      'sys/devices/pci0000:00/0000:00:02.1/class': '0x030000\n',
      'sys/devices/pci0000:00/0000:00:02.1/physfn': link('/sys/devices/pci0000:00/0000:00:02.0'),
      'sys/bus/pci/devices/0000:00:02.1': link('/sys/devices/pci0000:00/0000:00:02.1'),
    });
    const { value: result } = await readGpu(createHost({ root: await makeRoot(tree), run: noCommands }));
    expect(result.cards?.map((c) => c.pci_address)).toEqual(['0000:00:02.0']);
    expect(result.cards?.[0]?.sriov).toMatchObject({ current_vfs: 1, maximum_vfs: 7 });
    expect(result.cards?.[0]?.sriov?.vfs?.map((v) => v.pci_address)).toEqual(['0000:00:02.1']);
    expect(result.total).toBe(2);
  });
});
