// The udev database (/run/udev/data/<id>): device links (S:) and properties (E:).
import type { Host } from '../../src/host/host.js';

/** One device's udev record. */
export interface UdevRecord {
  /** Links under /dev, without the "/dev/" prefix (e.g. "disk/by-id/ata-…"). */
  links: string[];
  properties: Map<string, string>;
}

/** Parses a udev data file. Pure. */
export function parseUdevData(text: string): UdevRecord {
  const links: string[] = [];
  const properties = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('S:')) links.push(line.slice(2));
    else if (line.startsWith('E:')) {
      const eq = line.indexOf('=');
      if (eq > 2) properties.set(line.slice(2, eq), line.slice(eq + 1));
    }
  }
  return { links, properties };
}

/** Decodes udev's "\x20"-style escapes (ID_MODEL_ENC, ID_VENDOR_ENC). Pure. */
export function decodeUdevString(value: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const m = /^\\x([0-9a-fA-F]{2})/.exec(value.slice(i, i + 4));
    if (m) {
      bytes.push(parseInt(m[1]!, 16));
      i += 3;
    } else {
      bytes.push(...Buffer.from(value[i]!, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Reads the udev record of block device MAJ:MIN; undefined when udev has none (or is absent). */
export async function readBlockUdev(host: Host, device: string): Promise<UdevRecord | undefined> {
  const text = await host.readText(`/run/udev/data/b${device}`);
  return text === undefined ? undefined : parseUdevData(text);
}
