// resources.storage: whole disks from /sys/class/block, enriched from the udev database and the
// /dev/disk/by-id and by-path links. No device is opened: the physical block size comes from
// queue/physical_block_size and filesystem UUIDs from udev (ID_FS_UUID) instead of blkid.
import { posix } from 'node:path';
import type { Host } from '../src/host/host.js';
import type { AreaReading, Disk, DiskPartition, StorageResources } from '../src/resources/types.js';
import { decodeUdevString, readBlockUdev, type UdevRecord } from './lib/udev.js';
import { linkName, numaNodeOf, pciAddressOf, readNumber, usbAddressOf } from './lib/sysfs.js';

const BLOCK = '/sys/class/block';

/** MAJ:MIN of every mounted device, from /proc/self/mountinfo (third field). Pure. */
export function mountedDevices(mountinfo: string): Set<string> {
  const devices = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    if (f.length > 2 && /^\d+:\d+$/.test(f[2]!)) devices.add(f[2]!);
  }
  return devices;
}

/** The serial as an SCSI/ATA Unit Serial Number VPD page (0x80) holds it. Pure. */
export function parseVpdPage80(bytes: Uint8Array): string {
  if (bytes.length < 4 || bytes[1] !== 0x80) return '';
  const length = (bytes[2]! << 8) | bytes[3]!;
  return Buffer.from(bytes.subarray(4, 4 + length)).toString('latin1').replace(/\0/g, '').trim();
}

/** LXD's disk serial from udev properties (first non-empty of its four keys). Pure. */
export function udevSerial(udev: UdevRecord | undefined): string {
  for (const key of ['SCSI_IDENT_SERIAL', 'ID_SCSI_SERIAL', 'ID_SERIAL_SHORT', 'ID_SERIAL']) {
    const value = udev?.properties.get(key);
    if (value) return value;
  }
  return '';
}

/** Disk type: the device's subsystem, refined by udev as LXD does. Pure. */
export function diskType(subsystem: string, udev: UdevRecord | undefined, name: string, removable: boolean): string {
  const p = udev?.properties;
  if (p?.get('ID_CDROM') === '1') return 'cdrom';
  if (p?.get('ID_USB_DRIVER') === 'usb-storage') return 'usb';
  if (p?.get('ID_ATA_SATA') === '1') return 'sata';
  if (name.startsWith('sr') && removable) return 'cdrom';
  return subsystem;
}

/** Link name → the block device it points at, for one /dev/disk/by-* directory. */
async function diskLinks(host: Host, dir: string): Promise<[string, string][]> {
  const names = await host.list(dir);
  const targets = await Promise.all(names.map((n) => host.readLink(`${dir}/${n}`)));
  return names.flatMap((n, i) => (targets[i] === undefined ? [] : [[n, posix.basename(targets[i]!)] as [string, string]]));
}

/** Serial from sysfs, by transport, for hosts without a udev database. */
async function sysfsSerial(host: Host, entry: string): Promise<string> {
  const virtio = await host.readOptional(`${BLOCK}/${entry}/serial`);
  if (virtio) return virtio;
  const nvme = await host.readOptional(`${BLOCK}/${entry}/device/serial`);
  if (nvme) return nvme;
  const page = await host.readBytes(`${BLOCK}/${entry}/device/vpd_pg80`);
  return page ? parseVpdPage80(page) : '';
}

interface Context {
  mounted: Set<string>;
  byId: [string, string][];
  byPath: [string, string][];
  warnings: Set<string>;
}

async function readPartition(host: Host, disk: string, name: string, ctx: Context): Promise<DiskPartition | undefined> {
  const dir = `${BLOCK}/${disk}/${name}`;
  const [number, dev, ro, size] = await Promise.all([
    readNumber(host, `${dir}/partition`),
    host.readOptional(`${dir}/dev`),
    host.readOptional(`${dir}/ro`),
    readNumber(host, `${dir}/size`),
  ]);
  if (number === undefined || dev === undefined) return undefined;
  const udev = await readBlockUdev(host, dev);
  return {
    id: name,
    device: dev,
    read_only: ro === '1',
    size: (size ?? 0) * 512,
    partition: number,
    mounted: ctx.mounted.has(dev),
    device_fs_uuid: udev?.properties.get('ID_FS_UUID') ?? '',
  };
}

async function readDisk(host: Host, name: string, ctx: Context): Promise<Disk | undefined> {
  const dir = `${BLOCK}/${name}`;
  const [dev, hasDevice, hasBcache, isPartition] = await Promise.all([
    host.readOptional(`${dir}/dev`),
    host.exists(`${dir}/device`),
    host.exists(`${dir}/bcache`),
    host.exists(`${dir}/partition`),
  ]);
  // Whole disks have device/; bcache devices are kept too. Multipath members have no dev file.
  if (dev === undefined || isPartition || (!hasDevice && !hasBcache)) return undefined;
  const deviceDir = hasDevice ? `${dir}/device` : dir;
  const [subsystemName, resolved, udev, model, ro, size, removable, wwid, devWwid, numa, pbs, rotational, fwRev, entries] = await Promise.all([
    linkName(host, `${deviceDir}/subsystem`),
    host.resolve(deviceDir),
    readBlockUdev(host, dev),
    host.readOptional(`${deviceDir}/model`),
    host.readOptional(`${dir}/ro`),
    readNumber(host, `${dir}/size`),
    host.readOptional(`${dir}/removable`),
    host.readOptional(`${dir}/wwid`),
    host.readOptional(`${deviceDir}/wwid`),
    numaNodeOf(host, deviceDir),
    readNumber(host, `${dir}/queue/physical_block_size`),
    host.readOptional(`${dir}/queue/rotational`),
    host.readOptional(`${deviceDir}/firmware_rev`),
    host.list(dir),
  ]);
  const subsystem = subsystemName ?? '';
  if (subsystem === 'rbd') return undefined;
  const p = udev?.properties;
  const isRemovable = removable === '1';
  const fullModel = p?.get('ID_MODEL_ENC') ? decodeUdevString(p.get('ID_MODEL_ENC')!).trim() : p?.get('ID_MODEL');
  const serial = udevSerial(udev) || (await sysfsSerial(host, name));
  const rpmText = p?.get('ID_ATA_ROTATION_RATE_RPM');
  const rpm = rpmText !== undefined && /^\d+$/.test(rpmText) ? Number(rpmText) : rotational === '1' ? 1 : 0;
  const partitions = (await Promise.all(entries.filter((e) => e.startsWith(name)).map((e) => readPartition(host, name, e, ctx)))).filter(
    (x): x is DiskPartition => x !== undefined,
  );
  partitions.sort((a, b) => a.partition - b.partition);
  // Like LXD, the last matching link (in name order) of each directory wins.
  const deviceId = ctx.byId.filter(([, t]) => t === name).pop()?.[0] ?? '';
  const devicePath = ctx.byPath.filter(([, t]) => t === name).pop()?.[0];
  const pci = resolved ? pciAddressOf(resolved) : undefined;
  const usb = resolved ? await usbAddressOf(host, resolved) : undefined;
  const type = diskType(subsystem, udev, name, isRemovable);
  const disk: Disk = { id: name, device: dev } as Disk;
  const modelText = fullModel || model?.trim();
  if (modelText) disk.model = modelText;
  if (type) disk.type = type;
  disk.read_only = ro === '1';
  disk.mounted = ctx.mounted.has(dev) || partitions.some((x) => x.mounted);
  // An optical drive without a disc reports a stale size: LXD says 0 (udev sets ID_CDROM_MEDIA with a disc).
  disk.size = type === 'cdrom' && p?.get('ID_CDROM_MEDIA') !== '1' ? 0 : (size ?? 0) * 512;
  disk.removable = isRemovable;
  const wwn = wwid || devWwid;
  if (wwn) disk.wwn = wwn;
  disk.numa_node = numa;
  if (devicePath) disk.device_path = devicePath;
  disk.block_size = pbs ?? 0;
  const firmware = fwRev?.trim() || p?.get('ID_REVISION');
  if (firmware) disk.firmware_version = firmware;
  disk.rpm = rpm;
  if (serial) disk.serial = serial;
  disk.device_id = deviceId;
  disk.partitions = partitions;
  if (pci) disk.pci_address = pci;
  if (usb) disk.usb_address = usb;
  disk.device_fs_uuid = p?.get('ID_FS_UUID') ?? '';
  if (!hasDevice && hasBcache && (await host.isDirectory(`${dir}/bcache`))) disk.used_by = 'bcache';
  return disk;
}

/** Reads resources.storage; `total` counts disks plus partitions, as LXD does. */
export async function readStorage(host: Host): Promise<AreaReading<StorageResources>> {
  const [names, mountinfo, byId, byPath, udevPresent] = await Promise.all([
    host.list(BLOCK),
    host.readText('/proc/self/mountinfo'),
    diskLinks(host, '/dev/disk/by-id'),
    diskLinks(host, '/dev/disk/by-path'),
    host.isDirectory('/run/udev/data'),
  ]);
  const ctx: Context = { mounted: mountedDevices(mountinfo ?? ''), byId, byPath, warnings: new Set() };
  if (!udevPresent) ctx.warnings.add('storage: no udev database (/run/udev/data): serials from sysfs, no filesystem UUIDs (partial data)');
  const disks = (await Promise.all(names.map((n) => readDisk(host, n, ctx)))).filter((d): d is Disk => d !== undefined);
  // Stryker disable next-line OptionalChaining: readDisk always sets partitions
  const total = disks.reduce((sum, d) => sum + 1 + (d.partitions?.length ?? 0), 0);
  return { value: { disks, total }, warnings: [...ctx.warnings] };
}
