// Extracts the maas-scripts tarball into a directory: plain or gzip-compressed tar (PAX and GNU
// long-name headers understood), file modes kept, and nothing written outside the directory.
// The archive is read by a small synchronous reader of its own rather than a streaming library:
// report-results unpacks it in a short-lived process, where stream machinery costs more CPU than
// the few dozen small members it carries.
import { closeSync, fchmodSync, mkdirSync, openSync, realpathSync, writeSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import type * as Zlib from 'node:zlib';
import { requireBuiltin } from '../builtin.js';
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

/**
 * node:zlib, loaded for a gzip tarball only: MAAS sends plain tar, and loading zlib would cost
 * every report-results run CPU for nothing. Through require, as the standalone executable has no
 * loader for dynamic imports.
 */
function zlib(): typeof Zlib {
  loadedZlib ??= requireBuiltin('node:zlib') as typeof Zlib;
  return loadedZlib;
}
let loadedZlib: typeof Zlib | undefined;

/** Returns the plain tar bytes; gzip is undone with zlib, bzip2/xz/zstd are refused clearly. */
export function decompressTar(bytes: Uint8Array, source = 'the maas-scripts tarball', limits: TarballLimits = TARBALL_LIMITS): Uint8Array {
  const compression = detectCompression(bytes);
  switch (compression) {
    case 'none':
      return bytes;
    case 'gzip':
      try {
        // Stops as soon as the output passes the limit, rather than after filling memory.
        return zlib().gunzipSync(bytes, { maxOutputLength: limits.bytes });
      } catch (error) {
        if (hasCode(error, 'ERR_BUFFER_TOO_LARGE')) throw new ParseError(source, `it unpacks to more than ${limits.bytes / (1024 * 1024)} MiB, more than any scripts tarball holds`);
        throw new ParseError(source, `bad gzip data (${(error as Error).message})`);
      }
    default:
      // Node has no built-in bzip2/xz/zstd decoder; MAAS itself sends plain tar.
      throw new ParseError(source, `${compression}-compressed tarballs are not supported (plain and gzip tar are)`);
  }
}

/** What a member is, from its header's typeflag ("unknown" for a flag this reader does not know). */
export type TarMemberType = 'file' | 'contiguous-file' | 'directory' | 'link' | 'symlink' | 'character-device' | 'block-device' | 'fifo' | 'unknown';

/** One member of a tar archive, with the PAX and GNU long-name records before it applied. */
export interface TarMember {
  /** The member's path as the archive gives it (PAX `path`, else GNU long name, else prefix/name). */
  name: string;
  type: TarMemberType;
  /** The header's whole mode field (permission, set-id and sticky bits). */
  mode: number;
  /** The member's data: a view into the archive bytes, not a copy (empty for links, devices and directories). */
  content: Uint8Array;
}

// The ustar header is one 512-byte block of fixed fields; these are the offsets of the ones read.
const BLOCK = 512;
const NAME = 0;
const MODE = 100;
const SIZE = 124;
const CHECKSUM = 148;
const TYPEFLAG = 156;
const MAGIC = 257;
const PREFIX = 345;
/** "ustar" and a NUL: POSIX ustar and PAX archives (GNU's own format has "ustar  " and a NUL). */
const USTAR_MAGIC = [0x75, 0x73, 0x74, 0x61, 0x72, 0x00];

/** The typeflags of members. The records that describe the next member are handled apart. */
const MEMBER_TYPES = new Map<number, TarMemberType>([
  [0x00, 'file'], // NUL: a regular file, in archives older than ustar
  [0x30, 'file'], // '0'
  [0x31, 'link'], // '1'
  [0x32, 'symlink'], // '2'
  [0x33, 'character-device'], // '3'
  [0x34, 'block-device'], // '4'
  [0x35, 'directory'], // '5'
  [0x36, 'fifo'], // '6'
  [0x37, 'contiguous-file'], // '7'
]);
const PAX_HEADER = 0x78; // 'x': PAX records for the next member
const PAX_GLOBAL = 0x67; // 'g': PAX records for the rest of the archive (none matters here)
const GNU_LONG_NAME = 0x4c; // 'L': the next member's name
const GNU_LONG_LINK = 0x4b; // 'K': the next member's link target (links are never extracted)
/** Links, devices, FIFOs and directories: ustar stores no data after their headers, whatever the size field says. */
const NO_DATA = new Set([0x31, 0x32, 0x33, 0x34, 0x35, 0x36]);

/**
 * Reads the members of a plain (already decompressed) tar archive in ustar, PAX or GNU format.
 * Every header's checksum is verified; the archive ends at its first zero block, or at the end of
 * the bytes. Throws a ParseError naming `source` for a damaged or cut-off archive or one past `limits`.
 */
export function readTarMembers(bytes: Uint8Array, limits: TarballLimits = TARBALL_LIMITS, source = 'the maas-scripts tarball'): TarMember[] {
  const tar = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const invalid = (detail: string) => new ParseError(source, `not a valid tar archive (${detail})`);
  const members: TarMember[] = [];
  let dataBytes = 0;
  // Set by the records before a member, and used up by that member.
  let paxPath: string | undefined;
  let paxSize: number | undefined;
  let longName: string | undefined;
  let next = 0;
  while (next < tar.length) {
    const header = next;
    if (tar.length - header < BLOCK) {
      // A short run of zeros is an end-of-archive block cut short; anything else is a header cut off.
      if (byteSum(tar, header, tar.length) === 0) break;
      throw invalid(`it ends inside the header at byte ${header}`);
    }
    const sum = byteSum(tar, header, header + BLOCK);
    // The end-of-archive marker: a second zero block and the padding after it are not read.
    if (sum === 0) break;
    if (!checksumMatches(tar, header, sum)) throw invalid(`the header at byte ${header} fails its checksum`);
    const flag = tar[header + TYPEFLAG]!;
    const size = paxSize ?? numberField(tar, header, SIZE, 12, 'size', invalid);
    const length = NO_DATA.has(flag) ? 0 : size;
    const start = header + BLOCK;
    if (length > tar.length - start) {
      throw invalid(`it ends inside the data of "${paxPath ?? longName ?? headerName(tar, header)}", which should hold ${length} bytes`);
    }
    const content = tar.subarray(start, start + length);
    next = start + Math.ceil(length / BLOCK) * BLOCK;
    if (flag === PAX_HEADER) {
      ({ path: paxPath, size: paxSize } = paxRecords(content, invalid));
      continue;
    }
    if (flag === GNU_LONG_NAME) {
      longName = cString(content, 0, content.length);
      continue;
    }
    if (flag === PAX_GLOBAL || flag === GNU_LONG_LINK) continue;
    if (members.length === limits.members) throw new ParseError(source, `it has more than ${limits.members} members, more than any scripts tarball holds`);
    dataBytes += length;
    if (dataBytes > limits.bytes) throw new ParseError(source, `it unpacks to more than ${limits.bytes / (1024 * 1024)} MiB, more than any scripts tarball holds`);
    const name = paxPath ?? longName ?? headerName(tar, header);
    paxPath = paxSize = longName = undefined;
    // Archives older than ustar mark a directory only by the slash that ends its name, and GNU
    // tar still takes any regular file named so as one.
    const regular = flag === 0x00 || flag === 0x30 || flag === 0x37;
    const type = regular && name.endsWith('/') ? 'directory' : (MEMBER_TYPES.get(flag) ?? 'unknown');
    members.push({ name, type, mode: numberField(tar, header, MODE, 8, 'mode', invalid), content });
  }
  return members;
}

/** The sum of the bytes from `start` to `end` (0 only for all zeros). */
function byteSum(tar: Buffer, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 1) sum += tar[i]!;
  return sum;
}

/**
 * Whether the header's checksum field holds the sum of its bytes, the field itself counted as
 * eight spaces. Some old writers summed the bytes as signed chars; that sum is accepted too.
 */
function checksumMatches(tar: Buffer, header: number, sum: number): boolean {
  const stored = octalField(tar, header + CHECKSUM, 8);
  const field = byteSum(tar, header + CHECKSUM, header + CHECKSUM + 8);
  const unsigned = sum - field + 8 * 0x20;
  if (stored === unsigned) return true;
  // Each byte of 0x80 or more counts 256 less as a signed char.
  let high = 0;
  for (let i = header; i < header + BLOCK; i += 1) if (tar[i]! >= 0x80 && (i < header + CHECKSUM || i >= header + CHECKSUM + 8)) high += 1;
  return stored === unsigned - 256 * high;
}

/**
 * A numeric header field: octal digits (after optional leading spaces, ended by a space, a NUL or
 * the field's end), or GNU's base-256 form for numbers too large for the digits, marked by the
 * first byte's top bit. Negative, fractional or malformed values make the archive invalid.
 */
function numberField(tar: Buffer, header: number, field: number, length: number, what: string, invalid: (detail: string) => ParseError): number {
  const at = header + field;
  const first = tar[at]!;
  let value: number | undefined;
  if (first & 0x80) {
    // Big-endian, the first byte's other bits included. A negative number (two's complement, so
    // its next bit is set) reads as one far past the safe integers, and is refused below.
    value = first & 0x7f;
    for (let i = at + 1; i < at + length; i += 1) value = value * 256 + tar[i]!;
  } else value = octalField(tar, at, length);
  if (value === undefined || !Number.isSafeInteger(value)) throw invalid(`the ${what} field of the header at byte ${header} is not a valid number`);
  return value;
}

/** An octal number field, or undefined when it holds anything but digits between spaces and NULs. */
function octalField(tar: Buffer, at: number, length: number): number | undefined {
  const end = at + length;
  let i = at;
  while (i < end && tar[i] === 0x20) i += 1;
  let value = 0;
  for (; i < end && tar[i]! >= 0x30 && tar[i]! <= 0x37; i += 1) value = value * 8 + tar[i]! - 0x30;
  for (; i < end; i += 1) if (tar[i] !== 0x20 && tar[i] !== 0x00) return undefined;
  return value;
}

/** The text from `start` up to the first NUL before `end`, as UTF-8. */
function cString(tar: Buffer, start: number, end: number): string {
  const nul = tar.indexOf(0, start);
  return tar.toString('utf8', start, nul === -1 || nul > end ? end : nul);
}

/** The name a header gives: its name field, after the ustar prefix field and a slash when there is a prefix. */
function headerName(tar: Buffer, header: number): string {
  const name = cString(tar, header + NAME, header + NAME + 100);
  // Only ustar ("ustar" NUL) has the prefix field; GNU's format keeps other fields there.
  const ustar = USTAR_MAGIC.every((byte, i) => tar[header + MAGIC + i] === byte);
  if (!ustar || tar[header + PREFIX] === 0) return name;
  return `${cString(tar, header + PREFIX, header + PREFIX + 155)}/${name}`;
}

/**
 * The records of a PAX header this reader uses: `path` (the name) and `size`. Each record is
 * "<length> <key>=<value>\n", the length counting the whole record; an empty value cancels the key.
 */
function paxRecords(data: Buffer, invalid: (detail: string) => ParseError): { path?: string; size?: number } {
  const found: { path?: string; size?: number } = {};
  let at = 0;
  while (at < data.length && data[at] !== 0) {
    let length = 0;
    let i = at;
    for (; i < data.length && data[i]! >= 0x30 && data[i]! <= 0x39 && length <= data.length; i += 1) length = length * 10 + data[i]! - 0x30;
    const end = at + length;
    const equals = data.indexOf(0x3d, i);
    if (i === at || data[i] !== 0x20 || end <= i + 1 || end > data.length || data[end - 1] !== 0x0a || equals === -1 || equals >= end - 1) {
      throw invalid(`a PAX header holds a malformed record at byte ${at} of its data`);
    }
    const key = data.toString('utf8', i + 1, equals);
    const value = data.toString('utf8', equals + 1, end - 1);
    if (key === 'path') found.path = value === '' ? undefined : value;
    else if (key === 'size') {
      if (value !== '' && !/^\d+$/.test(value)) throw invalid(`a PAX header gives the size "${value}"`);
      found.size = value === '' ? undefined : Number(value);
      if (found.size !== undefined && !Number.isSafeInteger(found.size)) throw invalid(`a PAX header gives the size "${value}"`);
    }
    at = end;
  }
  return found;
}

/** A member as extractTar writes it: a directory, or a regular file with its permission bits and bytes. */
export interface TarEntry {
  /** Its path inside the target directory, normalised, "/"-separated, never leaving it. */
  path: string;
  type: 'file' | 'directory';
  /** Permission bits (0755 for scripts). */
  mode: number;
  content: Uint8Array;
}

/**
 * What `bytes` (plain or gzip tar) unpacks to, without writing anything: the regular files and
 * directories extractTar would write, in archive order, and the members it would skip (absolute
 * paths, paths that climb out with "..", links, devices) with the reason.
 */
export function unpackTar(bytes: Uint8Array, source?: string, limits: TarballLimits = TARBALL_LIMITS): { entries: TarEntry[]; skipped: SkippedMember[] } {
  const members = readTarMembers(decompressTar(bytes, source, limits), limits, source);
  const entries: TarEntry[] = [];
  const skipped: SkippedMember[] = [];
  for (const member of members) {
    const relative = safeRelativePath(member.name);
    if (relative === '.' && member.type === 'directory') continue; // the target directory itself
    const skip = relative === undefined ? 'its path leaves the target directory' : relative === '.' ? 'not a file name' : unsupportedType(member.type);
    if (skip !== undefined) {
      skipped.push({ name: member.name, reason: skip });
      continue;
    }
    // Not skipped, so the path is a safe one.
    entries.push({ path: relative!.split(sep).join('/'), type: member.type === 'directory' ? 'directory' : 'file', mode: member.mode & 0o777, content: member.content });
  }
  return { entries, skipped };
}

/**
 * Writes `entries` (from unpackTar) into `dir`, which must exist: directories are created as
 * needed, files get their own permission bits. Returns the files written. A file system that
 * refuses (full, read-only) is a one-line CliError naming `dir` and the fix.
 */
export function writeTarEntries(entries: readonly TarEntry[], dir: string, source = 'the maas-scripts tarball'): string[] {
  const target = realpathSync.native(dir);
  const files: string[] = [];
  const made = new Set<string>([target]);
  const makeDirectory = (path: string) => {
    if (made.has(path)) return;
    mkdirSync(path, { recursive: true, mode: 0o755 });
    made.add(path);
  };
  // The members are written with synchronous calls: a tarball of a few dozen small files in the
  // run's temporary directory, where each asynchronous call (several per member) would cost more
  // CPU in its round trip through the thread pool than the write itself.
  try {
    for (const entry of entries) {
      const path = join(target, entry.path);
      if (entry.type === 'directory') {
        makeDirectory(path);
        continue;
      }
      makeDirectory(dirname(path));
      const fd = openSync(path, 'w', entry.mode);
      try {
        writeWhole(fd, entry.content);
        // open() applies the umask; set the member's own bits (0755 for scripts) explicitly.
        fchmodSync(fd, entry.mode);
      } finally {
        closeSync(fd);
      }
      files.push(entry.path);
    }
  } catch (error) {
    // Writing failed (a full or read-only temporary directory): the tarball itself may be fine.
    if (hasCode(error, 'ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EIO', 'EMFILE')) {
      throw new CliError(`cannot unpack ${source} into ${dir}: ${fsReason(error)}; make room there or point TMPDIR at a writable directory with space`, { cause: error });
    }
    // Members that clash (a file where a later member needs a directory, or the reverse).
    throw new ParseError(source, `not a valid tar archive (${(error as Error).message})`);
  }
  return files;
}

/**
 * Extracts `bytes` (plain or gzip tar) into `dir`, which must exist: unpackTar, then
 * writeTarEntries. Regular files get their header mode (permission bits only); directories are
 * created as needed. Members that are absolute, climb out with "..", or are links/devices are
 * skipped and listed, never written.
 */
export async function extractTar(bytes: Uint8Array, dir: string, source?: string, limits: TarballLimits = TARBALL_LIMITS): Promise<ExtractResult> {
  const { entries, skipped } = unpackTar(bytes, source, limits);
  return { files: writeTarEntries(entries, dir, source), skipped };
}

/**
 * Writes all of `data`: write() may write part of it (a disk filling up) and return without an
 * error, which would leave a truncated script; the rest is written until it fails with ENOSPC.
 */
function writeWhole(fd: number, data: Uint8Array): void {
  for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done);
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

function unsupportedType(type: TarMemberType): string | undefined {
  if (type === 'file' || type === 'contiguous-file' || type === 'directory') return undefined;
  return `member type "${type}" is not extracted`;
}
