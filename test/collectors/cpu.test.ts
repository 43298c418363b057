import { describe, expect, it } from 'vitest';
import { parseCacheSize, parseCpuinfo, placeOfflineCpus, readCpu } from '../../collectors/cpu.js';
import { createHost } from '../../src/host/host.js';
import type { CpuSocket } from '../../src/resources/types.js';
import { link, makeRoot, noCommands, type Tree } from '../helpers/make-root.js';
import { edgeMachine } from './edge-machine.js';

describe('parseCpuinfo', () => {
  it('keeps the vendor and model name of each processor block', () => {
    const info = parseCpuinfo('processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7302\n\nprocessor\t: 1\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7302\n');
    expect(info.get(1)).toEqual({ vendor: 'AuthenticAMD', name: 'AMD EPYC 7302' });
  });

  it('uses the "cpu" line where powerpc puts the model', () => {
    expect(parseCpuinfo('processor\t: 0\ncpu\t\t: POWER9 (raw), altivec supported\n').get(0)?.name).toBe('POWER9 (raw), altivec supported');
  });
});

describe('parseCacheSize', () => {
  it('reads kernel cache sizes with their K and M suffixes as bytes', () => {
    expect(parseCacheSize('48K')).toBe(48 * 1024);
    expect(parseCacheSize('2M')).toBe(2 * 1024 * 1024);
    expect(parseCacheSize('1024')).toBe(1024);
    expect(parseCacheSize('big')).toBeUndefined();
  });
});

describe('placeOfflineCpus', () => {
  const known = (id: number, socket: number, core: number, numaNode: number) => ({ id, socket, core, die: 0, online: true, numaNode, curFreq: 0, minFreq: 0, maxFreq: 0, cache: undefined });
  // Two sockets of two SMT cores, one NUMA node each; cpu6, the sibling of cpu2, went offline.
  const online = [known(0, 0, 0, 0), known(1, 0, 1, 0), known(2, 1, 0, 1), known(3, 1, 1, 1), known(4, 0, 0, 0), known(5, 0, 1, 0), known(7, 1, 1, 1)];

  it('puts an offline CPU in the socket of its NUMA node, in the core missing a thread, then in a core of its own', () => {
    const placed = placeOfflineCpus(online, [{ id: 6, numaNode: 1 }, { id: 8, numaNode: 1 }]);
    expect(placed.map(({ id, socket, core, online }) => ({ id, socket, core, online }))).toEqual([
      { id: 6, socket: 1, core: 0, online: false },
      { id: 8, socket: 1, core: 2, online: false },
    ]);
  });

  it('gives an offline CPU a core of its own when every core of its socket is full', () => {
    const [placed] = placeOfflineCpus(online, [{ id: 8, numaNode: 0 }]);
    expect(placed).toMatchObject({ id: 8, socket: 0, core: 2, die: 0, online: false, numaNode: 0 });
  });

  it('numbers a socket after the known ones for a node where no CPU has a topology', () => {
    const placed = placeOfflineCpus(online, [{ id: 9, numaNode: 2 }, { id: 10, numaNode: 2 }, { id: 11, numaNode: 3 }]);
    expect(placed.map(({ id, socket, core }) => [id, socket, core])).toEqual([[9, 2, 0], [10, 2, 1], [11, 3, 0]]);
  });

  it('places nothing on a machine without offline CPUs', () => {
    expect(placeOfflineCpus(online, [])).toEqual([]);
  });
});

describe('readCpu on a two-socket SMT machine with NUMA', () => {
  it('groups threads into sockets and cores, with their NUMA node', async () => {
    const host = createHost({ root: await makeRoot(edgeMachine()), run: noCommands, isRoot: true });
    const { value: cpu } = await readCpu(host);
    expect(cpu.sockets?.map((s) => s.socket)).toEqual([0, 1]);
    for (const socket of cpu.sockets!) {
      expect(socket.cores.map((c) => c.core)).toEqual([0, 1, 2]);
      for (const t of socket.cores.flatMap((c) => c.threads)) expect(t.numa_node).toBe(socket.socket);
    }
    const core0 = cpu.sockets![0]!.cores[0]!;
    expect(core0.threads.map((t) => t.id).sort()).toEqual([0, 6]);
    expect(core0.threads.map((t) => t.thread)).toEqual([0, 1]);
  });

  it('names each socket from /proc/cpuinfo and keeps the first CPU’s caches', async () => {
    const { value: cpu } = await readCpu(createHost({ root: await makeRoot(edgeMachine()), run: noCommands }));
    expect(cpu.sockets![1]).toMatchObject({ name: 'Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz', vendor: 'GenuineIntel' });
    expect(cpu.sockets![0]!.cache).toEqual([
      { level: 1, type: 'Data', size: 48 * 1024 },
      { level: 3, type: 'Unified', size: 30720 * 1024 },
    ]);
  });

  it('marks isolated CPUs and places the offline one whose topology the kernel hides beside its online sibling', async () => {
    const { value: cpu, warnings } = await readCpu(createHost({ root: await makeRoot(edgeMachine()), run: noCommands }));
    const threads = cpu.sockets!.flatMap((s) => s.cores.flatMap((c) => c.threads));
    expect(threads.filter((t) => t.isolated).map((t) => t.id).sort((a, b) => a - b)).toEqual([4, 10]);
    // cpu11 is on node 1 (socket 1), and core 2 of socket 1 is the one left with a single thread (cpu5).
    expect(cpu.sockets![1]!.cores[2]!.threads).toEqual([
      { id: 5, numa_node: 1, thread: 0, online: true, isolated: false },
      { id: 11, numa_node: 1, thread: 1, online: false, isolated: false },
    ]);
    expect(threads).toHaveLength(12);
    expect(cpu.total).toBe(12);
    expect(warnings[0]).toMatch(/offline CPU\(s\) 11 .*inferred/);
  });

  it('leaves every frequency out when there is no cpufreq', async () => {
    const { value: cpu } = await readCpu(createHost({ root: await makeRoot(edgeMachine()), run: noCommands }));
    const socket = cpu.sockets![0]!;
    expect(Object.keys(socket)).toEqual(['name', 'vendor', 'socket', 'cache', 'cores']);
    expect(socket.cores.every((c) => !('frequency' in c))).toBe(true);
  });

  it('averages core frequencies per socket and reports the cpufreq limits in MHz', async () => {
    const { value: cpu } = await readCpu(createHost({ root: await makeRoot(edgeMachine({ cpufreq: true })), run: noCommands }));
    expect(cpu.sockets![0]).toMatchObject({ frequency: 2100, frequency_minimum: 800, frequency_turbo: 3900 });
    expect(cpu.sockets![0]!.cores.map((c) => c.frequency)).toEqual([2000, 2100, 2200]);
    expect(cpu.sockets![1]!.frequency).toBe(1500);
  });

  it('marks a CPU whose online file says 0 as offline while keeping its place', async () => {
    const tree = edgeMachine();
    tree['sys/devices/system/cpu/cpu9/online'] = '0\n';
    const { value: cpu } = await readCpu(createHost({ root: await makeRoot(tree), run: noCommands }));
    const t9 = cpu.sockets![1]!.cores[0]!.threads.find((t) => t.id === 9);
    expect(t9?.online).toBe(false);
  });
});

/**
 * A small sysfs/procfs tree of CPUs: each entry gives a CPU's socket, die and core (and, when
 * wanted, its NUMA node, caches and cpufreq), as the kernel lays them out.
 */
interface CpuSpec {
  socket: number;
  die?: number;
  core: number;
  node?: number;
  online?: '0' | '1';
  freq?: { cur?: number; min?: number; max?: number; scalingMin?: number; scalingMax?: number };
  caches?: Record<string, { level?: string; type?: string; size?: string }>;
}

function cpuTree(cpus: CpuSpec[], cpuinfo: string | null = ''): Tree {
  const tree: Tree = { 'proc/sys/kernel/arch': 'x86_64\n' };
  if (cpuinfo !== null) tree['proc/cpuinfo'] = cpuinfo;
  cpus.forEach((cpu, id) => {
    const dir = `sys/devices/system/cpu/cpu${id}`;
    tree[`${dir}/topology/physical_package_id`] = `${cpu.socket}\n`;
    tree[`${dir}/topology/core_id`] = `${cpu.core}\n`;
    if (cpu.die !== undefined) tree[`${dir}/topology/die_id`] = `${cpu.die}\n`;
    if (cpu.online) tree[`${dir}/online`] = `${cpu.online}\n`;
    if (cpu.node !== undefined) {
      tree[`${dir}/node${cpu.node}`] = link(`/sys/devices/system/node/node${cpu.node}`);
      tree[`sys/devices/system/node/node${cpu.node}/numastat`] = 'numa_hit 1\n';
    }
    const f = cpu.freq ?? {};
    if (f.cur !== undefined) tree[`${dir}/cpufreq/scaling_cur_freq`] = `${f.cur}\n`;
    if (f.min !== undefined) tree[`${dir}/cpufreq/cpuinfo_min_freq`] = `${f.min}\n`;
    if (f.max !== undefined) tree[`${dir}/cpufreq/cpuinfo_max_freq`] = `${f.max}\n`;
    if (f.scalingMin !== undefined) tree[`${dir}/cpufreq/scaling_min_freq`] = `${f.scalingMin}\n`;
    if (f.scalingMax !== undefined) tree[`${dir}/cpufreq/scaling_max_freq`] = `${f.scalingMax}\n`;
    for (const [index, cache] of Object.entries(cpu.caches ?? {})) {
      if (cache.level !== undefined) tree[`${dir}/cache/${index}/level`] = `${cache.level}\n`;
      if (cache.type !== undefined) tree[`${dir}/cache/${index}/type`] = `${cache.type}\n`;
      if (cache.size !== undefined) tree[`${dir}/cache/${index}/size`] = `${cache.size}\n`;
    }
  });
  return tree;
}

const readTree = async (tree: Tree) => readCpu(createHost({ root: await makeRoot(tree), run: noCommands }));
const coresOf = (socket: CpuSocket) => socket.cores.map((c) => ({ die: c.die, core: c.core, threads: c.threads.map((t) => t.id) }));

describe('readCpu on a multi-die EPYC-like socket', () => {
  it('keeps cores with the same core id on different dies apart', async () => {
    // One socket, two dies; each die numbers its cores from 0, and each core has two threads.
    const { value: cpu } = await readTree(
      cpuTree([
        { socket: 0, die: 0, core: 0 },
        { socket: 0, die: 0, core: 1 },
        { socket: 0, die: 1, core: 0 },
        { socket: 0, die: 1, core: 1 },
        { socket: 0, die: 0, core: 0 },
        { socket: 0, die: 0, core: 1 },
        { socket: 0, die: 1, core: 0 },
        { socket: 0, die: 1, core: 1 },
      ]),
    );
    expect(cpu.total).toBe(8);
    expect(cpu.sockets).toHaveLength(1);
    expect(coresOf(cpu.sockets![0]!).sort((a, b) => a.die - b.die || a.core - b.core)).toEqual([
      { die: 0, core: 0, threads: [0, 4] },
      { die: 0, core: 1, threads: [1, 5] },
      { die: 1, core: 0, threads: [2, 6] },
      { die: 1, core: 1, threads: [3, 7] },
    ]);
  });

  it('places an offline CPU on the die of the core that lost a thread', async () => {
    const tree = cpuTree([
      { socket: 0, die: 0, core: 0, node: 0 },
      { socket: 0, die: 1, core: 0, node: 0 },
      { socket: 0, die: 0, core: 0, node: 0 },
    ]);
    // cpu3, the sibling of cpu1 on die 1, is offline: the kernel hid its topology.
    tree['sys/devices/system/cpu/cpu3/online'] = '0\n';
    tree['sys/devices/system/cpu/cpu3/node0'] = link('/sys/devices/system/node/node0');
    const { value: cpu } = await readTree(tree);
    expect(coresOf(cpu.sockets![0]!).sort((a, b) => a.die - b.die)).toEqual([
      { die: 0, core: 0, threads: [0, 2] },
      { die: 1, core: 0, threads: [1, 3] },
    ]);
  });

  it('takes a kernel without die_id (before 5.2) as die 0', async () => {
    const { value: cpu } = await readTree(cpuTree([{ socket: 0, core: 0 }, { socket: 0, core: 0 }]));
    expect(coresOf(cpu.sockets![0]!)).toEqual([{ die: 0, core: 0, threads: [0, 1] }]);
  });
});

describe('readCpu: what each socket and core reports', () => {
  it('takes the socket name from the processor block numbered like the socket, as LXD does', async () => {
    const cpuinfo = 'processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7302\n\nprocessor\t: 1\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7302P\n\n';
    const { value: cpu } = await readTree(cpuTree([{ socket: 1, core: 0 }, { socket: 0, core: 0 }], cpuinfo));
    expect(cpu.sockets!.map((s) => [s.socket, s.name, s.vendor])).toEqual([
      [0, 'AMD EPYC 7302', 'AuthenticAMD'],
      [1, 'AMD EPYC 7302P', 'AuthenticAMD'],
    ]);
    expect(cpu.architecture).toBe('x86_64');
  });

  it('leaves out a name and vendor /proc/cpuinfo does not give', async () => {
    const { value: cpu } = await readTree(cpuTree([{ socket: 0, core: 0 }], 'processor\t: 0\nflags\t: fpu\n'));
    expect(Object.keys(cpu.sockets![0]!)).toEqual(['socket', 'cores']);
  });

  it('orders cores by core id and numbers threads within a core in CPU order', async () => {
    const { value: cpu } = await readTree(cpuTree([{ socket: 0, core: 5 }, { socket: 0, core: 2 }, { socket: 0, core: 5 }, { socket: 0, core: 2 }]));
    expect(cpu.sockets![0]!.cores.map((c) => [c.core, c.threads.map((t) => [t.id, t.thread])])).toEqual([
      [2, [[1, 0], [3, 1]]],
      [5, [[0, 0], [2, 1]]],
    ]);
  });

  it('reads cpufreq in kHz as MHz, falling back to the scaling limits, and averages only cores that report one', async () => {
    const { value: cpu } = await readTree(
      cpuTree([
        { socket: 0, core: 0, freq: { cur: 2_500_999, scalingMin: 1_200_000, scalingMax: 3_350_500 } },
        { socket: 0, core: 1, freq: { cur: 1_800_000 } },
        { socket: 0, core: 2 },
      ]),
    );
    const socket = cpu.sockets![0]!;
    expect(socket.cores.map((c) => c.frequency)).toEqual([2500, 1800, undefined]);
    expect(socket).toMatchObject({ frequency: 2150, frequency_minimum: 1200, frequency_turbo: 3350 });
  });

  it('prefers the hardware limits to the scaling ones', async () => {
    const { value: cpu } = await readTree(cpuTree([{ socket: 0, core: 0, freq: { min: 400_000, max: 4_000_000, scalingMin: 1_200_000, scalingMax: 3_000_000 } }]));
    expect(cpu.sockets![0]).toMatchObject({ frequency_minimum: 400, frequency_turbo: 4000 });
  });

  it('reads each cache level, type and size, skipping an entry without a level, and leaves out a CPU without caches', async () => {
    const { value: cpu } = await readTree(
      cpuTree([
        {
          socket: 0,
          core: 0,
          caches: { index0: { level: '1', type: 'Instruction', size: '32K' }, index1: { level: '2', size: '1M' }, index2: { type: 'Data', size: '8K' }, index3: { level: '3', type: 'Unified', size: 'odd' }, index10: { level: '4', type: 'Unified', size: '2M' } },
        },
        { socket: 1, core: 0 },
      ]),
    );
    expect(cpu.sockets![0]!.cache).toEqual([
      { level: 1, type: 'Instruction', size: 32 * 1024 },
      { level: 2, type: 'Unknown', size: 1024 * 1024 },
      // In directory-name order, as sysfs lists them: index10 before index2.
      { level: 4, type: 'Unified', size: 2 * 1024 * 1024 },
      { level: 3, type: 'Unified', size: 0 },
    ]);
    expect(cpu.sockets![1]).not.toHaveProperty('cache');
  });

  it('ignores entries of the cpu directory that are not CPUs, and a CPU directory without topology that is not offline', async () => {
    const tree = cpuTree([{ socket: 0, core: 0 }]);
    tree['sys/devices/system/cpu/cpufreq/policy0/scaling_cur_freq'] = '1\n';
    tree['sys/devices/system/cpu/cpuidle/current_driver'] = 'intel_idle\n';
    tree['sys/devices/system/cpu/cpu7/online'] = '1\n';
    const { value: cpu, warnings } = await readTree(tree);
    expect(cpu.total).toBe(1);
    expect(warnings).toEqual([]);
  });

  it('takes a negative topology id (a kernel that does not know it) as 0', async () => {
    const { value: cpu } = await readTree(cpuTree([{ socket: -1, die: -1, core: -1 }]));
    expect(coresOf(cpu.sockets![0]!)).toEqual([{ die: 0, core: 0, threads: [0] }]);
    expect(cpu.sockets![0]!.socket).toBe(0);
  });

  it('reads the NUMA node from the node link that has numastat, else 0', async () => {
    const tree = cpuTree([{ socket: 0, core: 0, node: 12 }, { socket: 0, core: 1 }]);
    // A nodeN entry without numastat behind it is not a node link.
    tree['sys/devices/system/cpu/cpu1/node5/other'] = '';
    const { value: cpu } = await readTree(tree);
    expect(cpu.sockets![0]!.cores.map((c) => c.threads[0]!.numa_node)).toEqual([12, 0]);
  });

  it('marks no CPU isolated when the isolated list is unreadable', async () => {
    const tree = cpuTree([{ socket: 0, core: 0 }]);
    tree['sys/devices/system/cpu/isolated'] = 'not a cpu list\n';
    const { value: cpu } = await readTree(tree);
    expect(cpu.sockets![0]!.cores[0]!.threads[0]!.isolated).toBe(false);
  });
});

describe('readCpu: more edge cases', () => {
  it('reads a machine without /proc/cpuinfo, leaving sockets unnamed', async () => {
    const { value: cpu } = await readTree(cpuTree([{ socket: 0, core: 0 }], null));
    expect(Object.keys(cpu.sockets![0]!)).toEqual(['socket', 'cores']);
  });

  it('counts a cache entry without a size as 0 bytes, and leaves out caches none of which has a level', async () => {
    const { value: cpu } = await readTree(
      cpuTree([
        { socket: 0, core: 0, caches: { index0: { level: '1', type: 'Data' } } },
        { socket: 1, core: 0, caches: { index0: { type: 'Data', size: '32K' } } },
      ]),
    );
    expect(cpu.sockets![0]!.cache).toEqual([{ level: 1, type: 'Data', size: 0 }]);
    expect(cpu.sockets![1]).not.toHaveProperty('cache');
  });

  it('lists every offline CPU without topology in its warning', async () => {
    const tree = cpuTree([{ socket: 0, core: 0, node: 0 }]);
    for (const id of [1, 2]) {
      tree[`sys/devices/system/cpu/cpu${id}/online`] = '0\n';
      tree[`sys/devices/system/cpu/cpu${id}/node0`] = link('/sys/devices/system/node/node0');
    }
    const { value: cpu, warnings } = await readTree(tree);
    expect(cpu.total).toBe(3);
    expect(warnings).toEqual(['cpu: offline CPU(s) 1,2 have no topology: placed by their NUMA node, socket and core inferred (partial data)']);
  });
});

describe('placeOfflineCpus: where an offline CPU goes', () => {
  const known = (id: number, socket: number, die: number, core: number, numaNode: number) => ({ id, socket, core, die, online: true, numaNode, curFreq: 0, minFreq: 0, maxFreq: 0, cache: undefined });

  it('takes the socket and die of the lowest-numbered CPU of its node, whatever order they were read in', () => {
    const [placed] = placeOfflineCpus([known(9, 1, 1, 0, 0), known(3, 0, 0, 0, 0)], [{ id: 12, numaNode: 0 }]);
    expect(placed).toMatchObject({ socket: 0, die: 0 });
  });

  it('fills the lowest core missing a thread, and among cores with that id the lowest die', () => {
    // Socket 0: core 2 of die 0 has two threads; core 0 of die 1, core 1 of die 0 and core 0 of die 0 one each.
    const threads = [known(0, 0, 1, 0, 0), known(1, 0, 0, 1, 0), known(2, 0, 0, 0, 0), known(3, 0, 0, 2, 0), known(4, 0, 0, 2, 0)];
    const [placed] = placeOfflineCpus(threads, [{ id: 5, numaNode: 0 }]);
    expect(placed).toMatchObject({ socket: 0, die: 0, core: 0 });
  });
});

describe('parseCpuinfo and parseCacheSize, edge cases', () => {
  it('reads multi-digit processor numbers and ignores a processor line that is not a plain number', () => {
    const info = parseCpuinfo('processor\t: 12\nmodel name\t: Twelve\n\nprocessor\t: x1\nmodel name\t: Bad\n\nprocessor\t: 1x\nmodel name\t: Bad\n');
    expect([...info.entries()]).toEqual([[12, { vendor: '', name: 'Twelve' }]]);
  });

  it('ends a block at a line of only spaces, but not at a line without a colon', () => {
    const info = parseCpuinfo('processor\t: 0\nstray words\nmodel name\t: Kept\n  \t\nvendor_id\t: Orphan\n');
    expect(info.get(0)).toEqual({ vendor: '', name: 'Kept' });
  });

  it('keeps the first vendor and name line of a block and ignores lines outside any block', () => {
    const info = parseCpuinfo('vendor_id\t: Stray\nprocessor\t: 3\nvendor_id\t: First\nmodel name\t: One\nmodel name\t: Two\ncpu\t: Three\nvendor_id\t: Second\n');
    expect([...info.entries()]).toEqual([[3, { vendor: 'First', name: 'One' }]]);
  });

  it('ends a block at a blank line, so later lines do not overwrite it', () => {
    const info = parseCpuinfo('processor\t: 0\n\nmodel name\t: Orphan\nprocessor : x\nvendor_id : Y\n');
    expect(info.get(0)).toEqual({ vendor: '', name: '' });
  });

  it('reads a G suffix and surrounding spaces, and refuses a fraction or a unit it does not know', () => {
    expect(parseCacheSize(' 1G\n')).toBe(1024 ** 3);
    expect(parseCacheSize('1.5M')).toBeUndefined();
    expect(parseCacheSize('32KB')).toBeUndefined();
    expect(parseCacheSize('K')).toBeUndefined();
  });
});
