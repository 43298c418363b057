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
