import { describe, expect, it } from 'vitest';
import { parseMeminfo, readMemory } from '../../collectors/memory.js';
import { createHost } from '../../src/host/host.js';
import { makeRoot, noCommands } from '../helpers/make-root.js';
import { edgeMachine } from './edge-machine.js';

const MiB = 1024 * 1024;

describe('parseMeminfo', () => {
  it('turns kB values into bytes and keeps page counts as counts', () => {
    const m = parseMeminfo('MemTotal:        2000 kB\nHugePages_Total:      16\nHugepagesize:       2048 kB\n');
    expect(m.get('MemTotal')).toBe(2000 * 1024);
    expect(m.get('HugePages_Total')).toBe(16);
    expect(m.get('Hugepagesize')).toBe(2 * MiB);
  });

  it('reads per-node files, whose lines start with "Node N"', () => {
    expect(parseMeminfo('Node 1 MemUsed:   400 kB\n').get('MemUsed')).toBe(400 * 1024);
  });
});

describe('readMemory', () => {
  it('counts online memory blocks for the total and for each node', async () => {
    const { value: memory } = await readMemory(createHost({ root: await makeRoot(edgeMachine()), run: noCommands }));
    // 15 of 16 blocks of 128 MiB are online; node 1 holds the offline one.
    expect(memory.total).toBe(15 * 128 * MiB);
    expect(memory.nodes?.map((n) => [n.numa_node, n.total])).toEqual([
      [0, 8 * 128 * MiB],
      [1, 7 * 128 * MiB],
    ]);
  });

  it('reports hugepages in bytes, globally and per node', async () => {
    const { value: memory } = await readMemory(createHost({ root: await makeRoot(edgeMachine()), run: noCommands }));
    expect(memory).toMatchObject({ hugepages_size: 2 * MiB, hugepages_total: 16 * MiB, hugepages_used: 6 * MiB });
    expect(memory.nodes?.[0]).toMatchObject({ hugepages_total: 8 * MiB, hugepages_used: 6 * MiB });
  });

  it('computes used memory as total minus free, cache and buffers', async () => {
    const { value: memory } = await readMemory(createHost({ root: await makeRoot(edgeMachine()), run: noCommands }));
    expect(memory.used).toBe((1900 - 1000 - 250 - 50) * MiB);
  });

  it('falls back to MemTotal and omits nodes when there are no memory blocks or NUMA nodes', async () => {
    const root = await makeRoot({ 'proc/meminfo': 'MemTotal:     1048576 kB\nMemFree:      524288 kB\n' });
    const { value: memory } = await readMemory(createHost({ root, run: noCommands }));
    expect(memory.total).toBe(1024 * MiB);
    expect('nodes' in memory).toBe(false);
    expect(memory.hugepages_size).toBe(0);
  });
});
