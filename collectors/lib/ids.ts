// Vendor/product names from the pci.ids and usb.ids databases, when the host has them.
// The files are large (over a megabyte), so each is read once, lazily, and searched rather than
// parsed whole.
import type { Host } from '../../src/host/host.js';

const DIRS = ['/usr/share/misc', '/usr/share/hwdata', '/usr/share'];

/** A loaded ids database. */
export interface IdsDatabase {
  vendor(vendorId: string): string;
  product(vendorId: string, productId: string): string;
  /** usb.ids only: interface class/subclass names ("C 08  Mass Storage"). */
  usbClass(classId: string, subclassId?: string): string;
}

/** Finds vendor/product names in ids-format text. Pure: tests pass small texts. */
export function idsDatabase(text: string): IdsDatabase {
  const section = (header: string): string | undefined => {
    const at = text.indexOf(`\n${header}`);
    if (at < 0) return undefined;
    const start = at + 1;
    let end = start + header.length;
    // The section runs until the next line that does not start with a tab.
    for (;;) {
      const nl = text.indexOf('\n', end);
      if (nl < 0) return text.slice(start);
      end = nl + 1;
      if (text[end] !== '\t' && text[end] !== '#') return text.slice(start, nl);
    }
  };
  const nameAfter = (line: string | undefined, prefixLength: number) => (line === undefined ? '' : line.slice(prefixLength).trim());
  const vendorSection = (id: string) => section(`${id.toLowerCase()}  `);
  return {
    vendor: (vendorId) => {
      const s = vendorSection(vendorId);
      return s === undefined ? '' : nameAfter(s.split('\n')[0], vendorId.length);
    },
    product: (vendorId, productId) => {
      const s = vendorSection(vendorId);
      if (s === undefined) return '';
      const line = s.split('\n').find((l) => l.startsWith(`\t${productId.toLowerCase()}  `));
      return nameAfter(line, productId.length + 1);
    },
    usbClass: (classId, subclassId) => {
      const s = section(`C ${classId.toLowerCase()}  `);
      if (s === undefined) return '';
      const lines = s.split('\n');
      if (subclassId === undefined) return nameAfter(lines[0], classId.length + 2);
      return nameAfter(lines.find((l) => l.startsWith(`\t${subclassId.toLowerCase()}  `)), subclassId.length + 1);
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
        const text = await host.readText(`${dir}/${file}`);
        if (text !== undefined) return idsDatabase(`\n${text}`);
      }
      return EMPTY;
    })();
    perHost.set(file, loaded);
  }
  return loaded;
}
