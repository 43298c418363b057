import { describe, expect, it } from 'vitest';
import { diskType, mountedDevices, parseVpdPage80, readStorage, udevSerial } from '../../collectors/storage.js';
import { parseUdevData } from '../../collectors/lib/udev.js';
import { createHost } from '../../src/host/host.js';
import type { Disk } from '../../src/resources/types.js';
import { makeRoot, noCommands } from '../helpers/make-root.js';
import { edgeMachine } from './edge-machine.js';

const GiB = 1024 ** 3;

async function disks(options: Parameters<typeof edgeMachine>[0] = {}) {
  const { value: storage, warnings } = await readStorage(createHost({ root: await makeRoot(edgeMachine(options)), run: noCommands }));
  const byId = (id: string): Disk => {
    const d = storage.disks?.find((x) => x.id === id);
    if (!d) throw new Error(`no disk ${id}`);
    return d;
  };
  return { storage, warnings, byId };
}

describe('storage parsers', () => {
  it('lists the devices mounted according to mountinfo', () => {
    expect([...mountedDevices('22 1 259:2 / / rw - ext4 /dev/nvme0n1p2 rw\n30 22 0:25 / /proc rw - proc proc rw\n')]).toEqual(['259:2', '0:25']);
  });

  it('reads the serial out of a VPD page 0x80', () => {
    expect(parseVpdPage80(Buffer.concat([Buffer.from([0, 0x80, 0, 10]), Buffer.from('  ABC123  ')]))).toBe('ABC123');
    expect(parseVpdPage80(Buffer.from([0, 0x83, 0, 0]))).toBe('');
  });

  it('prefers the SCSI identity serial, then the short serial, from udev', () => {
    expect(udevSerial(parseUdevData('E:ID_SERIAL=long_X\nE:ID_SERIAL_SHORT=X\n'))).toBe('X');
    expect(udevSerial(parseUdevData('E:ID_SERIAL_SHORT=X\nE:SCSI_IDENT_SERIAL=Y\n'))).toBe('Y');
  });

  it('refines the subsystem into cdrom, usb and sata as udev says', () => {
    expect(diskType('scsi', parseUdevData('E:ID_ATA_SATA=1\n'), 'sda', false)).toBe('sata');
    expect(diskType('scsi', parseUdevData('E:ID_USB_DRIVER=usb-storage\n'), 'sdb', true)).toBe('usb');
    expect(diskType('scsi', undefined, 'sr0', true)).toBe('cdrom');
    expect(diskType('nvme', undefined, 'nvme0n1', false)).toBe('nvme');
  });
});

describe('readStorage on NVMe, SATA, SAS, USB and virtio disks', () => {
  it('keeps whole disks only, counting partitions in the total', async () => {
    const { storage } = await disks();
    expect(storage.disks?.map((d) => d.id)).toEqual(['nvme0n1', 'sda', 'sdb', 'sdc', 'vda']);
    expect(storage.total).toBe(5 + 4);
  });

  it('describes the NVMe disk: model, serial, WWN, firmware, NUMA node and 4K blocks', async () => {
    const { byId } = await disks();
    expect(byId('nvme0n1')).toMatchObject({
      device: '259:0', type: 'nvme', model: 'Samsung_SSD_970_EVO_Plus_1TB', serial: 'S4EWNX0R123456', wwn: 'eui.0025385b91b0a3f1',
      firmware_version: '2B2QEXM7', numa_node: 1, block_size: 4096, rpm: 0, size: 1000 * GiB, pci_address: '0000:3b:00.0',
      device_path: 'pci-0000:3b:00.0-nvme-1', mounted: true,
    });
  });

  it('takes the last by-id link as device_id and lists partitions with their filesystem UUIDs', async () => {
    const { byId } = await disks();
    const nvme = byId('nvme0n1');
    expect(nvme.device_id).toBe('nvme-eui.0025385b91b0a3f1');
    expect(nvme.partitions).toEqual([
      { id: 'nvme0n1p1', device: '259:1', read_only: false, size: 512 * 1024 ** 2, partition: 1, mounted: true, device_fs_uuid: '4A1B-2C3D' },
      { id: 'nvme0n1p2', device: '259:2', read_only: false, size: 999 * GiB, partition: 2, mounted: true, device_fs_uuid: 'e78a3110-f610-476c-8753-198890df3a98' },
    ]);
  });

  it('gives the SATA disk its full udev model, sata type, revision and SSD rotation rate', async () => {
    const { byId } = await disks();
    expect(byId('sda')).toMatchObject({ model: 'Samsung SSD 860 EVO 500GB', type: 'sata', firmware_version: 'RVT04B6Q', rpm: 0, serial: 'S3Z1NB0K000001' });
    // Two by-path links lead to it; the last one in name order is kept, as LXD does.
    expect(byId('sda').device_path).toBe('pci-0000:00:17.0-ata-1.0');
  });

  it('reads a SAS disk’s serial from VPD page 0x80 and marks it rotational', async () => {
    const { byId } = await disks();
    expect(byId('sdc')).toMatchObject({ serial: 'Z1Z2Z3Z4', wwn: 'naa.5000c500a1b2c3d4', rpm: 1, model: 'ST4000NM0023', device_id: 'wwn-0x5000c500a1b2c3d4' });
  });

  it('marks the USB stick removable, of type usb, with its USB and PCI addresses', async () => {
    const { byId } = await disks();
    expect(byId('sdb')).toMatchObject({ removable: true, type: 'usb', usb_address: '1:3', pci_address: '0000:00:14.0', mounted: false });
  });

  it('reads the virtio disk’s serial from sysfs when udev has no record', async () => {
    const { byId } = await disks();
    expect(byId('vda')).toMatchObject({ type: 'virtio', serial: 'VDA-SERIAL-1', rpm: 1, device_id: 'virtio-VDA-SERIAL-1' });
  });

  it('still finds serials without a udev database, and says the data is partial', async () => {
    const { byId, warnings } = await disks({ noUdev: true });
    expect(byId('nvme0n1').serial).toBe('S4EWNX0R123456');
    expect(byId('nvme0n1').model).toBe('Samsung SSD 970 EVO Plus 1TB');
    expect(byId('nvme0n1').partitions?.[1]?.device_fs_uuid).toBe('');
    expect(warnings.join('\n')).toMatch(/no udev database/);
  });
});
