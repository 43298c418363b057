import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byteOrder, formatCounts, formatSortedUnique, listModaliasesCollector, readModaliases } from '../../collectors/list-modaliases.js';
import { createHost } from '../../src/host/host.js';
import { removeTree, unpackZoo, ZOO_SUBSETS } from '../helpers/trees.js';
import { makeRoot } from '../helpers/make-root.js';

let m2: string;
beforeAll(async () => {
  m2 = await unpackZoo('m2', [...ZOO_SUBSETS.modalias]);
});
afterAll(() => removeTree(m2));

/** Upstream's own pipeline, run on a tree: the reference output. */
async function upstream(root: string, tail: string): Promise<string> {
  const { stdout } = await execa('sh', ['-c', `find "$1/sys/devices/" -name modalias -print0 | xargs -0 cat | ${tail}`, 'sh', root], {
    env: { LC_ALL: 'C' },
    stripFinalNewline: false,
  });
  return stdout;
}

describe('maas-list-modaliases', () => {
  it('prints exactly what the upstream script prints on a real machine tree', async () => {
    const output = await listModaliasesCollector.produce(createHost({ root: m2 }));
    expect(output.exitCode).toBe(0);
    expect(output.stdout).toBe(await upstream(m2, 'sort -u'));
    expect(output.stdout).toMatch(/^pci:v/m);
  });

  it('prints exactly what the upstream script prints on this machine', async () => {
    const output = await listModaliasesCollector.produce(createHost());
    expect(output.stdout).toBe(await upstream('', 'sort -u'));
  });

  it('does not follow symlinks, so a link back up the tree adds nothing twice', async () => {
    const root = await makeRoot({
      'sys/devices/pci0000:00/0000:00:02.0/modalias': 'pci:v00008086d00001234\n',
      'sys/devices/pci0000:00/0000:00:02.0/subsystem': { link: '../..' },
      'sys/devices/pci0000:00/0000:00:03.0/modalias': 'pci:v00001AF4d00001000\n',
      'sys/devices/virtual/misc/modalias': 'misc:x\n',
    });
    expect((await readModaliases(createHost({ root }))).sort()).toEqual(['misc:x', 'pci:v00001AF4d00001000', 'pci:v00008086d00001234']);
  });

  it('does not read the memory block devices, where the kernel puts no modalias', async () => {
    const root = await makeRoot({
      'sys/devices/pci0000:00/0000:00:02.0/modalias': 'pci:v00008086d00001234\n',
      'sys/devices/system/memory/memory7/online': '1\n',
      // Planted: a walk that read the block would list it.
      'sys/devices/system/memory/memory7/modalias': 'planted\n',
    });
    expect(await readModaliases(createHost({ root }))).toEqual(['pci:v00008086d00001234']);
  });

  it('walks /sys/devices once per Host, so the support report reuses the list instead of walking again', async () => {
    const root = await makeRoot({ 'sys/devices/pci0000:00/0000:00:02.0/modalias': 'pci:v00008086d00001234\n' });
    const host = createHost({ root });
    const first = await listModaliasesCollector.produce(host);
    await writeFile(join(root, 'sys/devices/pci0000:00/modalias'), 'acpi:PNP0A03:\n');
    expect(await listModaliasesCollector.produce(host)).toEqual(first);
    expect((await listModaliasesCollector.produce(createHost({ root }))).stdout).toContain('acpi:PNP0A03:');
  });

  it('prints nothing for a tree without /sys/devices', async () => {
    const root = await makeRoot({ 'proc/cmdline': '\n' });
    expect((await listModaliasesCollector.produce(createHost({ root }))).stdout).toBe('');
  });
});

describe('formatting', () => {
  const lines = ['usb:v1D6Bp0002', 'pci:vB', 'acpi:PNP0A03:', 'pci:vB', 'Zed', 'pci:vB', 'acpi:PNP0A03:'];

  it('sorts in byte order and removes duplicates like `LC_ALL=C sort -u`', async () => {
    const { stdout } = await execa('sort', ['-u'], { input: `${lines.join('\n')}\n`, env: { LC_ALL: 'C' }, stripFinalNewline: false });
    expect(formatSortedUnique(lines)).toBe(stdout);
  });

  it('orders text beyond ASCII by its UTF-8 bytes, as `LC_ALL=C sort` does', async () => {
    // Accented letters, a character above the surrogates (U+FF21) and one outside the BMP (U+1F600):
    // UTF-16 order puts the last before the one above the surrogates, byte order after it.
    const mixed = ['b', 'é', 'Ａ', '😀', 'a😀', 'aＡ', 'a', 'É', 'ab', 'a\u00e9', 'pci:v8086', 'pci:v80861', '\ud800x', 'zz'];
    const { stdout } = await execa('sort', { input: `${mixed.join('\n')}\n`, env: { LC_ALL: 'C' }, stripFinalNewline: false, encoding: 'buffer' });
    const expected = [...mixed].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect([...mixed].sort(byteOrder)).toEqual(expected);
    // The same as sort(1), for the strings that survive a UTF-8 round trip (all but the lone surrogate).
    const viaSort = Buffer.from(stdout).toString('utf8').split('\n').filter(Boolean);
    expect(expected.map((s) => Buffer.from(s).toString('utf8'))).toEqual(viaSort);
    for (const a of mixed) for (const b of mixed) expect(Math.sign(byteOrder(a, b))).toBe(Buffer.compare(Buffer.from(a), Buffer.from(b)));
  });

  it('counts like `LC_ALL=C sort | uniq -c`', async () => {
    const { stdout } = await execa('sh', ['-c', 'sort | uniq -c'], { input: `${lines.join('\n')}\n`, env: { LC_ALL: 'C' }, stripFinalNewline: false });
    expect(formatCounts(lines)).toBe(stdout);
  });
});
