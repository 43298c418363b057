import { describe, expect, it } from 'vitest';
import { idsDatabase } from '../../../collectors/lib/ids.js';

const PCI = '\n# comment\n1af4  Red Hat, Inc.\n\t1000  Virtio network device\n\t1041  Virtio 1.0 network device\n8086  Intel Corporation\n\t10d3  82574L Gigabit Network Connection\n';

describe('idsDatabase', () => {
  it('finds vendor and product names by hex id, in any case', () => {
    const db = idsDatabase(PCI);
    expect(db.vendor('1AF4')).toBe('Red Hat, Inc.');
    expect(db.product('1af4', '1041')).toBe('Virtio 1.0 network device');
  });

  it('does not take a product from the next vendor', () => {
    expect(idsDatabase(PCI).product('1af4', '10d3')).toBe('');
  });

  it('gives empty names for unknown ids', () => {
    expect(idsDatabase(PCI).vendor('abcd')).toBe('');
  });

  it('names USB interface classes and subclasses', () => {
    const db = idsDatabase('\nC 03  Human Interface Device\n\t01  Boot Interface Subclass\n\t\t01  Keyboard\n');
    expect(db.usbClass('03')).toBe('Human Interface Device');
    expect(db.usbClass('03', '01')).toBe('Boot Interface Subclass');
  });
});

describe('idsDatabase at the edges of the file', () => {
  it('finds a vendor on the very first line and a product on the very last', () => {
    const db = idsDatabase(Buffer.from('abcd  First Vendor\n\t0001  Last Product'));
    expect(db.vendor('abcd')).toBe('First Vendor');
    expect(db.product('abcd', '0001')).toBe('Last Product');
  });

  it('does not mistake a subsystem line (two tabs) for a product', () => {
    const db = idsDatabase('\n8086  Intel\n\t1521  I350\n\t\t8086 0001  I350-T4\n');
    expect(db.product('8086', '8086')).toBe('');
  });
});

describe('idsDatabase on long vendor blocks', () => {
  // A vendor whose block is longer than the windows it is searched in (4 KiB, then 8 KiB, ...
  // from the end of its first line), then another vendor with a product id the first lacks. The
  // padded name of the first vendor's last product puts the newline that ends the block on each
  // byte around the first two window boundaries.
  const text = (pad: number) =>
    [
      '0a0a  Long Vendor',
      ...Array.from({ length: 150 }, (_, i) => `\t${(i + 0x1000).toString(16)}  Product ${i}`),
      '# a comment inside the block',
      `\tffff  Last Product${'.'.repeat(pad)}`,
      '0b0b  Next Vendor',
      '\tfffe  Next Vendor Product',
      '',
    ].join('\n');
  const firstLineEnd = text(0).indexOf('\n');
  const blockEndAt = (pad: number) => text(pad).indexOf('\n0b0b');
  const boundaries = [firstLineEnd + 4096, firstLineEnd + 4096 + 8192];

  it('ends each block where the next vendor begins, wherever that falls against the windows', () => {
    let checked = 0;
    for (const boundary of boundaries) {
      for (let at = boundary - 2; at <= boundary + 2; at += 1) {
        const pad = at - blockEndAt(0);
        expect(blockEndAt(pad)).toBe(at);
        const db = idsDatabase(Buffer.from(text(pad)));
        expect(db.product('0a0a', 'ffff'), `block end at ${at}`).toBe(`Last Product${'.'.repeat(pad)}`);
        expect(db.product('0a0a', '1000')).toBe('Product 0');
        expect(db.product('0a0a', 'fffe'), `block end at ${at}`).toBe('');
        expect(db.product('0b0b', 'fffe')).toBe('Next Vendor Product');
        expect(db.vendor('0b0b')).toBe('Next Vendor');
        checked += 1;
      }
    }
    expect(checked).toBe(10);
  });
});
