import { execFileSync } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { CliError, ParseError } from '../../src/errors.js';
import { detectCompression, extractTar, readTarMembers, TARBALL_LIMITS, type TarMember } from '../../src/runner/tar.js';
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

  it('gives a file exactly its header permission bits, whatever the umask takes away', async () => {
    const dir = await tempDir();
    await extractTar(await buildTar([{ name: 'open', mode: 0o777, body: 'x' }, { name: 'shared', mode: 0o666, body: 'y' }]), dir);
    expect((await stat(join(dir, 'open'))).mode & 0o777).toBe(0o777);
    expect((await stat(join(dir, 'shared'))).mode & 0o777).toBe(0o666);
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

/**
 * Writes `value` into the field at `field` of the header at `header` and gives the header a
 * matching checksum, as a writer that put that value there would have: the bytes summed with the
 * checksum field as eight spaces (each byte of 0x80 or more counted 256 less when `signed`).
 */
function patchHeader(tar: Buffer, header: number, field: number, value: ArrayLike<number> | string, { signed = false } = {}): Buffer {
  const copy = Buffer.from(tar);
  copy.set(typeof value === 'string' ? Buffer.from(value, 'latin1') : value, header + field);
  copy.fill(0x20, header + 148, header + 156);
  let sum = 0;
  for (let i = header; i < header + 512; i += 1) sum += signed && copy[i]! >= 0x80 ? copy[i]! - 256 : copy[i]!;
  copy.write(`${sum.toString(8).padStart(6, '0')}\0 `, header + 148, 'latin1');
  return copy;
}

const text = (member: TarMember) => Buffer.from(member.content).toString('utf8');

describe('readTarMembers', () => {
  it('gives each member its name, type, mode and content, the content a view into the archive', async () => {
    const tar = await buildTar([
      { name: 'commissioning/', type: 'directory', mode: 0o755 },
      { name: 'commissioning/lshw', mode: 0o4755, body: '#!/bin/sh\nlshw -xml\n' },
      { name: 'index.json', mode: 0o644, body: '{}' },
    ]);
    const members = readTarMembers(tar);
    expect(members.map(({ name, type, mode }) => ({ name, type, mode }))).toEqual([
      { name: 'commissioning/', type: 'directory', mode: 0o755 },
      { name: 'commissioning/lshw', type: 'file', mode: 0o4755 },
      { name: 'index.json', type: 'file', mode: 0o644 },
    ]);
    expect(members.map(text)).toEqual(['', '#!/bin/sh\nlshw -xml\n', '{}']);
    expect(members[2]!.content.buffer).toBe(tar.buffer);
  });

  it('refuses a header whose checksum does not match its bytes', async () => {
    const tar = await buildTar([{ name: 'index.json', body: '{}' }]);
    readTarMembers(tar); // the untouched archive is fine
    const damaged = Buffer.from(tar);
    damaged[0] = 'j'.charCodeAt(0); // "jndex.json", the checksum left as it was
    expect(() => readTarMembers(damaged)).toThrow(ParseError);
    expect(() => readTarMembers(damaged)).toThrow('cannot parse the maas-scripts tarball: not a valid tar archive (the header at byte 0 fails its checksum)');
  });

  it('takes a checksum summed over signed bytes, as some old writers made it', async () => {
    const tar = await buildTar([{ name: 'index.json', body: '{}' }]);
    const name = Buffer.from('café.json\0', 'utf8');
    const signed = patchHeader(tar, 0, 0, name, { signed: true });
    expect(readTarMembers(signed).map((m) => m.name)).toEqual(['café.json']);
  });

  it('reads a size in GNU base-256 form, and refuses a negative one', async () => {
    const tar = await buildTar([{ name: 'big', body: 'hello' }, { name: 'next', body: 'after' }]);
    const base256 = patchHeader(tar, 0, 124, [0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]);
    expect(base256.subarray(124, 136).toString('latin1')).not.toContain('5'); // no octal digits left
    expect(readTarMembers(base256).map(text)).toEqual(['hello', 'after']);
    const negative = patchHeader(tar, 0, 124, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb]);
    expect(() => readTarMembers(negative)).toThrow(/not a valid tar archive \(the size field of the header at byte 0 is not a valid number\)/);
  });

  it('refuses a size field that is not an octal number', async () => {
    const tar = await buildTar([{ name: 'index.json', body: '{}' }]);
    expect(() => readTarMembers(patchHeader(tar, 0, 124, '0000000000x\0'))).toThrow(/the size field of the header at byte 0 is not a valid number/);
    expect(() => readTarMembers(patchHeader(tar, 0, 100, '07x4\0\0\0\0'))).toThrow(/the mode field of the header at byte 0 is not a valid number/);
  });

  it('takes the name from a PAX path record over the header name', async () => {
    const long = `commissioning/${'p'.repeat(120)}`;
    const tar = await buildTar([{ name: long, mode: 0o755, body: 'x' }]);
    // tar-stream puts its placeholder in the member's own header.
    expect(tar.subarray(1024, 1024 + 9).toString('latin1')).toBe('PaxHeader');
    expect(readTarMembers(tar).map((m) => [m.name, m.mode, text(m)])).toEqual([[long, 0o755, 'x']]);
  });

  it('takes the data length from a PAX size record over the size field', async () => {
    const tar = await buildTar([{ name: 'index.json', body: 'hello', pax: { size: '5' } }, { name: 'next', body: 'after' }]);
    const zeroSize = patchHeader(tar, 1024, 124, '00000000000\0');
    expect(readTarMembers(zeroSize).map((m) => [m.name, text(m)])).toEqual([
      ['index.json', 'hello'],
      ['next', 'after'],
    ]);
  });

  it('refuses a PAX size record that is not a plain decimal number', async () => {
    const tar = await buildTar([{ name: 'index.json', body: 'hello', pax: { size: '0x5' } }]);
    expect(() => readTarMembers(tar)).toThrow('not a valid tar archive (a PAX header gives the size "0x5")');
  });

  it('takes an empty PAX path record as no path record, so the header name stands', async () => {
    const tar = await buildTar([{ name: 'index.json', body: '{}', pax: { path: '' } }]);
    // tar-stream writes the name first, then the empty record after it; its own header says "PaxHeader".
    expect(tar.subarray(512, 1024).toString('latin1')).toMatch(/^\d+ path=index\.json\n\d+ path=\n/);
    const named = patchHeader(tar, 1024, 0, 'index.json\0');
    expect(readTarMembers(named).map((m) => m.name)).toEqual(['index.json']);
  });

  it('refuses a malformed PAX record', async () => {
    const tar = await buildTar([{ name: `commissioning/${'p'.repeat(120)}`, body: 'x' }]);
    const record = tar.subarray(512, 1024).toString('latin1');
    expect(record).toMatch(/^\d+ path=/);
    const damaged = Buffer.from(tar);
    damaged.write('999', 512, 'latin1'); // a record longer than the PAX data
    expect(() => readTarMembers(damaged)).toThrow(/not a valid tar archive \(a PAX header holds a malformed record at byte 0 of its data\)/);
  });

  it('joins the ustar prefix field and the name field with a slash', async () => {
    const deep = `${'d'.repeat(70)}/${'n'.repeat(70)}`;
    const tar = await buildTar([{ name: deep, body: 'x' }]);
    // tar-stream splits the name into the prefix and name fields, with no PAX header.
    expect(tar.subarray(0, 100).toString('latin1').replace(/\0+$/, '')).toBe('n'.repeat(70));
    expect(tar.subarray(345, 345 + 70).toString('latin1')).toBe('d'.repeat(70));
    expect(readTarMembers(tar).map((m) => m.name)).toEqual([deep]);
  });

  it('leaves out the prefix field in GNU-format headers, where those bytes hold other fields', async () => {
    const deep = `${'d'.repeat(70)}/${'n'.repeat(70)}`;
    const gnu = patchHeader(await buildTar([{ name: deep, body: 'x' }]), 0, 257, 'ustar  \0');
    expect(readTarMembers(gnu).map((m) => m.name)).toEqual(['n'.repeat(70)]);
  });

  it('takes the name from a GNU long-name record', () => {
    // Made by hand here; the GNU tar tests below read the ones GNU tar itself writes.
    const long = `commissioning/${'g'.repeat(150)}`;
    const header = (name: string, mode: string, size: number, flag: string) => {
      const block = Buffer.alloc(512);
      block.write(name, 0, 'latin1');
      block.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
      block.write(`${mode}\0`, 100, 'latin1');
      block.write('ustar  \0', 257, 'latin1');
      return patchHeader(block, 0, 156, flag);
    };
    const data = (content: string) => Buffer.concat([Buffer.from(content, 'latin1'), Buffer.alloc(512 - content.length)]);
    const tar = Buffer.concat([header('././@LongLink', '0000644', long.length + 1, 'L'), data(`${long}\0`), header('commissioning/ggg', '0000755', 2, '0'), data('hi'), Buffer.alloc(1024)]);
    expect(readTarMembers(tar).map((m) => [m.name, m.mode, text(m)])).toEqual([[long, 0o755, 'hi']]);
  });

  it('refuses a member whose data runs past the end, and a header cut short', async () => {
    const tar = await buildTar([{ name: 'index.json', body: 'x'.repeat(2000) }, { name: 'next', body: 'y' }]);
    expect(() => readTarMembers(tar.subarray(0, 512 + 1999))).toThrow('not a valid tar archive (it ends inside the data of "index.json", which should hold 2000 bytes)');
    // 2000 bytes take four blocks: the second header starts at 2560.
    expect(() => readTarMembers(tar.subarray(0, 2560 + 300))).toThrow('not a valid tar archive (it ends inside the header at byte 2560)');
  });

  it('ends the archive at a zero block, or at the end of the data, reading nothing after it', async () => {
    const one = await buildTar([{ name: 'index.json', body: '{}' }]);
    const two = await buildTar([{ name: 'later', body: 'x' }]);
    const names = (tar: Buffer) => readTarMembers(tar).map((m) => m.name);
    expect(names(one)).toEqual(['index.json']); // two zero blocks
    expect(names(one.subarray(0, 1024))).toEqual(['index.json']); // no end marker at all
    expect(names(one.subarray(0, 1024 + 512))).toEqual(['index.json']); // a single zero block
    expect(names(one.subarray(0, 1024 + 100))).toEqual(['index.json']); // a zero block cut short
    expect(names(Buffer.concat([one.subarray(0, 1024 + 512), two]))).toEqual(['index.json']);
  });

  it('takes a file member whose name ends with a slash as a directory, as archives older than ustar mark one', async () => {
    const tar = await buildTar([
      { name: 'old-style/', body: '' },
      { name: 'contiguous/', type: 'contiguous-file', body: '' },
      { name: 'café/', body: '' }, // not ASCII, so its name is in a PAX path record
    ]);
    expect(tar[156]).toBe('0'.charCodeAt(0));
    const v7 = patchHeader(tar, 0, 156, [0]);
    expect(readTarMembers(v7).map((m) => [m.name, m.type])).toEqual([
      ['old-style/', 'directory'],
      ['contiguous/', 'directory'],
      ['café/', 'directory'],
    ]);
    expect(tar.subarray(2048, 2048 + 9).toString('latin1')).toBe('PaxHeader');
    expect(readTarMembers(tar)[0]!.type).toBe('directory');
  });

  it('reads no data after the header of a link, whatever its size field says', async () => {
    const tar = await buildTar([{ name: 'link', type: 'symlink', linkname: 'index.json' }, { name: 'index.json', body: '{}' }]);
    const sized = patchHeader(tar, 0, 124, '00000001000\0'); // 512 bytes
    expect(readTarMembers(sized).map((m) => [m.name, m.type, text(m)])).toEqual([
      ['link', 'symlink', ''],
      ['index.json', 'file', '{}'],
    ]);
  });

  it('names every member type, and calls a flag it does not know "unknown"', async () => {
    const tar = await buildTar([
      { name: 'c', type: 'contiguous-file', body: 'x' },
      { name: 'h', type: 'link', linkname: 'c' },
      { name: 'b', type: 'block-device' },
      { name: 'v', body: 'x' },
    ]);
    // The last member's flag becomes GNU's volume label "V"; its one data block still follows.
    const labelled = patchHeader(tar, 512 * 4, 156, 'V');
    expect(readTarMembers(labelled).map((m) => [m.name, m.type])).toEqual([
      ['c', 'contiguous-file'],
      ['h', 'link'],
      ['b', 'block-device'],
      ['v', 'unknown'],
    ]);
  });

  it('refuses more members than the limit, and takes exactly the limit', async () => {
    const tar = await buildTar([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    expect(readTarMembers(tar, { bytes: 1024, members: 3 })).toHaveLength(3);
    expect(() => readTarMembers(tar, { bytes: 1024, members: 2 }, 'the cached tarball')).toThrow(
      new ParseError('the cached tarball', 'it has more than 2 members, more than any scripts tarball holds'),
    );
  });

  it('refuses members holding more bytes than the limit, and takes exactly the limit', async () => {
    const tar = await buildTar([{ name: 'a', body: 'x'.repeat(600) }, { name: 'b', body: 'y'.repeat(424) }]);
    expect(readTarMembers(tar, { bytes: 1024, members: 10 }).map((m) => m.content.length)).toEqual([600, 424]);
    const limit = { bytes: 1023, members: 10 };
    expect(() => readTarMembers(tar, limit)).toThrow(`it unpacks to more than ${1023 / (1024 * 1024)} MiB, more than any scripts tarball holds`);
  });
});

describe('readTarMembers and a tarball GNU tar wrote', () => {
  /** A tree of the kinds of member a scripts tarball holds, and a few it does not. */
  async function sourceTree(longName: boolean): Promise<string> {
    const src = await tempDir();
    const files: [string, string | Buffer, number][] = [
      ['commissioning/50-maas-01-commissioning', '#!/bin/sh\necho commissioning\n', 0o755],
      ['commissioning/exactly-one-block', 'b'.repeat(512), 0o644],
      ['index.json', '{"1.0": {"commissioning_scripts": []}}', 0o644],
      ['out/empty', '', 0o600],
      ['out/binary', Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 37) % 256)), 0o640],
      [`deep/${'d'.repeat(70)}/${'f'.repeat(60)}`, 'deep\n', 0o755],
    ];
    if (longName) files.push([`commissioning/${'l'.repeat(150)}`, 'long\n', 0o755]);
    for (const [name, content, mode] of files) {
      await mkdir(join(src, dirname(name)), { recursive: true });
      await writeFile(join(src, name), content);
      await chmod(join(src, name), mode);
    }
    await symlink('index.json', join(src, 'link'));
    // A link target too long for the header: GNU tar writes a "K" record (or a PAX linkpath) before it.
    if (longName) await symlink(`../${'t'.repeat(120)}`, join(src, 'out/far-link'));
    return src;
  }

  for (const format of ['gnu', 'posix', 'ustar'] as const) {
    it(`reads every member of a ${format}-format tarball as GNU tar lists it, with the files' own bytes and modes`, async () => {
      const src = await sourceTree(format !== 'ustar');
      const archive = join(await tempDir(), 'scripts.tar');
      const env = { ...process.env, LC_ALL: 'C' };
      // In the PAX format, a comment for the whole archive goes into a global ("g") header.
      const global = format === 'posix' ? ['--pax-option=comment=scripts for this machine'] : [];
      execFileSync('tar', [`--format=${format}`, ...global, '--sort=name', '-cf', archive, '-C', src, 'commissioning', 'deep', 'index.json', 'link', 'out'], { env });
      const listed = execFileSync('tar', ['--quoting-style=literal', '-tf', archive], { env, encoding: 'utf8' }).split('\n').filter(Boolean);
      const members = readTarMembers(await readFile(archive));
      expect(members.map((m) => m.name)).toEqual(listed);
      for (const member of members) {
        const info = await lstat(join(src, member.name));
        expect(member.type, member.name).toBe(info.isSymbolicLink() ? 'symlink' : info.isDirectory() ? 'directory' : 'file');
        if (member.type === 'symlink') continue;
        expect(member.mode & 0o7777, member.name).toBe(info.mode & 0o7777);
        if (member.type === 'file') expect(Buffer.from(member.content).equals(await readFile(join(src, member.name))), member.name).toBe(true);
      }
    });
  }

  it('extracts a GNU tar tarball to the same files and modes, skipping its symlink', async () => {
    const src = await sourceTree(true);
    const archive = join(await tempDir(), 'scripts.tar.gz');
    execFileSync('tar', ['-czf', archive, '-C', src, '.'], { env: { ...process.env, LC_ALL: 'C' } });
    const dir = await tempDir();
    const result = await extractTar(await readFile(archive), dir);
    expect(result.skipped.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: './link', reason: 'member type "symlink" is not extracted' },
      { name: './out/far-link', reason: 'member type "symlink" is not extracted' },
    ]);
    expect(result.files.sort()).toHaveLength(7);
    for (const file of result.files) {
      expect((await readFile(join(dir, file))).equals(await readFile(join(src, file))), file).toBe(true);
      expect((await stat(join(dir, file))).mode & 0o777, file).toBe((await stat(join(src, file))).mode & 0o777);
    }
  });
});
