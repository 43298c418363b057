import { mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createHost, readsInline, type Host } from '../../src/host/host.js';
import { removeTree, tempDir } from '../helpers/trees.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(removeTree));
});

describe('Host.shared', () => {
  it('computes a value once per Host, also for copies with their own run (as the collector runner makes them)', async () => {
    const host = createHost();
    let computed = 0;
    const compute = async () => ++computed;
    const copy: Host = { ...host, run: host.run };
    expect(await Promise.all([host.shared('k', compute), copy.shared('k', compute), host.shared('k', compute)])).toEqual([1, 1, 1]);
    expect(computed).toBe(1);
    expect(await host.shared('other', compute)).toBe(2);
  });

  it('computes again for a new Host: nothing carries over from one run to the next', async () => {
    let computed = 0;
    const compute = async () => ++computed;
    await createHost().shared('k', compute);
    expect(await createHost().shared('k', compute)).toBe(2);
  });
});

describe('Host.resolve', () => {
  it('follows relative and absolute links at "/" as `readlink -f` does, and gives undefined for a dangling link', async () => {
    const dir = await realpath(await tempDir());
    dirs.push(dir);
    await mkdir(join(dir, 'devices/port0'), { recursive: true });
    await writeFile(join(dir, 'devices/port0/dev'), '4:64\n');
    await mkdir(join(dir, 'class'));
    await symlink('../devices/port0', join(dir, 'class/rel'));
    await symlink(join(dir, 'class/rel'), join(dir, 'class/abs'));
    await symlink('../devices/gone', join(dir, 'class/dangling'));
    const host = createHost();
    expect(await host.resolve(join(dir, 'class/rel'))).toBe(join(dir, 'devices/port0'));
    expect(await host.resolve(join(dir, 'class/abs/dev'))).toBe(join(dir, 'devices/port0/dev'));
    expect(await host.resolve(join(dir, 'class/dangling'))).toBeUndefined();
  });

  it('keeps absolute links of a tree inside the tree', async () => {
    const root = await tempDir();
    dirs.push(root);
    await mkdir(join(root, 'sys/devices/port0'), { recursive: true });
    await mkdir(join(root, 'sys/class'));
    await symlink('/sys/devices/port0', join(root, 'sys/class/abs'));
    expect(await createHost({ root }).resolve('/sys/class/abs')).toBe('/sys/devices/port0');
  });
});

describe('reading files', () => {
  it('reads kernel-made files inline, but network interface attributes and real files asynchronously', () => {
    expect(readsInline('/proc/meminfo')).toBe(true);
    expect(readsInline('/sys/devices/system/cpu/cpu0/topology/core_id')).toBe(true);
    expect(readsInline('/sys/bus/pci/devices/0000:00:03.0/vendor')).toBe(true);
    // A driver answers these holding the network configuration lock, which others may hold.
    expect(readsInline('/sys/class/net/eth0/speed')).toBe(false);
    expect(readsInline('/sys/devices/pci0000:00/0000:00:03.0/virtio0/net/eth0/duplex')).toBe(false);
    expect(readsInline('/etc/os-release')).toBe(false);
    expect(readsInline('/usr/share/misc/pci.ids')).toBe(false);
  });

  it('gives undefined for a missing or unreadable file either way, and text for a present one', async () => {
    const root = await tempDir();
    dirs.push(root);
    await mkdir(join(root, 'proc/sys'), { recursive: true });
    await mkdir(join(root, 'sys/class/net/eth0'), { recursive: true });
    await mkdir(join(root, 'etc'));
    await writeFile(join(root, 'proc/meminfo'), 'MemTotal: 1024 kB\n');
    await writeFile(join(root, 'sys/class/net/eth0/mtu'), '1500\n');
    await writeFile(join(root, 'etc/hostname'), 'node1\n');
    const host = createHost({ root });
    expect(await host.readText('/proc/meminfo')).toBe('MemTotal: 1024 kB\n');
    expect(await host.readOptional('/sys/class/net/eth0/mtu')).toBe('1500');
    expect(await host.readOptional('/etc/hostname')).toBe('node1');
    for (const path of ['/proc/missing', '/proc/sys', '/sys/class/net/eth0/missing', '/etc/missing']) expect(await host.readText(path)).toBeUndefined();
    await expect(host.readRequired('/proc/missing')).rejects.toThrow(/^cannot read \/proc\/missing: /);
  });

  it('fails a read, inline or not, for any other reason than the file not being there', async () => {
    const root = await tempDir();
    dirs.push(root);
    await mkdir(join(root, 'sys/class'), { recursive: true });
    await mkdir(join(root, 'etc'));
    // A link to itself: the kernel gives up following it (ELOOP), which is not "absent".
    await symlink('loop', join(root, 'sys/class/loop'));
    await symlink('loop', join(root, 'etc/loop'));
    const host = createHost({ root });
    for (const path of ['/sys/class/loop', '/etc/loop']) {
      await expect(host.readText(path), path).rejects.toMatchObject({ code: 'ELOOP' });
      await expect(host.readOptional(path), path).rejects.toMatchObject({ code: 'ELOOP' });
    }
  });
});
