// `dmidecode`: the SMBIOS table decoded by the tool, for root only (it reads the raw table, which
// the kernel exposes to root alone). A pure parser of its text output plus a thin wrapper.
import type { Host } from '../src/host/host.js';
import { ParseError } from '../src/errors.js';

/** One SMBIOS structure as dmidecode prints it. */
export interface DmiRecord {
  /** e.g. "0x0100" */
  handle: string;
  /** SMBIOS structure type: 0 BIOS, 1 system, 2 baseboard, 3 chassis, 4 processor, ... */
  type: number;
  /** The line under the handle, e.g. "System Information". */
  title: string;
  /** "Key: value" lines, by key (the first occurrence wins). */
  fields: Record<string, string>;
  /** "Key:" lines followed by indented items (e.g. Characteristics), by key. */
  lists: Record<string, string[]>;
}

const HANDLE_LINE = /^Handle (0x[0-9A-Fa-f]+), DMI type (\d+), \d+ bytes$/;

/** Parses `dmidecode` (or `dmidecode --from-dump FILE`) text. Pure: tests pass captured text. */
export function parseDmidecode(text: string): DmiRecord[] {
  const records: DmiRecord[] = [];
  let current: DmiRecord | undefined;
  let expectTitle = false;
  let listKey: string | undefined;
  for (const line of text.split('\n')) {
    const handle = HANDLE_LINE.exec(line);
    if (handle) {
      current = { handle: handle[1]!, type: Number(handle[2]), title: '', fields: {}, lists: {} };
      records.push(current);
      expectTitle = true;
      listKey = undefined;
      continue;
    }
    if (!current) continue; // the preamble: version, entry point, table address
    if (line.trim() === '') {
      current = undefined;
      continue;
    }
    if (expectTitle) {
      current.title = line.trim();
      expectTitle = false;
      continue;
    }
    if (line.startsWith('\t\t')) {
      if (listKey !== undefined) current.lists[listKey]!.push(line.trim());
      continue;
    }
    if (!line.startsWith('\t')) continue; // not part of a record body
    const body = line.slice(1);
    const colon = body.indexOf(':');
    if (colon < 0) continue;
    const key = body.slice(0, colon);
    const value = body.slice(colon + 1).trim();
    if (value === '') {
      listKey = key;
      current.lists[key] ??= [];
    } else {
      listKey = undefined;
      if (!(key in current.fields)) current.fields[key] = value;
    }
  }
  if (text.trim() !== '' && records.length === 0 && !/No SMBIOS nor DMI entry point found/.test(text)) {
    throw new ParseError('dmidecode output', 'no "Handle 0x..., DMI type N" record found');
  }
  return records;
}

/**
 * The `dmidecode -s KEYWORD` keywords upstream's support script reports as DMI KEYPAIRS, with
 * the structure type and field each one reads.
 */
export const DMI_KEYWORDS: readonly (readonly [keyword: string, type: number, field: string])[] = [
  ['bios-vendor', 0, 'Vendor'],
  ['bios-version', 0, 'Version'],
  ['bios-release-date', 0, 'Release Date'],
  ['system-manufacturer', 1, 'Manufacturer'],
  ['system-product-name', 1, 'Product Name'],
  ['system-version', 1, 'Version'],
  ['system-serial-number', 1, 'Serial Number'],
  ['system-uuid', 1, 'UUID'],
  ['baseboard-manufacturer', 2, 'Manufacturer'],
  ['baseboard-product-name', 2, 'Product Name'],
  ['baseboard-version', 2, 'Version'],
  ['baseboard-serial-number', 2, 'Serial Number'],
  ['baseboard-asset-tag', 2, 'Asset Tag'],
  ['chassis-manufacturer', 3, 'Manufacturer'],
  ['chassis-type', 3, 'Type'],
  ['chassis-version', 3, 'Version'],
  ['chassis-serial-number', 3, 'Serial Number'],
  ['chassis-asset-tag', 3, 'Asset Tag'],
  ['processor-family', 4, 'Family'],
  ['processor-manufacturer', 4, 'Manufacturer'],
  ['processor-version', 4, 'Version'],
  ['processor-frequency', 4, 'Current Speed'],
];

/**
 * The value `dmidecode -s KEYWORD` would give for each keyword: one value per matching
 * structure (several processors give several), joined by single spaces as the upstream script's
 * `$(echo $value)` does; "" when no structure of that type exists.
 */
export function dmiKeypairs(records: readonly DmiRecord[]): [keyword: string, value: string][] {
  return DMI_KEYWORDS.map(([keyword, type, field]) => {
    const values = records.filter((r) => r.type === type).map((r) => r.fields[field] ?? '');
    return [keyword, values.join(' ').replace(/\s+/g, ' ').trim()];
  });
}

/**
 * Runs `dmidecode` when the host runs as root; undefined when not root or the tool fails. Callers
 * first check that the kernel exposes the SMBIOS table (dmi.ts): without it dmidecode scans /dev/mem.
 */
export async function readDmidecode(host: Host, timeoutMs = 20_000): Promise<DmiRecord[] | undefined> {
  if (!host.isRoot) return undefined;
  const result = await host.run('dmidecode', [], { timeoutMs });
  if (result.failed) return undefined;
  return parseDmidecode(result.stdout);
}
