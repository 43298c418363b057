import { mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { CliError, ParseError } from '../../src/errors.js';
import { detectCompression, extractTar, TARBALL_LIMITS } from '../../src/runner/tar.js';
import { mountTmpfs, tmpfsUnavailable } from '../helpers/trees.js';

type Member = Partial<Header> & { name: string; body?: string };

async function buildTar(members: Member[]): Promise<Buffer> {
  const packer = pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of packer) chunks.push(Buffer.from(chunk as Uint8Array));
  })();
  for (const { body = '', ...header } of members) packer.entry(header, body);
  packer.finalize();
  await done;
  return Buffer.concat(chunks);
}

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tar-test-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('extractTar', () => {
  it('writes scripts with their 0755 mode and the index with 0644, through PAX headers like MAAS sends', async () => {
    const tar = await buildTar([
      // Python's tarfile puts a PAX header carrying a fractional mtime before every member.
      { name: 'commissioning/maas-serial-ports', mode: 0o755, body: '#!/bin/sh\necho hi\n', pax: { mtime: '1795625299.4780452' } },
      { name: 'out/maas-serial-ports.11.out', mode: 0o755, body: 'old\n', pax: { mtime: '1795625299.4780452' } },
      { name: 'index.json', mode: 0o644, body: '{"1.0": {}}', pax: { mtime: '1795625299.4780452' } },
    ]);
    const dir = await tempDir();
    const result = await extractTar(tar, dir);
    expect(result.files).toEqual(['commissioning/maas-serial-ports', 'out/maas-serial-ports.11.out', 'index.json']);
    expect(result.skipped).toEqual([]);
    expect((await stat(join(dir, 'commissioning/maas-serial-ports'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(dir, 'index.json'))).mode & 0o777).toBe(0o644);
    expect(await readFile(join(dir, 'commissioning/maas-serial-ports'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
  });

  it('takes a long member name from its PAX path record', async () => {
    const long = `commissioning/${'x'.repeat(150)}`;
    const dir = await tempDir();
    const result = await extractTar(await buildTar([{ name: long, mode: 0o755, body: 'x' }]), dir);
    expect(result.files).toEqual([long]);
  });

  it('skips members that would land outside the directory, and writes nothing there', async () => {
    const outer = await tempDir();
    const dir = join(outer, 'scripts');
    await mkdir(dir);
    const tar = await buildTar([
      { name: '../config/netplan.yaml', body: 'network: {}' },
      { name: '/etc/evil', body: 'no' },
      { name: 'commissioning/../../escape', body: 'no' },
      { name: 'link', type: 'symlink', linkname: '/etc/passwd' },
      { name: 'index.json', body: '{}' },
    ]);
    const result = await extractTar(tar, dir);
    expect(result.files).toEqual(['index.json']);
    expect(result.skipped.map((s) => s.name)).toEqual(['../config/netplan.yaml', '/etc/evil', 'commissioning/../../escape', 'link']);
    expect((await readdir(outer)).sort()).toEqual(['scripts']);
    expect(await readdir(dir)).toEqual(['index.json']);
  });

  it('undoes gzip compression', async () => {
    const dir = await tempDir();
    const tar = gzipSync(await buildTar([{ name: 'index.json', body: '{"a":1}' }]));
    expect(detectCompression(tar)).toBe('gzip');
    await extractTar(tar, dir);
    expect(await readFile(join(dir, 'index.json'), 'utf8')).toBe('{"a":1}');
  });

  it('refuses bzip2 and xz tarballs with a message naming the compression', async () => {
    const dir = await tempDir();
    await expect(extractTar(Buffer.from('BZh91AY&SY'), dir)).rejects.toThrow(/bzip2-compressed tarballs are not supported/);
    await expect(extractTar(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2]), dir)).rejects.toThrow(/xz-compressed/);
  });

  it('reports a truncated archive as a parse error', async () => {
    const dir = await tempDir();
    const tar = await buildTar([{ name: 'index.json', body: 'x'.repeat(2000) }]);
    await expect(extractTar(tar.subarray(0, 700), dir)).rejects.toBeInstanceOf(ParseError);
  });
});

describe('extractTar: what it writes and what it skips', () => {
  it('creates directory members, with mode 0755, and takes the archive root "./" as the target itself', async () => {
    const dir = await tempDir();
    const result = await extractTar(
      await buildTar([
        { name: './', type: 'directory' },
        { name: 'commissioning/', type: 'directory' },
        { name: 'empty//', type: 'directory' },
        { name: 'deep/er/', type: 'directory' },
        { name: 'commissioning/', type: 'directory' },
      ]),
      dir,
    );
    expect(result).toEqual({ files: [], skipped: [] });
    expect((await readdir(dir)).sort()).toEqual(['commissioning', 'deep', 'empty']);
    expect(await readdir(join(dir, 'deep'))).toEqual(['er']);
    expect((await stat(join(dir, 'commissioning'))).mode & 0o777).toBe(0o755);
  });

  it('writes a contiguous-file member as a file, with 0644 when its header gives no permission bits', async () => {
    const dir = await tempDir();
    const result = await extractTar(await buildTar([{ name: 'index.json', type: 'contiguous-file', body: '{}' }]), dir);
    expect(result.files).toEqual(['index.json']);
    expect(await readFile(join(dir, 'index.json'), 'utf8')).toBe('{}');
  });

  it('gives each skipped member its reason', async () => {
    const dir = await tempDir();
    const tar = await buildTar([
      { name: '..', body: 'up' },
      { name: 'a/../..', body: 'up' },
      { name: 'commissioning/..', body: 'x' },
      { name: 'dev', type: 'character-device', devmajor: 1, devminor: 3 },
      { name: 'hard', type: 'link', linkname: 'index.json' },
      { name: 'fifo', type: 'fifo' },
      { name: 'nul', pax: { path: 'a\0b' }, body: 'x' },
    ]);
    const result = await extractTar(tar, dir);
    expect(result.files).toEqual([]);
    expect(result.skipped).toEqual([
      { name: '..', reason: 'its path leaves the target directory' },
      { name: 'a/../..', reason: 'its path leaves the target directory' },
      { name: 'commissioning/..', reason: 'not a file name' },
      { name: 'dev', reason: 'member type "character-device" is not extracted' },
      { name: 'hard', reason: 'member type "link" is not extracted' },
      { name: 'fifo', reason: 'member type "fifo" is not extracted' },
      { name: 'a\0b', reason: 'its path leaves the target directory' },
    ]);
    expect(await readdir(dir)).toEqual([]);
  });

  it('recognises a zstd tarball and refuses it, naming the tarball', async () => {
    const zstd = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]);
    expect(detectCompression(zstd)).toBe('zstd');
    expect(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0x00]))).toBe('none');
    const refused = await extractTar(zstd, await tempDir()).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ParseError);
    expect((refused as Error).message).toBe('cannot parse the maas-scripts tarball: zstd-compressed tarballs are not supported (plain and gzip tar are)');
  });

  it('says the gzip data is bad, not that it is too large, for a corrupt gzip stream', async () => {
    const corrupt = Buffer.concat([gzipSync(Buffer.alloc(4096)).subarray(0, 12), Buffer.from('not deflate data at all')]);
    const refused = await extractTar(corrupt, await tempDir()).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ParseError);
    expect((refused as Error).message).toMatch(/^cannot parse the maas-scripts tarball: bad gzip data \(.+\)$/);
  });

  it('names the tarball it was given in every refusal', async () => {
    const source = 'the cached tarball';
    const limits = { bytes: 1024, members: 1 };
    const gzipped = await extractTar(gzipSync(Buffer.alloc(4096)), await tempDir(), source, limits).catch((error: unknown) => error);
    expect((gzipped as Error).message).toBe('cannot parse the cached tarball: it unpacks to more than 0.0009765625 MiB, more than any scripts tarball holds');
    const many = await extractTar(await buildTar([{ name: 'a' }, { name: 'b' }]), await tempDir(), source, limits).catch((error: unknown) => error);
    expect((many as Error).message).toBe('cannot parse the cached tarball: it has more than 1 members, more than any scripts tarball holds');
    const broken = await extractTar(Buffer.alloc(1024, 7), await tempDir(), source, limits).catch((error: unknown) => error);
    expect((broken as Error).message).toMatch(/^cannot parse the cached tarball: not a valid tar archive \(.+\)$/);
  });

  it('names the default tarball when refusing too many members, or a broken archive', async () => {
    const many = await extractTar(await buildTar([{ name: 'a' }, { name: 'b' }]), await tempDir(), undefined, { bytes: 1024, members: 1 }).catch((error: unknown) => error);
    expect(many).toBeInstanceOf(ParseError);
    expect((many as Error).message).toBe('cannot parse the maas-scripts tarball: it has more than 1 members, more than any scripts tarball holds');
    const broken = await extractTar(Buffer.alloc(1024, 7), await tempDir()).catch((error: unknown) => error);
    expect((broken as Error).message).toMatch(/^cannot parse the maas-scripts tarball: not a valid tar archive \(.+\)$/);
  });
});

describe('a scripts tarball from a broken or hostile server', () => {
  it('is refused once its gzip stream unpacks past the limit, before memory fills, and nothing is written', async () => {
    // A member of zeros just over the limit: the gzip stream is a few hundred KiB.
    const tar = await buildTar([{ name: 'commissioning/bomb', mode: 0o755, body: '\0'.repeat(TARBALL_LIMITS.bytes + 1024) }]);
    const bomb = gzipSync(tar, { level: 9 });
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const dir = await tempDir();
    const refused = await extractTar(bomb, dir).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ParseError);
    expect((refused as Error).message).toContain(`it unpacks to more than ${TARBALL_LIMITS.bytes / (1024 * 1024)} MiB`);
    expect(await readdir(dir)).toEqual([]);
  });

  it('is refused past the member limit', async () => {
    const members = Array.from({ length: TARBALL_LIMITS.members + 1 }, (_, i) => ({ name: `commissioning/s${i}`, body: 'x' }));
    const refused = await extractTar(await buildTar(members), await tempDir()).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ParseError);
    expect((refused as Error).message).toContain(`it has more than ${TARBALL_LIMITS.members} members`);
  });

  it('is taken at the limits themselves', async () => {
    const members = Array.from({ length: TARBALL_LIMITS.members }, (_, i) => ({ name: `commissioning/s${i}`, body: 'x' }));
    const result = await extractTar(gzipSync(await buildTar(members)), await tempDir());
    expect(result.files).toHaveLength(TARBALL_LIMITS.members);
  });
});

// A full temporary directory needs a small file system of its own: a tmpfs mounted for the test,
// which needs root (CI runs as root); elsewhere the test is skipped and says why.
const mountSkip = await tmpfsUnavailable();
if (mountSkip) console.warn(`skipped: the full-directory test: ${mountSkip}`);

describe.skipIf(mountSkip !== undefined)('extracting into a full temporary directory', () => {
  it('says the directory is full and how to fix it, not that the tarball is broken', async () => {
    const dir = await tempDir();
    const unmount = mountTmpfs(dir, '16k');
    try {
      const tar = await buildTar([{ name: 'commissioning/big', mode: 0o755, body: 'x'.repeat(256 * 1024) }]);
      const refused = await extractTar(tar, dir).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(CliError);
      expect(refused).not.toBeInstanceOf(ParseError);
      expect((refused as Error).message).toBe(`cannot unpack the maas-scripts tarball into ${dir}: no space left on device; make room there or point TMPDIR at a writable directory with space`);
      expect(((refused as Error).cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      unmount();
    }
  });

  it('says a read-only temporary directory is read-only, naming the tarball it was given', async () => {
    const dir = await tempDir();
    const unmount = mountTmpfs(dir, '16k', { readOnly: true });
    try {
      const tar = await buildTar([{ name: 'index.json', body: '{}' }]);
      const refused = await extractTar(tar, dir, 'the cached tarball').catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(CliError);
      expect(refused).not.toBeInstanceOf(ParseError);
      expect((refused as Error).message).toBe(`cannot unpack the cached tarball into ${dir}: read-only file system; make room there or point TMPDIR at a writable directory with space`);
    } finally {
      unmount();
    }
  });
});
