// Physical block devices MAAS derives from `resources.storage.disks` (docs/protocol.md §7.6).
import type { HardwareDisk, IdAllocator } from './hardware.js';
import {
  HookError,
  optionalList,
  optionalNumber,
  optionalObject,
  optionalString,
  requireBoolean,
  requireCount,
  requireKnownNuma,
  requireObject,
  requireString,
  type JsonObject,
} from './validate.js';

/** MAAS refuses disks of 4 MiB or less. */
export const MIN_BLOCK_DEVICE_SIZE = 4 * 1024 * 1024;

/** One disk of the report, typed, after multipath folding. */
export interface ReportedDisk {
  id: string;
  type: string;
  readOnly: boolean;
  removable: boolean;
  rpm: number;
  size: number | undefined;
  blockSize: number | undefined;
  model: string | undefined;
  serial: string | undefined;
  deviceId: string | undefined;
  devicePath: string | undefined;
  firmwareVersion: string | undefined;
  numaNode: number | undefined;
  pciAddress: string | undefined;
  usbAddress: string | undefined;
  multipath: boolean;
}

/** Reads `resources.storage.disks` into typed records (the fields MAAS requires must be there). */
export function parseDisks(resources: JsonObject): ReportedDisk[] {
  const storage = optionalObject(resources.storage, 'resources.storage') ?? {};
  return optionalList(storage.disks, 'resources.storage.disks').map((value, i) => {
    const path = `resources.storage.disks[${i}]`;
    const disk = requireObject(value, path);
    return {
      id: requireString(disk.id, `${path}.id`),
      type: requireString(disk.type, `${path}.type`),
      readOnly: requireBoolean(disk.read_only, `${path}.read_only`),
      removable: requireBoolean(disk.removable, `${path}.removable`),
      rpm: requireCount(disk.rpm, `${path}.rpm`),
      size: optionalNumber(disk.size, `${path}.size`),
      blockSize: optionalNumber(disk.block_size, `${path}.block_size`),
      model: optionalString(disk.model, `${path}.model`),
      serial: optionalString(disk.serial, `${path}.serial`),
      deviceId: optionalString(disk.device_id, `${path}.device_id`),
      devicePath: optionalString(disk.device_path, `${path}.device_path`),
      firmwareVersion: optionalString(disk.firmware_version, `${path}.firmware_version`),
      numaNode: disk.numa_node === undefined || disk.numa_node === null ? undefined : requireCount(disk.numa_node, `${path}.numa_node`),
      pciAddress: optionalString(disk.pci_address, `${path}.pci_address`),
      usbAddress: optionalString(disk.usb_address, `${path}.usb_address`),
      multipath: false,
    };
  });
}

// by-path link names: "<bus>-<bus address>-<protocol>-<device>", e.g. "pci-0000:00:1f.2-ata-1".
const DEVICE_PATH = /^(\w+)-([\da-fA-F:.]+)-(\w+)-(.*)$/;
const LUN = 'lun-(?:0x)?[\\da-fA-F]+';
// Per protocol, how the device part names a LUN; disks sharing serial + LUN are paths to one disk.
const MULTIPATH_DEVICE: Record<string, RegExp[]> = {
  fc: [new RegExp(`^\\w+-(${LUN})$`)],
  vmbus: [new RegExp(`^\\w+-(${LUN})$`)],
  sas: [
    new RegExp(`^0x[\\da-fA-F]+-(${LUN})$`),
    new RegExp(`^exp0x[\\da-fA-F]+-phy(?:0x)?[\\da-fA-F]+-(${LUN})$`),
    new RegExp(`^phy(?:0x)?[\\da-fA-F]+-(${LUN})$`),
  ],
  ip: [new RegExp(`^[.\\-\\w:]+-iscsi-[.\\-\\w:]+-(${LUN})$`)],
};

const byId = (a: ReportedDisk, b: ReportedDisk): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Folds multipath paths (same serial and LUN) into the path with the lowest name, marked
 * multipath, borrowing a device_id from another path if it has none. Also fills pci_address from
 * a PCI by-path name. Returns the disks sorted by name.
 */
export function condenseLuns(disks: readonly ReportedDisk[]): ReportedDisk[] {
  const groups = new Map<string, ReportedDisk[]>();
  const kept: ReportedDisk[] = [];
  for (const original of disks) {
    const disk = { ...original };
    const match = DEVICE_PATH.exec(disk.devicePath ?? '');
    if (!match || match[3] === 'usb') {
      kept.push(disk);
      continue;
    }
    const [, bus, busAddress, protocol = '', device = ''] = match;
    if (bus === 'pci' && original.pciAddress === undefined) disk.pciAddress = busAddress;
    const patterns = Object.hasOwn(MULTIPATH_DEVICE, protocol) ? MULTIPATH_DEVICE[protocol] : undefined;
    const lun = disk.serial && patterns ? patterns.map((p) => p.exec(device)?.[1]).find((l) => l !== undefined) : undefined;
    if (lun === undefined || !disk.serial) {
      kept.push(disk);
      continue;
    }
    const key = JSON.stringify([disk.serial, lun]);
    groups.set(key, [...(groups.get(key) ?? []), disk]);
  }
  for (const paths of groups.values()) {
    const [first, ...others] = [...paths].sort(byId);
    if (!first) continue;
    if (others.length > 0) first.multipath = true;
    for (const other of others) if (!first.deviceId && other.deviceId) first.deviceId = other.deviceId;
    kept.push(first);
  }
  return kept.sort(byId);
}

/** The tags MAAS gives a disk: rotary + "<rpm>rpm" or ssd, multipath, removable, sata. */
export function diskTags(disk: ReportedDisk): string[] {
  const tags: string[] = [];
  // rpm 1 means "rotational, speed unknown", hence MAAS's "1rpm" tag.
  if (disk.rpm) tags.push('rotary', `${disk.rpm}rpm`);
  else if (!disk.multipath) tags.push('ssd');
  if (disk.multipath) tags.push('multipath');
  if (disk.removable) tags.push('removable');
  if (disk.type === 'sata') tags.push('sata');
  return tags;
}

/** The result of updating the block devices: the new list and bus address → disk id. */
export interface DiskUpdate {
  disks: HardwareDisk[];
  /** pci_address or usb_address → id of the disk there, for node devices. */
  byAddress: Map<string, number>;
}

/**
 * Updates the machine's disks from a report. A reported disk matches an existing one by serial
 * when it has one, else by id_path; matches keep their id (and NUMA node) and take the reported
 * name, model, serial, id_path, sizes, firmware and tags. New disks of 4 MiB or less or on
 * /dev/loop are skipped; existing disks no longer reported are dropped.
 */
export function updateDisks(previous: readonly HardwareDisk[], reported: readonly ReportedDisk[], knownNuma: ReadonlySet<number>, nextId: IdAllocator): DiskUpdate {
  const unmatched = previous.map((d) => ({ ...d, tags: [...d.tags] }));
  const result: HardwareDisk[] = [];
  const byAddress = new Map<string, number>();
  for (const info of condenseLuns(reported)) {
    if (info.readOnly || info.type === 'cdrom') continue;
    const serial = info.serial ?? '';
    let idPath = info.deviceId ? `/dev/disk/by-id/${info.deviceId}` : '';
    // Without a serial the disk is most likely virtual and its by-id name is not stable.
    if (!idPath || !serial) idPath = `/dev/${info.id}`;
    const fields = {
      name: info.id,
      model: info.model ?? '',
      serial,
      idPath,
      blockSize: info.blockSize || 512,
      firmwareVersion: info.firmwareVersion ?? null,
      tags: diskTags(info),
    };
    const index = unmatched.findIndex((d) => (serial ? d.serial === serial : d.idPath === idPath));
    let disk: HardwareDisk;
    if (index >= 0) {
      const [existing] = unmatched.splice(index, 1);
      if (!existing) continue;
      if (info.size === undefined) throw new HookError(`disk ${info.id} has no size`);
      disk = { ...existing, ...fields, size: info.size };
    } else {
      if (info.size === undefined) throw new HookError(`disk ${info.id} has no size`);
      if (info.size <= MIN_BLOCK_DEVICE_SIZE || idPath.startsWith('/dev/loop')) continue;
      if (info.numaNode === undefined) throw new HookError(`disk ${info.id} has no numa_node`);
      const numaNode = requireKnownNuma(knownNuma, info.numaNode, `disk ${info.id}`);
      disk = { id: nextId(), ...fields, size: info.size, numaNode };
    }
    result.push(disk);
    if (info.pciAddress) byAddress.set(info.pciAddress, disk.id);
    else if (info.usbAddress) byAddress.set(info.usbAddress, disk.id);
  }
  return { disks: result, byAddress };
}
