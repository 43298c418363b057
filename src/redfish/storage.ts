// resources.storage from a BMC (docs/protocol.md §6.6): its Drives, else the devices of older BMCs'
// SimpleStorage, named after their Redfish paths; no partitions, and the physical drives rather
// than the volumes an OS sees behind a RAID controller. Pure.
import type { AreaReading, Disk, StorageResources } from '../resources/types.js';
import { count, list, object, pathOf, present, text, uniqueNames, type Resource } from './fields.js';
import { lastSegment, type RedfishInventory } from './inventory.js';

function diskType(protocol: string | undefined): string {
  if (protocol === 'NVMe') return 'nvme';
  if (protocol === 'USB') return 'usb';
  // As the Linux collector does: a SATA disk is "sata" (MAAS tags it so); SAS disks and FC/iSCSI
  // LUNs are SCSI disks.
  if (protocol === 'SATA') return 'sata';
  if (protocol && ['SAS', 'SCSI', 'FC', 'FCoE', 'iSCSI'].includes(protocol)) return 'scsi';
  return '';
}

function diskRpm(drive: Resource, what: string, warnings: string[]): number {
  const rpm = count(drive.RotationSpeedRPM);
  if (rpm !== undefined && rpm > 0) return Math.round(rpm);
  const media = text(drive.MediaType);
  if (media === undefined) warnings.push(`storage: ${what} gives no media type: reported as not rotating (MAAS tags it ssd)`);
  // Like the kernel's queue/rotational: 1 means "spins, speed unknown" (MAAS tags it 1rpm).
  return media === 'HDD' ? 1 : 0;
}

/** Capacity in bytes as a JSON number; warns when the double cannot print the exact value. */
function capacity(value: unknown, what: string, warnings: string[]): number {
  if (typeof value === 'bigint') {
    const rounded = Number(value);
    if (BigInt(String(rounded)) !== value) warnings.push(`storage: ${what}: ${value} bytes is reported as ${rounded} (beyond exact JSON numbers)`);
    return rounded;
  }
  const size = count(value);
  if (size === undefined) {
    warnings.push(`storage: ${what} gives no CapacityBytes: reported as 0 bytes, which MAAS skips`);
    return 0;
  }
  return size;
}

function blankDisk(id: string): Disk {
  // `type` is always written, even empty: MAAS reads it without a default.
  return { id, device: '', type: '', read_only: false, mounted: false, size: 0, removable: false, numa_node: 0, block_size: 0, rpm: 0, device_id: '', partitions: [], device_fs_uuid: '' };
}

function disks(inventory: RedfishInventory, warnings: string[]): Disk[] {
  const drives = inventory.drives.filter(present);
  if (drives.length > 0) {
    const names = uniqueNames(drives.map((d) => ({ path: pathOf(d), label: lastSegment(pathOf(d)) })));
    return drives.map((drive, i) => {
      const disk = blankDisk(names[i]!);
      const model = text(drive.Model);
      if (model) disk.model = model;
      disk.type = diskType(text(drive.Protocol));
      disk.size = capacity(drive.CapacityBytes, pathOf(drive), warnings);
      disk.block_size = count(drive.BlockSizeBytes) ?? 0;
      const firmware = text(drive.Revision) ?? text(drive.FirmwareVersion);
      if (firmware) disk.firmware_version = firmware;
      disk.rpm = diskRpm(drive, pathOf(drive), warnings);
      const serial = text(drive.SerialNumber);
      if (serial) disk.serial = serial;
      return orderDisk(disk);
    });
  }
  // Older BMCs: SimpleStorage devices are inline, so their key is storage path + index.
  const devices = inventory.simpleStorage.flatMap((storage) =>
    list(storage.Devices)
      .map((d, index) => ({ device: object(d), index, storage }))
      .filter((e): e is { device: Resource; index: number; storage: Resource } => e.device !== undefined && present(e.device)),
  );
  const names = uniqueNames(
    devices.map(({ device, index, storage }) => ({ path: `${pathOf(storage)}/Devices/${index}`, label: text(device.Name) ?? `${lastSegment(pathOf(storage))}-${index}` })),
  );
  return devices.map(({ device, index, storage }, i) => {
    const disk = blankDisk(names[i]!);
    const model = text(device.Model);
    if (model) disk.model = model;
    disk.size = capacity(device.CapacityBytes, `${pathOf(storage)} device ${index}`, warnings);
    disk.rpm = diskRpm(device, `${pathOf(storage)} device ${index}`, warnings);
    return orderDisk(disk);
  });
}

/** The disk's keys in Go's declaration order, so the document prints like machine-resources'. */
function orderDisk(d: Disk): Disk {
  const keys: (keyof Disk)[] = ['id', 'device', 'model', 'type', 'read_only', 'mounted', 'size', 'removable', 'wwn', 'numa_node', 'device_path', 'block_size', 'firmware_version', 'rpm', 'serial', 'device_id', 'partitions', 'pci_address', 'usb_address', 'device_fs_uuid', 'used_by'];
  return Object.fromEntries(keys.filter((k) => d[k] !== undefined).map((k) => [k, d[k]])) as unknown as Disk;
}

/** resources.storage: one disk per present drive; warnings say what the mapping had to guess. */
export function storageFromRedfish(inventory: RedfishInventory): AreaReading<StorageResources> {
  const warnings: string[] = [];
  const diskList = disks(inventory, warnings);
  return { value: { disks: diskList, total: diskList.length }, warnings };
}
