import { describe, expect, it } from 'vitest';
import { findEntries } from '../../collectors/sysfs-walk.js';
import { createHost } from '../../src/host/host.js';
import { makeRoot, type TreeEntry } from '../helpers/make-root.js';

describe('findEntries', () => {
  it("skips a device's power attributes only when asked, and only below a device", async () => {
    const root = await makeRoot({
      'sys/devices/pci0000:00/0000:00:01.0/uevent': 'PCI_ID=8086:1237\n',
      'sys/devices/pci0000:00/0000:00:01.0/modalias': 'pci:v00008086d00001237\n',
      'sys/devices/pci0000:00/0000:00:01.0/power/control': 'auto\n',
      // A network interface may be called "power": its parent is no device, so it is walked.
      'sys/devices/virtual/net/power/uevent': 'INTERFACE=power\n',
      'sys/devices/virtual/net/power/address': '02:00:00:00:00:01\n',
    });
    const host = createHost({ root });
    const pruned = await findEntries(host, '/sys/devices', { skipDevicePower: true });
    expect(pruned.sort()).toEqual([
      '/sys/devices/pci0000:00/0000:00:01.0/modalias',
      '/sys/devices/pci0000:00/0000:00:01.0/uevent',
      '/sys/devices/virtual/net/power/address',
      '/sys/devices/virtual/net/power/uevent',
    ]);
    const all = await findEntries(host, '/sys/devices');
    expect(all).toContain('/sys/devices/pci0000:00/0000:00:01.0/power/control');
    expect(await findEntries(host, '/sys/devices', { accept: (name) => name === 'modalias', skipDevicePower: true })).toEqual([
      '/sys/devices/pci0000:00/0000:00:01.0/modalias',
    ]);
  });

  it('skips the memory block devices only when asked, and only the memoryN directories of /sys/devices/system/memory', async () => {
    const root = await makeRoot({
      // The kernel gives a memory block no modalias: one planted here shows whether the block was read.
      'sys/devices/system/memory/memory0/modalias': 'planted\n',
      'sys/devices/system/memory/memory0/online': '1\n',
      'sys/devices/system/memory/memory12/modalias': 'planted\n',
      'sys/devices/system/memory/block_size_bytes': '8000000\n',
      'sys/devices/system/memory/other/modalias': 'memory:other\n',
      'sys/devices/system/memory/memoryx/modalias': 'memory:memoryx\n',
      // A directory of that name elsewhere is walked.
      'sys/devices/virtual/misc/memory5/modalias': 'misc:memory5\n',
    });
    const host = createHost({ root });
    const modaliases = { accept: (name: string) => name === 'modalias' };
    expect((await findEntries(host, '/sys/devices', { ...modaliases, skipMemoryBlocks: true })).sort()).toEqual([
      '/sys/devices/system/memory/memoryx/modalias',
      '/sys/devices/system/memory/other/modalias',
      '/sys/devices/virtual/misc/memory5/modalias',
    ]);
    expect((await findEntries(host, '/sys/devices', modaliases)).sort()).toEqual([
      '/sys/devices/system/memory/memory0/modalias',
      '/sys/devices/system/memory/memory12/modalias',
      '/sys/devices/system/memory/memoryx/modalias',
      '/sys/devices/system/memory/other/modalias',
      '/sys/devices/virtual/misc/memory5/modalias',
    ]);
  });

  it('lets other work run while it walks a large tree', async () => {
    const entries: Record<string, TreeEntry> = {};
    for (let i = 0; i < 300; i += 1) entries[`sys/devices/d${i}/uevent`] = '';
    const host = createHost({ root: await makeRoot(entries) });
    const order: string[] = [];
    setImmediate(() => order.push('other work'));
    const found = await findEntries(host, '/sys/devices').then((paths) => {
      order.push('walk done');
      return paths;
    });
    expect(found).toHaveLength(300);
    // Walked in one go, the walk would end before anything queued behind it could run.
    expect(order).toEqual(['other work', 'walk done']);
  });
});
