// Extracts the maas-scripts tarball into a directory: plain or gzip-compressed tar (PAX and GNU
// long-name headers understood), file modes kept, and nothing written outside the directory.
import { closeSync, fchmodSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { extract as tarExtract, type Header } from 'tar-stream';
import { CliError, hasCode, ParseError } from '../errors.js';
import { fsReason } from '../files.js';

/** A member that was not written, and why (e.g. its path leaves the target directory). */
export interface SkippedMember {
  name: string;
  reason: string;
}

/** What an extraction wrote (paths relative to the target, "/"-separated) and what it skipped. */
export interface ExtractResult {
  files: string[];
  skipped: SkippedMember[];
}

/** The compression a tarball is wrapped in, from its first bytes. */
export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

/** Recognises gzip, bzip2, xz and zstd by their magic bytes; anything else is taken as plain tar. */
export function detectCompression(bytes: Uint8Array): Compression {
  const starts = (...magic: number[]) => magic.every((b, i) => bytes[i] === b);
  if (starts(0x1f, 0x8b)) return 'gzip';
  if (starts(0x42, 0x5a, 0x68)) return 'bzip2';
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return 'zstd';
  return 'none';
}

/**
 * The most a scripts tarball may unpack to, and the most members it may have. MAAS sends a few
 * scripts and the last results it holds (an lshw XML of a large machine is a few MiB); a server
 * that sends more is broken or hostile, and a small gzip stream can unpack to gigabytes.
 */
export const TARBALL_LIMITS: TarballLimits = { bytes: 64 * 1024 * 1024, members: 4096 };

/** How much a tarball may unpack to (bytes) and how many members it may have. */
export interface TarballLimits {
  readonly bytes: number;
  readonly members: number;
}

/** Returns the plain tar bytes; gzip is undone with zlib, bzip2/xz/zstd are refused clearly. */
export function decompressTar(bytes: Uint8Array, source = 'the maas-scripts tarball', limits: TarballLimits = TARBALL_LIMITS): Uint8Array {
  const compression = detectCompression(bytes);
  switch (compression) {
    case 'none':
      return bytes;
    case 'gzip':
      try {
        // Stops as soon as the output passes the limit, rather than after filling memory.
        return gunzipSync(bytes, { maxOutputLength: limits.bytes });
      } catch (error) {
        if (hasCode(error, 'ERR_BUFFER_TOO_LARGE')) throw new ParseError(source, `it unpacks to more than ${limits.bytes / (1024 * 1024)} MiB, more than any scripts tarball holds`);
        throw new ParseError(source, `bad gzip data (${(error as Error).message})`);
      }
    default:
      // Node has no built-in bzip2/xz/zstd decoder; MAAS itself sends plain tar.
      throw new ParseError(source, `${compression}-compressed tarballs are not supported (plain and gzip tar are)`);
  }
}

/**
 * Extracts `bytes` (plain or gzip tar) into `dir`, which must exist. Regular files get their
 * header mode (permission bits only); directories are created as needed. Members that are
 * absolute, climb out with "..", or are links/devices are skipped and listed, never written.
 */
export async function extractTar(bytes: Uint8Array, dir: string, source?: string, limits: TarballLimits = TARBALL_LIMITS): Promise<ExtractResult> {
  const tar = decompressTar(bytes, source, limits);
  const target = await realpath(dir);
  const result: ExtractResult = { files: [], skipped: [] };
  const made = new Set<string>([target]);
  const makeDirectory = (path: string) => {
    if (made.has(path)) return;
    mkdirSync(path, { recursive: true, mode: 0o755 });
    made.add(path);
  };
  const extractor = tarExtract();
  const consume = async () => {
    let members = 0;
    for await (const entry of extractor) {
      members += 1;
      if (members > limits.members) throw new ParseError(source ?? 'the maas-scripts tarball', `it has more than ${limits.members} members, more than any scripts tarball holds`);
      const header = entry.header;
      const relative = safeRelativePath(header.name);
      if (relative === '.' && header.type === 'directory') {
        entry.resume(); // the target directory itself
        continue;
      }
      const skip =
        relative === undefined ? 'its path leaves the target directory' : relative === '.' ? 'not a file name' : unsupportedType(header);
      if (skip !== undefined) {
        result.skipped.push({ name: header.name, reason: skip });
        entry.resume();
        continue;
      }
      // Not skipped, so the path is a safe one.
      const path = join(target, relative!);
      // The members are written with synchronous calls: a tarball of a few dozen small files in
      // the run's temporary directory, where each asynchronous call (several per member) would
      // cost more CPU in its round trip through the thread pool than the write itself.
      if (header.type === 'directory') {
        makeDirectory(path);
        entry.resume();
        continue;
      }
      makeDirectory(dirname(path));
      const fd = openSync(path, 'w', (header.mode ?? 0o644) & 0o777);
      try {
        for await (const chunk of entry) writeWhole(fd, chunk as Buffer);
        // open() applies the umask; set the member's own bits (0755 for scripts) explicitly.
        fchmodSync(fd, (header.mode ?? 0o644) & 0o777);
      } finally {
        closeSync(fd);
      }
      result.files.push(relative!.split(sep).join('/'));
    }
  };
  extractor.end(Buffer.from(tar.buffer, tar.byteOffset, tar.byteLength));
  try {
    await consume();
  } catch (error) {
    if (error instanceof ParseError) throw error;
    // Writing failed (a full or read-only temporary directory): the tarball itself may be fine.
    if (hasCode(error, 'ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EIO', 'EMFILE')) {
      throw new CliError(`cannot unpack ${source ?? 'the maas-scripts tarball'} into ${dir}: ${fsReason(error)}; make room there or point TMPDIR at a writable directory with space`, { cause: error });
    }
    throw new ParseError(source ?? 'the maas-scripts tarball', `not a valid tar archive (${(error as Error).message})`);
  }
  return result;
}

/**
 * Writes all of `chunk`: write() may write part of it (a disk filling up) and return without an
 * error, which would leave a truncated script; the rest is written until it fails with ENOSPC.
 */
function writeWhole(fd: number, chunk: Buffer): void {
  for (let done = 0; done < chunk.length; ) done += writeSync(fd, chunk, done, chunk.length - done);
}

/** The member path made relative and normalised, or undefined when it is absolute or escapes. */
function safeRelativePath(name: string): string | undefined {
  if (name.includes('\0')) return undefined;
  // An empty name normalises to "." (not a file name); an absolute one stays absolute.
  const normal = normalize(name);
  if (normal === '..' || normal.startsWith(`..${sep}`) || isAbsolute(normal)) return undefined;
  // A directory member's trailing slash; what is left is never empty ("/" is absolute).
  // Stryker disable next-line Regex: normalize leaves at most one trailing slash, so `+` changes nothing
  return normal.replace(/\/+$/, '');
}

function unsupportedType(header: Header): string | undefined {
  if (header.type === 'file' || header.type === 'contiguous-file' || header.type === 'directory') return undefined;
  return `member type "${header.type ?? 'unknown'}" is not extracted`;
}
