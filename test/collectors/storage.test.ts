import { describe, expect, it } from 'vitest';
import { diskType, mountedDevices, parseVpdPage80, readStorage, udevSerial } from '../../collectors/storage.js';
import { parseUdevData } from '../../collectors/lib/udev.js';
import { createHost } from '../../src/host/host.js';
import type { Disk } from '../../src/resources/types.js';
import { link, makeRoot, noCommands, type Tree } from '../helpers/make-root.js';
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

/** One block device of a small tree: what sysfs (and udev) say about it. */
interface DiskSpec {
  name: string;
  dev?: string;
  sectors?: number;
  files?: Record<string, string>;
  /** The subsystem the device/ link leads to; without it the disk has no device/. */
  subsystem?: string;
  deviceFiles?: Record<string, string | Buffer>;
  udev?: Record<string, string>;
  partitions?: { name: string; number?: number; dev?: string; sectors?: number; ro?: string; udev?: Record<string, string> }[];
}

function storageTree(disks: DiskSpec[], extra: Tree = {}): Tree {
  const tree: Tree = { 'run/udev/data/.keep': '', ...extra };
  for (const d of disks) {
    const dir = `sys/devices/platform/host0/block/${d.name}`;
    tree[`sys/class/block/${d.name}`] = link(`/${dir}`);
    if (d.dev !== undefined) tree[`${dir}/dev`] = `${d.dev}\n`;
    tree[`${dir}/size`] = `${d.sectors ?? 8}\n`;
    for (const [file, content] of Object.entries(d.files ?? {})) tree[`${dir}/${file}`] = content;
    if (d.subsystem !== undefined) {
      const device = `sys/devices/platform/host0/target-${d.name}`;
      tree[`${dir}/device`] = link(`/${device}`);
      tree[`${device}/subsystem`] = link(`/sys/bus/${d.subsystem}`);
      for (const [file, content] of Object.entries(d.deviceFiles ?? {})) tree[`${device}/${file}`] = content;
    }
    const udev = (props: Record<string, string>) => Object.entries(props).map(([k, v]) => `E:${k}=${v}\n`).join('');
    if (d.udev && d.dev) tree[`run/udev/data/b${d.dev}`] = udev(d.udev);
    for (const p of d.partitions ?? []) {
      const pdir = `${dir}/${p.name}`;
      tree[`sys/class/block/${p.name}`] = link(`/${pdir}`);
      if (p.number !== undefined) tree[`${pdir}/partition`] = `${p.number}\n`;
      if (p.dev !== undefined) tree[`${pdir}/dev`] = `${p.dev}\n`;
      tree[`${pdir}/size`] = `${p.sectors ?? 2}\n`;
      if (p.ro !== undefined) tree[`${pdir}/ro`] = `${p.ro}\n`;
      if (p.udev && p.dev) tree[`run/udev/data/b${p.dev}`] = udev(p.udev);
    }
  }
  return tree;
}

const readTree = async (tree: Tree) => readStorage(createHost({ root: await makeRoot(tree), run: noCommands }));

describe('readStorage on small trees', () => {
  it('describes a disk sysfs says little about with only the fields it knows, nothing undefined', async () => {
    const { value, warnings } = await readTree(storageTree([{ name: 'sdx', dev: '8:0', sectors: 100, subsystem: 'scsi' }]));
    expect(warnings).toEqual([]);
    expect(value).toStrictEqual({
      disks: [
        { id: 'sdx', device: '8:0', type: 'scsi', read_only: false, mounted: false, size: 51200, removable: false, numa_node: 0, block_size: 0, rpm: 0, device_id: '', partitions: [], device_fs_uuid: '' },
      ],
      total: 1,
    });
  });

  it('reads what sysfs and udev say: read-only, removable, rotation rate, model and firmware trimmed, WWN, serial, filesystem UUID', async () => {
    const { value } = await readTree(
      storageTree([
        {
          name: 'sdx',
          dev: '8:0',
          subsystem: 'scsi',
          files: { ro: '1\n', removable: '1\n', 'queue/physical_block_size': '4096\n', 'queue/rotational': '1\n' },
          deviceFiles: { model: 'Big Disk  \n', firmware_rev: ' FW1 \n', wwid: 'naa.5000\n' },
          udev: { ID_ATA_ROTATION_RATE_RPM: '7200', ID_SCSI_SERIAL: 'SER1', ID_SERIAL: 'LONG_SER1', ID_FS_UUID: 'abcd-1234' },
        },
      ]),
    );
    expect(value.disks![0]).toMatchObject({
      read_only: true, removable: true, block_size: 4096, rpm: 7200, model: 'Big Disk', firmware_version: 'FW1', wwn: 'naa.5000', serial: 'SER1', device_fs_uuid: 'abcd-1234',
    });
  });

  it('takes a rotation rate that is not a number as unknown, falling back to the rotational flag', async () => {
    const disk = (rpm: string, rotational: string) => ({ name: 'sdx', dev: '8:0', subsystem: 'scsi', files: { 'queue/rotational': rotational }, udev: { ID_ATA_ROTATION_RATE_RPM: rpm } });
    expect((await readTree(storageTree([disk('unknown', '1\n')]))).value.disks![0]!.rpm).toBe(1);
    expect((await readTree(storageTree([disk('5400rpm', '0\n')]))).value.disks![0]!.rpm).toBe(0);
    expect((await readTree(storageTree([disk('15000', '1\n')]))).value.disks![0]!.rpm).toBe(15000);
  });

  it('lists partitions by number, with read-only and mount state, skipping entries the kernel has not finished describing', async () => {
    const { value } = await readTree(
      storageTree(
        [
          {
            name: 'sdx',
            dev: '8:0',
            subsystem: 'scsi',
            partitions: [
              { name: 'sdx10', number: 10, dev: '8:10' },
              { name: 'sdx2', number: 2, dev: '8:2', ro: '1', udev: { ID_FS_UUID: 'u2' } },
              { name: 'sdx1', number: 1, dev: '8:1' },
              { name: 'sdx3', number: 3 },
              { name: 'sdx4', dev: '8:4' },
            ],
          },
        ],
        { 'proc/self/mountinfo': '22 1 8:10 / / rw - ext4 /dev/sdx10 rw\nshort line\n30 22 8:2x / /x rw - ext4 /dev/sdx2 rw\n' },
      ),
    );
    const disk = value.disks![0]!;
    expect(disk.partitions!.map((p) => [p.id, p.partition, p.read_only, p.mounted, p.device_fs_uuid])).toEqual([
      ['sdx1', 1, false, false, ''],
      ['sdx2', 2, true, false, 'u2'],
      ['sdx10', 10, false, true, ''],
    ]);
    expect(disk.mounted).toBe(true);
    expect(value.total).toBe(4);
  });

  it('keeps only whole disks: no partition, no multipath member without a dev file, no Ceph RBD device', async () => {
    const { value } = await readTree(
      storageTree([
        { name: 'sdx', dev: '8:0', subsystem: 'scsi' },
        { name: 'sdy', subsystem: 'scsi' },
        { name: 'rbd0', dev: '251:0', subsystem: 'rbd' },
        { name: 'sdz', dev: '8:32', subsystem: 'scsi', files: { partition: '1\n' } },
      ]),
    );
    expect(value.disks!.map((d) => d.id)).toEqual(['sdx']);
  });

  it('describes an optical drive without a disc as size 0, with a disc by its size, and a fixed sr device as SCSI', async () => {
    const { value } = await readTree(
      storageTree([
        { name: 'sr0', dev: '11:0', sectors: 100, subsystem: 'scsi', files: { removable: '1\n' }, udev: { ID_CDROM: '1' } },
        { name: 'sr1', dev: '11:1', sectors: 100, subsystem: 'scsi', files: { removable: '1\n' }, udev: { ID_CDROM: '1', ID_CDROM_MEDIA: '1' } },
        { name: 'sr2', dev: '11:2', sectors: 100, subsystem: 'scsi', files: { removable: '0\n' } },
        { name: 'sr3', dev: '11:3', sectors: 100, subsystem: 'scsi', files: { removable: '1\n' } },
      ]),
    );
    expect(value.disks!.map((d) => [d.id, d.type, d.size])).toEqual([
      ['sr0', 'cdrom', 0],
      ['sr1', 'cdrom', 51200],
      ['sr2', 'scsi', 51200],
      ['sr3', 'cdrom', 0],
    ]);
  });

  it('keeps a bcache device, which has no device/, as used by bcache and of no type', async () => {
    const tree = storageTree([{ name: 'bcache0', dev: '250:0' }]);
    tree['sys/devices/platform/host0/block/bcache0/bcache/cache_mode'] = 'writeback\n';
    const { value } = await readTree(tree);
    expect(value.disks).toHaveLength(1);
    expect(value.disks![0]).toMatchObject({ id: 'bcache0', used_by: 'bcache' });
    expect(value.disks![0]).not.toHaveProperty('type');
  });

  it('does not mark a disk with a device/ used by bcache', async () => {
    const tree = storageTree([{ name: 'sdx', dev: '8:0', subsystem: 'scsi' }]);
    tree['sys/devices/platform/host0/block/sdx/bcache/state'] = 'clean\n';
    const { value } = await readTree(tree);
    expect(value.disks![0]).not.toHaveProperty('used_by');
  });

  it('passes over a by-id entry that is not a link', async () => {
    const tree = storageTree([{ name: 'sdx', dev: '8:0', subsystem: 'scsi' }]);
    tree['dev/disk/by-id/wwn-0x1'] = link('../../sdx');
    tree['dev/disk/by-id/zz-not-a-link'] = 'file\n';
    const { value } = await readTree(tree);
    expect(value.disks![0]!.device_id).toBe('wwn-0x1');
  });
});

describe('storage parsers, edge cases', () => {
  it('ignores mountinfo lines too short or without a MAJ:MIN third field', () => {
    expect([...mountedDevices('1 2\n1 2 abc / /\n1 2 8:1x / /\n1 2 x8:1 / /\n1 2 8:1 / /\n')]).toEqual(['8:1']);
  });

  it('reads nothing from a VPD page too short to hold a header, and drops NUL padding from a serial', () => {
    expect(parseVpdPage80(Buffer.from([0, 0x80, 0]))).toBe('');
    expect(parseVpdPage80(Buffer.from([0, 0x80, 0, 0]))).toBe('');
    expect(parseVpdPage80(Buffer.concat([Buffer.from([0, 0x80, 0, 6]), Buffer.from('Z1\0\0\0\0')]))).toBe('Z1');
  });

  it('reads no serial out of another VPD page, even one with content', () => {
    expect(parseVpdPage80(Buffer.concat([Buffer.from([0, 0x83, 0, 8]), Buffer.from('NOTSERIA')]))).toBe('');
  });

  it('calls any drive udev marks as a CD-ROM an optical drive, whatever its name', () => {
    expect(diskType('scsi', parseUdevData('E:ID_CDROM=1\n'), 'sdx', false)).toBe('cdrom');
    expect(diskType('scsi', parseUdevData('E:ID_CDROM=0\n'), 'sdx', false)).toBe('scsi');
  });

  it('takes the serial from each udev key in turn', () => {
    expect(udevSerial(parseUdevData('E:ID_SCSI_SERIAL=S1\nE:ID_SERIAL=long\n'))).toBe('S1');
    expect(udevSerial(parseUdevData('E:ID_SERIAL=long\n'))).toBe('long');
    expect(udevSerial(undefined)).toBe('');
  });
});
