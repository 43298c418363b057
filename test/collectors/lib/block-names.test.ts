// The device list of DETAILED BLOCK DEVICE INFO, read from sysfs, against what real lsblk prints
// for `lsblk -n --exclude 1,2,7 --output KNAME` on the same tree (`--sysroot`), and against the
// lists lsblk printed on the captured trees, pinned in test/fixtures/commands/lsblk-kname.
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPartitionName, lsblkKernelNames, packedDevno } from '../../../collectors/lib/block-names.js';
import { createHost } from '../../../src/host/host.js';
import { FIXTURES } from '../../helpers/fixtures.js';
import { link, makeRoot, type Tree } from '../../helpers/make-root.js';
import { installed, removeTree, tempDir, unpackZoo, zooMember } from '../../helpers/trees.js';

const EXCLUDED = [1, 2, 7];
const hasLsblk = await installed('lsblk');
/** A test name that says, when lsblk is missing, why the test is skipped. */
const withLsblk = (name: string) => (hasLsblk ? name : `${name} (skipped: lsblk from util-linux is not installed; the pinned lists are still checked)`);

/** What real lsblk prints for the tree at `root`, one trimmed name per line, as upstream reads it. */
async function realLsblk(root: string): Promise<string[]> {
  const { stdout } = await execa('lsblk', ['--sysroot', root, '-n', '--exclude', '1,2,7', '--output', 'KNAME'], { env: { LC_ALL: 'C' } });
  return stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}

async function pinned(machine: string): Promise<string[]> {
  const text = await readFile(join(FIXTURES, 'commands', 'lsblk-kname', `${machine}.txt`), 'utf8');
  return text.split('\n').map((l) => l.trim()).filter(Boolean);
}

const derived = (root: string) => lsblkKernelNames(createHost({ root }), EXCLUDED);

describe.each(['m1', 'm2', 'm3'] as const)('zoo machine %s', (machine) => {
  let root: string;
  beforeAll(async () => {
    root = await unpackZoo(machine, ['./sys']);
  });
  afterAll(() => removeTree(root));

  it('lists the names lsblk printed on this tree', async () => {
    expect(await derived(root)).toEqual(await pinned(machine));
  });

  it.skipIf(!hasLsblk)(withLsblk('lists exactly what lsblk --sysroot prints on it now'), async () => {
    expect(await derived(root)).toEqual(await realLsblk(root));
  }, 30_000);

  it('has the devices the machine itself listed (lsblk -J -b -O at capture time), top-level ones in its order', async () => {
    type Node = { kname: string; 'maj:min': string; children?: Node[] };
    const json = JSON.parse(await zooMember(machine, 'zoo/cmd/lsblk-J-b-O.out')) as { blockdevices: Node[] };
    const kept = json.blockdevices.filter((d) => !EXCLUDED.includes(Number(d['maj:min'].split(':')[0])));
    const all: string[] = [];
    const walk = (d: Node) => {
      all.push(d.kname);
      d.children?.forEach(walk);
    };
    kept.forEach(walk);
    const names = await derived(root);
    expect([...names].sort()).toEqual([...all].sort());
    expect(names.filter((n) => kept.some((d) => d.kname === n))).toEqual(kept.map((d) => d.kname));
  });
});

describe('the captured KVM guest tree, which has no /sys/block', () => {
  let root: string;
  beforeAll(async () => {
    root = await tempDir();
    await execa('tar', ['-xzf', join(FIXTURES, 'trees', 'kvm-2cpu.tar.gz'), '-C', root]);
  });
  afterAll(() => removeTree(root));

  it('lists nothing, as lsblk printed', async () => {
    expect(await pinned('kvm-2cpu')).toEqual([]);
    expect(await derived(root)).toEqual([]);
  });

  it.skipIf(!hasLsblk)(withLsblk('matches lsblk --sysroot on it now'), async () => {
    expect(await derived(root)).toEqual(await realLsblk(root));
  });
});

// A hand-built sysfs laid out as the kernel lays it out: each device's directory under
// /sys/devices holds `dev` and `size`, partitions sit inside their disk's directory with
// `partition` and `start`, /sys/block and /sys/dev/block link to the devices, and `holders` and
// `slaves` link stacked devices both ways.
const at = (path: string) => `sys/devices/${path}`;

function device(path: string, numbers: string, files: Tree = {}): Tree {
  const tree: Tree = { [`${at(path)}/dev`]: `${numbers}\n`, [`${at(path)}/size`]: '2048\n', [`sys/dev/block/${numbers}`]: link(`/${at(path)}`) };
  for (const [name, entry] of Object.entries(files)) tree[`${at(path)}/${name}`] = entry;
  return tree;
}

/** A device /sys/block lists. */
const whole = (path: string, numbers: string, files: Tree = {}): Tree => ({ ...device(path, numbers, files), [`sys/block/${posix.basename(path)}`]: link(`/${at(path)}`) });

const partition = (diskPath: string, name: string, numbers: string, number: number): Tree =>
  device(`${diskPath}/${name}`, numbers, { partition: `${number}\n`, start: `${number * 2048}\n` });

/** `upper` is built on `lower`: lower/holders/<upper> and upper/slaves/<lower>. */
const stacked = (lower: string, upper: string): Tree => ({
  [`${at(lower)}/holders/${posix.basename(upper)}`]: link(`/${at(upper)}`),
  [`${at(upper)}/slaves/${posix.basename(lower)}`]: link(`/${at(lower)}`),
});

const dm = (name: string, numbers: string, mapperName: string, withNode: boolean): Tree => ({
  ...whole(`virtual/block/${name}`, numbers, { 'dm/name': `${mapperName}\n` }),
  ...(withNode ? { [`dev/mapper/${mapperName}`]: '' } : {}),
});

const SDA = 'pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda';
const SDB = 'pci0000:00/0000:00:1f.2/ata2/host1/target1:0:0/1:0:0:0/block/sdb';
const SDC = 'pci0000:00/0000:00:1f.2/ata3/host2/target2:0:0/2:0:0:0/block/sdc';
const SDD = 'pci0000:00/0000:00:1f.2/ata4/host3/target3:0:0/3:0:0:0/block/sdd';
const NVME0 = 'pci0000:00/0000:00:02.0/nvme/nvme0/nvme0n1';
const NVME1 = 'pci0000:00/0000:00:03.0/nvme/nvme1/nvme1n1';
const VDB = 'pci0000:00/0000:00:04.0/virtio1/block/vdb';

/** Every rule at once: the test below removes nothing, each `it` after it checks one rule. */
const machine: Tree = {
  ...whole(SDA, '8:0', { sda3: 'not a partition: a plain file named like one\n' }),
  ...partition(SDA, 'sda1', '8:1', 1),
  ...partition(SDA, 'sda2', '8:2', 2),
  ...whole(SDB, '8:16'),
  ...partition(SDB, 'sdb1', '8:17', 1),
  // md0: RAID 1 over sda1 and sdb1, partitioned itself; dm-256 (a minor past 255) on top of it.
  ...whole('virtual/block/md0', '9:0'),
  ...partition('virtual/block/md0', 'md0p1', '259:3', 1),
  ...stacked(`${SDA}/sda1`, 'virtual/block/md0'),
  ...stacked(`${SDB}/sdb1`, 'virtual/block/md0'),
  ...dm('dm-256', '253:256', 'vg-b', true),
  ...stacked('virtual/block/md0', 'virtual/block/dm-256'),
  ...dm('dm-0', '253:0', 'vg-a', true),
  ...stacked(`${SDA}/sda2`, 'virtual/block/dm-0'),
  // dm-1 has no /dev/mapper node: lsblk leaves it out on a running machine, not under --sysroot.
  ...dm('dm-1', '253:1', 'gone', false),
  ...stacked(VDB, 'virtual/block/dm-1'),
  ...whole(VDB, '254:16'),
  // md1 over the whole disk sdc; sdd holds one of md1's partitions directly.
  ...whole(SDC, '8:32'),
  ...whole('virtual/block/md1', '9:1'),
  ...partition('virtual/block/md1', 'md1p1', '259:5', 1),
  ...stacked(SDC, 'virtual/block/md1'),
  ...stacked(SDD, 'virtual/block/md1/md1p1'),
  ...whole(SDD, '8:48'),
  ...whole(NVME0, '259:0'),
  ...partition(NVME0, 'nvme0n1p1', '259:2', 1),
  ...whole(NVME1, '259:1'),
  // A multipath controller path: the kernel hides it behind its nvme0n1 head.
  ...whole('pci0000:00/0000:00:02.0/nvme/nvme0/nvme0c0n1', '259:4', { hidden: '1\n' }),
  // Its number only under device/dev, where lsblk looks second.
  ...whole('platform/legacy/block/sde', '8:64', { dev: '', 'device/dev': '8:64\n' }),
  ...whole('virtual/block/zz0', '0:0'),
  ...whole('virtual/block/ram0', '1:0'),
  ...whole('platform/floppy.0/block/fd0', '2:0'),
  ...whole('virtual/block/loop0', '7:0', { 'loop/backing_file': '/var/lib/image\n' }),
};

// Written from the rules (see block-names.ts), and checked against lsblk itself below.
const EXPECTED = [
  'sda', 'sda1', 'sda2', 'sdb', 'sdb1', 'sdc', 'sdd', 'sde', // 8:*
  'md0', 'md0', 'md1', // 9:*, md0 once under each of its two members
  'dm-0', 'dm-1', // 253:0, 253:1
  'vdb', // 254:16
  'nvme0n1', 'nvme1n1', 'nvme0n1p1', 'md0p1', 'md0p1', 'md1p1', 'md1p1', // 259:*, in minor order whatever the disk
  'dm-256', 'dm-256', // 253:256 packs above every 259:n with n < 256
];

describe('a hand-built sysfs with partitions, md, dm and excluded devices', () => {
  it('lists the devices in lsblk order, children sorted in among the disks by device number', async () => {
    expect(await derived(await makeRoot(machine))).toEqual(EXPECTED);
  });

  it.skipIf(!hasLsblk)(withLsblk('lists exactly what lsblk --sysroot prints on it'), async () => {
    const root = await makeRoot(machine);
    expect(await realLsblk(root)).toEqual(EXPECTED);
    expect(await derived(root)).toEqual(await realLsblk(root));
  });

  it('leaves out RAM disks, floppies and loop devices (majors 1, 2, 7)', async () => {
    const names = await derived(await makeRoot(machine));
    for (const gone of ['ram0', 'fd0', 'loop0']) expect(names).not.toContain(gone);
    const all = await lsblkKernelNames(createHost({ root: await makeRoot(machine) }), []);
    expect(all).toEqual(expect.arrayContaining(['ram0', 'fd0', 'loop0']));
  });

  it('shows a stacked device only below what it is built on, once per parent', async () => {
    const names = await derived(await makeRoot(machine));
    expect(names.filter((n) => n === 'md0')).toHaveLength(2);
    expect(names.filter((n) => n === 'dm-0')).toHaveLength(1);
    expect(names.filter((n) => n === 'md1')).toHaveLength(1);
  });

  it('finds a partition held directly by another device through its disk', async () => {
    const names = await derived(await makeRoot(machine));
    expect(names.filter((n) => n === 'md1p1')).toHaveLength(2);
  });

  it('finds a held partition through its disk even before the disk has been walked', async () => {
    // sda (listed first) holds md1p1 directly; md1 itself is built on sdb, walked later.
    const root = await makeRoot({
      ...whole(SDA, '8:0'),
      ...whole(SDB, '8:16'),
      ...whole('virtual/block/md1', '9:1'),
      ...partition('virtual/block/md1', 'md1p1', '259:5', 1),
      ...stacked(SDB, 'virtual/block/md1'),
      ...stacked(SDA, 'virtual/block/md1/md1p1'),
    });
    const expected = ['sda', 'sdb', 'md1', 'md1p1', 'md1p1'];
    expect(await derived(root)).toEqual(expected);
    if (hasLsblk) expect(await realLsblk(root)).toEqual(expected);
  });

  it('leaves out hidden devices, devices numbered 0:0 and files named like partitions', async () => {
    const names = await derived(await makeRoot(machine));
    for (const gone of ['nvme0c0n1', 'zz0', 'sda3']) expect(names).not.toContain(gone);
  });

  it('on the running machine, leaves out a dm device whose /dev/mapper node is missing', async () => {
    // The running machine's own block devices cannot be arranged here: the tree stands in for
    // "/", through a Host that reads the tree but says its root is "/".
    const tree = createHost({ root: await makeRoot(machine) });
    const names = await lsblkKernelNames({ ...tree, root: '/' }, EXCLUDED);
    expect(names).not.toContain('dm-1');
    expect(names).toContain('dm-0');
  });

  it('reads the number from device/dev when a device has no dev file', async () => {
    expect(await derived(await makeRoot(machine))).toContain('sde');
  });

  it('partition order follows device numbers, not the disk a partition is on', async () => {
    const root = await makeRoot({ ...whole(NVME0, '259:0'), ...whole(NVME1, '259:1'), ...partition(NVME0, 'nvme0n1p1', '259:2', 1), ...partition(NVME1, 'nvme1n1p1', '259:3', 1), ...partition(NVME0, 'nvme0n1p2', '259:4', 2) });
    expect(await derived(root)).toEqual(['nvme0n1', 'nvme1n1', 'nvme0n1p1', 'nvme1n1p1', 'nvme0n1p2']);
  });

  it('stops on a loop of holders, which no kernel makes, instead of recursing forever', async () => {
    const root = await makeRoot({
      ...whole(SDA, '8:0'),
      ...whole('virtual/block/dm-0', '253:0', { 'dm/name': 'a\n' }),
      'dev/mapper/a': '',
      ...stacked(SDA, 'virtual/block/dm-0'),
      [`${at('virtual/block/dm-0')}/holders/sda`]: link(`/${at(SDA)}`),
    });
    expect(await derived(root)).toEqual(['sda', 'dm-0']);
  });
});

describe('pure helpers', () => {
  it('names partitions as the kernel does: disk name then a digit, or "p" and a digit', () => {
    expect(isPartitionName('sda', 'sda1')).toBe(true);
    expect(isPartitionName('nvme0n1', 'nvme0n1p12')).toBe(true);
    expect(isPartitionName('sda', 'sda')).toBe(false);
    expect(isPartitionName('sda', 'sdab')).toBe(false);
    expect(isPartitionName('nvme0n1', 'nvme0n1p')).toBe(false);
    expect(isPartitionName('sda', 'holders')).toBe(false);
  });

  it('packs device numbers as glibc makedev does', () => {
    expect(packedDevno(8, 1)).toBe(0x801n);
    expect(packedDevno(253, 256)).toBe(0x10fd00n);
    expect(packedDevno(253, 256) > packedDevno(259, 255)).toBe(true);
    expect(packedDevno(4096, 0)).toBe(1n << 44n);
  });
});
