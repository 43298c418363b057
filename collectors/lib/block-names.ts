// The kernel names `lsblk -n --exclude <majors> --output KNAME` prints, read from sysfs instead of
// starting lsblk. What lsblk does for that command line (read in util-linux's source and
// checked against lsblk 2.38 with --sysroot), and so what this does:
// - top-level devices are the entries of /sys/block whose major is not excluded and that sit on
//   no other device (an empty `slaves` directory);
// - below each one come its partitions (entries of its sysfs directory named after it plus a
//   digit, or "p" and a digit), then the devices in `holders` (dm, md, bcache...), recursively;
//   a holder that has several parents (an md array over two disks) is printed once per parent;
// - the tree is never drawn: the default tree column is NAME, absent from this output, so every
//   line is flat and the whole list is sorted by device number, children included (an md array
//   comes after every sd disk, not below its members);
// - that sort compares glibc's packed dev_t (makedev), not (major, minor): a minor of 256 or more
//   sorts after devices of higher majors whose minors are below 256;
// - a device is left out when /sys/block/<name>/hidden holds a non-zero number (an NVMe path behind a multipath
//   head), when its `dev` file (or else `device/dev`) gives no number, and, for a dm device, when
//   it has no dm/name or, on the running machine (not under --sysroot), no /dev/mapper/<name>;
// - the exclusion by major applies to top-level devices only, as in lsblk.
// Zero-size devices stay, except empty loop devices, which lsblk drops; loop devices (major 7) are
// always excluded here, so that rule is not repeated. pktcdvd pairs (a kernel driver removed in
// Linux 6.5) are not linked.
import { posix } from 'node:path';
import type { Host } from '../../src/host/host.js';

interface BlockDevice {
  name: string;
  major: number;
  /** lsblk's sort key: the dev_t glibc's makedev() packs. */
  devno: bigint;
  /** The device's sysfs directory, /sys/dev/block/MAJ:MIN. */
  dir: string;
  /** Set for a partition: the whole disk it belongs to. */
  disk?: BlockDevice;
  partitions: number;
  holders: number;
  slaves: number;
  children: BlockDevice[];
}

/** glibc's makedev(): the packed device number lsblk sorts its MAJ:MIN column by. */
export function packedDevno(major: number, minor: number): bigint {
  const maj = BigInt(major);
  const min = BigInt(minor);
  return ((maj & 0xfffff000n) << 32n) | ((maj & 0xfffn) << 8n) | ((min & 0xffffff00n) << 12n) | (min & 0xffn);
}

/** Whether sysfs entry `entry` is named like a partition of `disk`: "sda1", "nvme0n1p2". */
export function isPartitionName(disk: string, entry: string): boolean {
  if (entry.length <= disk.length || !entry.startsWith(disk)) return false;
  const rest = entry.slice(disk.length);
  return /^(\d|p\d)/.test(rest);
}

/** The kernel names lsblk would print, one per line, for `lsblk -n --exclude <excluded> --output KNAME`. */
export async function lsblkKernelNames(host: Host, excluded: readonly number[]): Promise<string[]> {
  const known = new Map<string, BlockDevice>();

  // lsblk's initialize_device(): undefined when lsblk would skip the device.
  const initialize = async (name: string, disk?: BlockDevice): Promise<BlockDevice | undefined> => {
    const hidden = await host.readOptional(`/sys/block/${name}/hidden`);
    const flag = Number.parseInt(hidden ?? '', 10);
    if (Number.isInteger(flag) && flag !== 0) return undefined;
    if (name.startsWith('dm-')) {
      const dmName = await host.readOptional(`/sys/block/${name}/dm/name`);
      // lsblk looks for the node on the running machine only, not under --sysroot.
      if (!dmName || (host.root === '/' && !(await host.exists(`/dev/mapper/${dmName}`)))) return undefined;
    }
    const match =
      disk && !name.startsWith('dm-')
        ? await deviceNumbers(host, `/sys/block/${disk.name}/${name}/dev`)
        : ((await deviceNumbers(host, `/sys/block/${name}/dev`)) ?? (await deviceNumbers(host, `/sys/block/${name}/device/dev`)));
    if (!match) return undefined;
    const [major, minor] = match;
    const dir = `/sys/dev/block/${major}:${minor}`;
    const entries = await host.list(dir);
    let partitions = 0;
    for (const entry of entries) if (isPartitionName(name, entry) && (await isDirOrLink(host, `${dir}/${entry}`))) partitions++;
    const [holders, slaves] = await Promise.all([host.list(`${dir}/holders`), host.list(`${dir}/slaves`)]);
    return { name, major, devno: packedDevno(major, minor), dir, disk, partitions, holders: holders.length, slaves: slaves.length, children: [] };
  };

  // lsblk's devtree_get_device_or_new(): one record per name, whoever asks first.
  const device = async (name: string, disk?: BlockDevice): Promise<BlockDevice | undefined> => {
    const seen = known.get(name);
    if (seen) return seen;
    const made = await initialize(name, disk);
    if (made) known.set(name, made);
    return made;
  };

  // A parent-child link; false when it was already there, so a walk never repeats itself.
  const link = (parent: BlockDevice, child: BlockDevice): boolean => {
    if (parent.children.includes(child)) return false;
    parent.children.push(child);
    return true;
  };

  const addDependencies = async (dev: BlockDevice, withPartitions: boolean): Promise<void> => {
    if (withPartitions && dev.partitions > 0 && !dev.disk) {
      for (const entry of await host.list(dev.dir)) {
        if (!isPartitionName(dev.name, entry) || !(await isDirOrLink(host, `${dev.dir}/${entry}`))) continue;
        const part = await device(entry, dev);
        if (part && link(dev, part)) await addDependencies(part, false);
      }
    }
    if (dev.holders === 0) return;
    for (const holder of await host.list(`${dev.dir}/holders`)) {
      const path = `${dev.dir}/holders/${holder}`;
      let dep: BlockDevice | undefined;
      // A holder with a `start` file is a partition; its disk is the directory above it.
      if (await host.exists(`${path}/start`)) {
        const target = await host.readLink(path);
        const diskName = target === undefined ? undefined : posix.basename(posix.dirname(target));
        const disk = diskName ? await device(diskName) : undefined;
        dep = disk ? await device(holder, disk) : undefined;
      } else {
        dep = await device(holder);
      }
      if (dep && link(dev, dep)) await addDependencies(dep, true);
    }
  };

  const roots: BlockDevice[] = [];
  for (const name of await host.list('/sys/block')) {
    const dev = await device(name);
    if (!dev) continue;
    if (excluded.includes(dev.major)) {
      known.delete(name);
      continue;
    }
    if (dev.slaves > 0) continue; // shown below the devices it is built on
    roots.push(dev);
    await addDependencies(dev, true);
  }

  // Every line lsblk makes: a device once for each path from a top-level device down to it.
  const lines: BlockDevice[] = [];
  const walk = (dev: BlockDevice, path: readonly BlockDevice[]) => {
    lines.push(dev);
    // A cycle of holders cannot happen in a kernel's sysfs; a broken tree must not hang us.
    for (const child of dev.children) if (!path.includes(child)) walk(child, [...path, child]);
  };
  for (const root of roots) walk(root, [root]);
  // Array.prototype.sort is stable, like lsblk's list sort: equal numbers are the same device.
  lines.sort((a, b) => (a.devno < b.devno ? -1 : a.devno > b.devno ? 1 : 0));
  return lines.map((dev) => dev.name);
}

/** MAJ:MIN from a `dev` file; undefined when absent, unreadable or 0:0 (lsblk's "no number"). */
async function deviceNumbers(host: Host, path: string): Promise<[number, number] | undefined> {
  const match = /^(\d+):(\d+)/.exec((await host.readOptional(path)) ?? '');
  if (!match) return undefined;
  const numbers: [number, number] = [Number(match[1]), Number(match[2])];
  return numbers[0] === 0 && numbers[1] === 0 ? undefined : numbers;
}

/** lsblk accepts a partition entry whose directory type is a directory or a symlink. */
async function isDirOrLink(host: Host, path: string): Promise<boolean> {
  return (await host.isDirectory(path)) || (await host.readLink(path)) !== undefined;
}
