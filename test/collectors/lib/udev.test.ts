import { describe, expect, it } from 'vitest';
import { decodeUdevString, parseUdevData } from '../../../collectors/lib/udev.js';

describe('udev database parsing', () => {
  it('separates device links from properties', () => {
    const record = parseUdevData('S:disk/by-id/ata-X_1\nI:123\nE:ID_SERIAL_SHORT=1\nE:ID_PATH=pci-0000:00:1f.2-ata-1\n');
    expect(record.links).toEqual(['disk/by-id/ata-X_1']);
    expect(record.properties.get('ID_PATH')).toBe('pci-0000:00:1f.2-ata-1');
  });

  it('decodes \\x escapes, including multi-byte UTF-8', () => {
    expect(decodeUdevString('ZOO\\x20SATA\\x20SSD')).toBe('ZOO SATA SSD');
    expect(decodeUdevString('caf\\xc3\\xa9')).toBe('café');
  });
});
