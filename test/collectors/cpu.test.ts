import { describe, expect, it } from 'vitest';
import { parseCacheSize, parseCpuinfo, placeOfflineCpus, readCpu } from '../../collectors/cpu.js';
import { createHost } from '../../src/host/host.js';
import { makeRoot, noCommands } from '../helpers/make-root.js';
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
