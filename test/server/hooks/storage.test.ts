// Block devices: multipath folding, id_path rules, tags, filters and matching on re-reports.
import { describe, expect, it } from 'vitest';
import { condenseLuns, parseDisks, updateDisks, type ReportedDisk } from '../../../src/server/hooks/storage.js';
import { disk } from './compact-report.js';

const reported = (...disks: Record<string, unknown>[]): ReportedDisk[] => parseDisks({ storage: { disks } });
const numa0 = new Set([0]);
const ids = () => {
  let n = 1;
  return () => n++;
};

describe('condenseLuns', () => {
  it('folds paths to the same serial and LUN into the lowest-named one, tagged multipath', () => {
    const disks = condenseLuns(
      reported(
        disk('sdc', { serial: 'MP1', device_path: 'pci-0000:3b:00.0-fc-0x500a098188fd1c4c-lun-2' }),
        disk('sdb', { serial: 'MP1', device_path: 'pci-0000:3b:00.1-fc-0x500a098198fd1c4c-lun-2' }),
        disk('sdd', { serial: 'MP1', device_path: 'pci-0000:3b:00.1-fc-0x500a098198fd1c4c-lun-3', device_id: 'wwn-0x3' }),
        disk('sda', { serial: 'LOCAL', device_path: 'pci-0000:00:1f.2-ata-1' }),
      ),
    );
    expect(disks.map((d) => [d.id, d.multipath, d.pciAddress])).toEqual([
      ['sda', false, '0000:00:1f.2'],
      ['sdb', true, '0000:3b:00.1'],
      ['sdd', false, '0000:3b:00.1'],
    ]);
  });

  it('borrows a by-id name from another path when the kept path has none', () => {
    const [only] = condenseLuns(reported(disk('sda', { serial: 'S', device_path: 'pci-0000:01:00.0-sas-0x5000c500a1b2c3d4-lun-0' }), disk('sdb', { serial: 'S', device_path: 'pci-0000:01:00.0-sas-0x5000c500a1b2c3d5-lun-0', device_id: 'wwn-0xabc' })));
    expect([only?.id, only?.deviceId]).toEqual(['sda', 'wwn-0xabc']);
  });

  it('leaves USB paths and disks without a serial alone', () => {
    const disks = condenseLuns(reported(disk('sda', { serial: 'U', device_path: 'pci-0000:00:14.0-usb-0:1:1.0-scsi-0:0:0:0' }), disk('sdb', { device_path: 'pci-0000:3b:00.0-fc-0x1-lun-0' }), disk('sdc', { device_path: 'pci-0000:3b:00.1-fc-0x2-lun-0' })));
    expect(disks.map((d) => d.multipath)).toEqual([false, false, false]);
  });
});

describe('updateDisks', () => {
  it('uses /dev/disk/by-id only when the disk has both a by-id name and a serial', () => {
    const { disks } = updateDisks([], reported(disk('sda', { serial: 'S', device_id: 'wwn-0x1' }), disk('sdb', { device_id: 'wwn-0x2' }), disk('sdc', { serial: 'T' })), numa0, ids());
    expect(disks.map((d) => d.idPath)).toEqual(['/dev/disk/by-id/wwn-0x1', '/dev/sdb', '/dev/sdc']);
  });

  it('tags rotational disks without RPM data "1rpm", and removable and SATA disks', () => {
    const { disks } = updateDisks([], reported(disk('sda', { rpm: 1 }), disk('sdb', { rpm: 7200, removable: true, type: 'sata' }), disk('nvme0n1', { type: 'nvme' })), numa0, ids());
    // Disks come out in name order, as MAAS sorts them.
    expect(disks.map((d) => [d.name, d.tags])).toEqual([['nvme0n1', ['ssd']], ['sda', ['rotary', '1rpm']], ['sdb', ['rotary', '7200rpm', 'removable', 'sata']]]);
  });

  it('skips read-only disks, CD-ROMs, new disks of 4 MiB or less and loop devices', () => {
    const { disks } = updateDisks(
      [],
      reported(disk('sda', { read_only: true }), disk('sr0', { type: 'cdrom' }), disk('sdb', { size: 4 * 1024 * 1024 }), disk('loop0'), disk('sdc', { size: 4 * 1024 * 1024 + 512 })),
      numa0,
      ids(),
    );
    expect(disks.map((d) => d.name)).toEqual(['sdc']);
  });

  it('defaults a zero block size to 512 and missing model/serial to empty text', () => {
    const [d] = updateDisks([], reported(disk('mmcblk0', { block_size: 0 })), numa0, ids()).disks;
    expect(d).toMatchObject({ blockSize: 512, model: '', serial: '', firmwareVersion: null });
  });

  it('updates a known disk even when it shrank below the minimum, keeping its NUMA node', () => {
    const first = updateDisks([], reported(disk('sda', { serial: 'S', numa_node: 1 })), new Set([0, 1]), ids()).disks;
    const { disks } = updateDisks(first, reported(disk('sda', { serial: 'S', numa_node: 0, size: 1024 })), numa0, ids());
    expect(disks).toEqual([{ ...first[0], size: 1024 }]);
  });

  it('creates a second disk for a repeated serial rather than merging the two', () => {
    const { disks } = updateDisks([], reported(disk('sda', { serial: 'DUP' }), disk('sdb', { serial: 'DUP' })), numa0, ids());
    expect(disks.map((d) => [d.id, d.name])).toEqual([[1, 'sda'], [2, 'sdb']]);
  });

  it('maps bus addresses to disks for node devices', () => {
    const { byAddress } = updateDisks([], reported(disk('nvme0n1', { pci_address: '0000:02:00.0' }), disk('sda', { usb_address: '2:3' })), numa0, ids());
    expect([...byAddress]).toEqual([['0000:02:00.0', 1], ['2:3', 2]]);
  });
});
