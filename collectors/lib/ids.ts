// Vendor/product names from the pci.ids and usb.ids databases, when the host has them.
// The files are large (over a megabyte), so each is read once, lazily, kept as bytes and
// searched; only the lines a lookup needs are decoded.
import type { Host } from '../../src/host/host.js';

const DIRS = ['/usr/share/misc', '/usr/share/hwdata', '/usr/share'];
const NL = 0x0a;

/** A loaded ids database. */
export interface IdsDatabase {
  vendor(vendorId: string): string;
  product(vendorId: string, productId: string): string;
  /** usb.ids only: interface class/subclass names ("C 08  Mass Storage"). */
  usbClass(classId: string, subclassId?: string): string;
}

/**
 * Where a block ends: the newline (at or after `from`, the end of the block's first line) before
 * the first line that is neither a child (tab) nor a comment; the end of the data when there is
 * none. A vendor's block can be long (Intel's is over 8,000 lines of pci.ids): it is searched by
 * a regular expression in growing windows of the bytes, each one byte longer than the step, so
 * a newline at a window's last byte is seen with the byte after it in the next window. Walking it
 * line by line took a few milliseconds of each run that named an Intel device.
 */
function blockEnd(bytes: Buffer, from: number): number {
  if (from < 0) return bytes.length;
  const nextBlock = /\n[^\t#]/g;
  for (let start = from, size = FIRST_WINDOW; start < bytes.length; start += size, size *= 2) {
    nextBlock.lastIndex = 0;
    const found = nextBlock.exec(bytes.toString('latin1', start, Math.min(bytes.length, start + size + 1)));
    if (found) return start + found.index;
  }
  return bytes.length;
}
const FIRST_WINDOW = 4096;

/** Finds vendor/product names in ids-format data. Pure: tests pass small texts. */
export function idsDatabase(data: string | Buffer): IdsDatabase {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const lineAt = (start: number) => {
    const end = bytes.indexOf(NL, start);
    return bytes.toString('utf8', start, end < 0 ? bytes.length : end);
  };
  // Byte range of the block starting with `header` at a line start (from the newline before it,
  // -1 at the very start): its own line, then its tab-indented children and comment lines.
  const block = (header: string): [number, number] | undefined => {
    const first = bytes.toString('utf8', 0, header.length) === header;
    const at = first ? -1 : bytes.indexOf(`\n${header}`, 0, 'utf8');
    if (at < 0 && !first) return undefined;
    return [at, blockEnd(bytes, bytes.indexOf(NL, at + 1))];
  };
  // The name on the first line of a block, after its `prefixLength`-long id part.
  const name = (range: [number, number] | undefined, prefixLength: number) => (range ? lineAt(range[0] + 1).slice(prefixLength).trim() : '');
  // A child line ("\tID  name") inside a block; grandchildren have two tabs and never match.
  const child = (range: [number, number] | undefined, id: string) => {
    if (!range) return '';
    const at = bytes.indexOf(`\n\t${id.toLowerCase()}  `, Math.max(0, range[0]), 'utf8');
    return at < 0 || at >= range[1] ? '' : lineAt(at + 2).slice(id.length).trim();
  };
  // A machine's devices come from a few vendors: each vendor's block is searched for once.
  const vendorBlocks = new Map<string, [number, number] | undefined>();
  const vendorBlock = (id: string) => {
    const key = id.toLowerCase();
    if (!vendorBlocks.has(key)) vendorBlocks.set(key, block(`${key}  `));
    return vendorBlocks.get(key);
  };
  return {
    vendor: (vendorId) => name(vendorBlock(vendorId), vendorId.length),
    product: (vendorId, productId) => child(vendorBlock(vendorId), productId),
    usbClass: (classId, subclassId) => {
      const range = block(`C ${classId.toLowerCase()}  `);
      return subclassId === undefined ? name(range, classId.length + 2) : child(range, subclassId);
    },
  };
}

const EMPTY: IdsDatabase = { vendor: () => '', product: () => '', usbClass: () => '' };
const cache = new WeakMap<Host, Map<string, Promise<IdsDatabase>>>();

/** The host's pci.ids or usb.ids (looked up in the usual directories); empty names when absent. */
export function loadIds(host: Host, file: 'pci.ids' | 'usb.ids'): Promise<IdsDatabase> {
  let perHost = cache.get(host);
  if (!perHost) cache.set(host, (perHost = new Map()));
  let loaded = perHost.get(file);
  if (!loaded) {
    loaded = (async () => {
      for (const dir of DIRS) {
        const data = await host.readBytes(`${dir}/${file}`);
        if (data !== undefined) return idsDatabase(data);
      }
      return EMPTY;
    })();
    perHost.set(file, loaded);
  }
  return loaded;
}
