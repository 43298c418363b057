import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPhysicalPort, readSerialPorts, serialPortsCollector } from '../../collectors/serial-ports.js';
import { createHost } from '../../src/host/host.js';
import { removeTree, unpackZoo, ZOO_SUBSETS } from '../helpers/trees.js';
import { makeRoot } from '../helpers/make-root.js';

let m1: string;
beforeAll(async () => {
  m1 = await unpackZoo('m1', [...ZOO_SUBSETS.tty]);
});
afterAll(() => removeTree(m1));

/** Upstream's pipeline on a tree, with the tree's prefix taken off each resolved path. */
async function upstream(root: string): Promise<string> {
  const { stdout } = await execa('sh', ['-c', 'find "$1/sys/class/tty/" ! -type d -print0 | xargs -0 readlink -f | sed "s|^$1||" | sort -u', 'sh', root], {
    env: { LC_ALL: 'C' },
    stripFinalNewline: false,
  });
  return stdout;
}

describe('maas-serial-ports', () => {
  it('prints exactly what the upstream script prints on a real machine tree', async () => {
    const output = await serialPortsCollector.produce(createHost({ root: m1 }));
    expect(output.exitCode).toBe(0);
    expect(output.stdout).toBe(await upstream(m1));
    expect(output.stdout).toContain('/tty/ttyS0\n');
  });

  it('prints exactly what the upstream script prints on this machine', async () => {
    const output = await serialPortsCollector.produce(createHost());
    expect(output.stdout).toBe(await upstream(''));
  });

  it('resolves absolute and relative links, and lists plain files as themselves', async () => {
    const root = await makeRoot({
      'sys/devices/pnp0/00:01/tty/ttyS0/dev': '4:64\n',
      'sys/devices/virtual/tty/tty0/dev': '4:0\n',
      'sys/class/tty/ttyS0': { link: '../../devices/pnp0/00:01/tty/ttyS0' },
      'sys/class/tty/tty0': { link: '/sys/devices/virtual/tty/tty0', verbatim: true },
      'sys/class/tty/stray': 'not a link\n',
    });
    expect(await readSerialPorts(createHost({ root }))).toEqual(['/sys/class/tty/stray', '/sys/devices/pnp0/00:01/tty/ttyS0', '/sys/devices/virtual/tty/tty0']);
  });

  it('succeeds with empty output when the machine has no tty class', async () => {
    const root = await makeRoot({ 'proc/cmdline': '\n' });
    expect(await serialPortsCollector.produce(createHost({ root }))).toEqual({ stdout: '', stderr: '', exitCode: 0 });
  });
});

describe('isPhysicalPort', () => {
  it('leaves out virtual terminals and platform ports, as the support report does', () => {
    expect(isPhysicalPort('/sys/devices/virtual/tty/tty0')).toBe(false);
    expect(isPhysicalPort('/sys/devices/platform/serial8250/tty/ttyS1')).toBe(false);
    expect(isPhysicalPort('/sys/devices/pnp0/00:01/tty/ttyS0')).toBe(true);
  });
});
