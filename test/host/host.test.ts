import { mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createHost, type Host } from '../../src/host/host.js';
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
