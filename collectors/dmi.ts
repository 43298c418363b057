// DMI (SMBIOS) identity strings of the machine: read from /sys/class/dmi/id, which any user may
// read except the serials and UUID (root only); when that directory is missing and we run as
// root, from `dmidecode`. Absent or unreadable strings are undefined, never an error.
import type { Host } from '../src/host/host.js';
import { readDmidecode, type DmiRecord } from './dmidecode.js';

/** The DMI strings MAAS uses, grouped as SMBIOS groups them. */
export interface DmiInfo {
  /** Where the strings came from; "none" when neither source was available. */
  source: 'sysfs' | 'dmidecode' | 'none';
  bios: { vendor?: string; version?: string; date?: string; release?: string };
  system: { vendor?: string; product?: string; family?: string; version?: string; sku?: string; serial?: string; uuid?: string };
  board: { vendor?: string; product?: string; version?: string; serial?: string; assetTag?: string };
  /** `type` is the SMBIOS chassis type number (e.g. 17 "Main Server Chassis"). */
  chassis: { vendor?: string; type?: number; version?: string; serial?: string; assetTag?: string };
}

const DMI_DIR = '/sys/class/dmi/id';

/** The sysfs file behind each DmiInfo string. */
const SYSFS_FILES = {
  bios: { vendor: 'bios_vendor', version: 'bios_version', date: 'bios_date', release: 'bios_release' },
  system: { vendor: 'sys_vendor', product: 'product_name', family: 'product_family', version: 'product_version', sku: 'product_sku', serial: 'product_serial', uuid: 'product_uuid' },
  board: { vendor: 'board_vendor', product: 'board_name', version: 'board_version', serial: 'board_serial', assetTag: 'board_asset_tag' },
  chassis: { vendor: 'chassis_vendor', type: 'chassis_type', version: 'chassis_version', serial: 'chassis_serial', assetTag: 'chassis_asset_tag' },
} as const;

/** The dmidecode structure type and field behind each DmiInfo string. */
const DMIDECODE_FIELDS = {
  bios: [0, { vendor: 'Vendor', version: 'Version', date: 'Release Date', release: 'BIOS Revision' }],
  system: [1, { vendor: 'Manufacturer', product: 'Product Name', family: 'Family', version: 'Version', sku: 'SKU Number', serial: 'Serial Number', uuid: 'UUID' }],
  board: [2, { vendor: 'Manufacturer', product: 'Product Name', version: 'Version', serial: 'Serial Number', assetTag: 'Asset Tag' }],
  chassis: [3, { vendor: 'Manufacturer', version: 'Version', serial: 'Serial Number', assetTag: 'Asset Tag' }],
} as const;

/** dmidecode's placeholders for "the firmware left this string empty". */
const PLACEHOLDERS = new Set(['Not Specified', 'Not Present', 'Not Provided', 'Not Settable', 'To Be Filled By O.E.M.', 'Unknown', '']);

/** An empty string is as good as absent: firmware fills unused fields with nothing. */
function present(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** Reads the DMI strings from a /sys/class/dmi/id directory through the Host. */
export async function readSysfsDmi(host: Host): Promise<DmiInfo> {
  const read = async <G extends keyof typeof SYSFS_FILES>(group: G) => {
    const entries = await Promise.all(
      Object.entries(SYSFS_FILES[group]).map(async ([key, file]) => [key, present(await host.readOptional(`${DMI_DIR}/${file}`))] as const),
    );
    return Object.fromEntries(entries.filter(([, v]) => v !== undefined)) as Record<string, string>;
  };
  const [bios, system, board, chassis] = await Promise.all([read('bios'), read('system'), read('board'), read('chassis')]);
  const type = chassis.type === undefined ? undefined : Number.parseInt(chassis.type, 10);
  return {
    source: 'sysfs',
    bios,
    system,
    board,
    chassis: { ...chassis, type: Number.isFinite(type) ? type : undefined },
  };
}

/** Maps dmidecode's structures to DmiInfo, dropping its placeholders. Pure. */
export function dmiInfoFromRecords(records: readonly DmiRecord[]): DmiInfo {
  const pick = <G extends keyof typeof DMIDECODE_FIELDS>(group: G) => {
    const [type, fields] = DMIDECODE_FIELDS[group];
    const record = records.find((r) => r.type === type);
    const out: Record<string, string> = {};
    if (!record) return out;
    for (const [key, field] of Object.entries(fields)) {
      const value = record.fields[field];
      if (value !== undefined && !PLACEHOLDERS.has(value)) out[key] = value;
    }
    return out;
  };
  const chassisType = records.find((r) => r.type === 3)?.fields.Type;
  return {
    source: 'dmidecode',
    bios: pick('bios'),
    system: pick('system'),
    board: pick('board'),
    chassis: { ...pick('chassis'), type: chassisType === undefined ? undefined : chassisTypeNumber(chassisType) },
  };
}

/** SMBIOS chassis type names as dmidecode prints them, indexed by their number. */
const CHASSIS_TYPE_NAMES = [
  '', 'Other', 'Unknown', 'Desktop', 'Low Profile Desktop', 'Pizza Box', 'Mini Tower', 'Tower', 'Portable', 'Laptop',
  'Notebook', 'Hand Held', 'Docking Station', 'All In One', 'Sub Notebook', 'Space-saving', 'Lunch Box',
  'Main Server Chassis', 'Expansion Chassis', 'Sub Chassis', 'Bus Expansion Chassis', 'Peripheral Chassis',
  'RAID Chassis', 'Rack Mount Chassis', 'Sealed-case PC', 'Multi-system', 'CompactPCI', 'AdvancedTCA', 'Blade',
  'Blade Enclosing', 'Tablet', 'Convertible', 'Detachable', 'IoT Gateway', 'Embedded PC', 'Mini PC', 'Stick PC',
];

function chassisTypeNumber(name: string): number | undefined {
  const index = CHASSIS_TYPE_NAMES.indexOf(name);
  return index > 0 ? index : undefined;
}

/** The SMBIOS table the kernel exposes; dmidecode reads it from here instead of scanning /dev/mem. */
export const SMBIOS_TABLE = '/sys/firmware/dmi/tables/DMI';

/**
 * DMI strings: sysfs first; dmidecode (root only) when the kernel exposes the SMBIOS table but no
 * DMI directory. Without that table dmidecode would scan physical memory through /dev/mem, which
 * is not a read we make on a production host (and finds nothing on machines without SMBIOS).
 */
export async function readDmi(host: Host): Promise<DmiInfo> {
  if (await host.isDirectory(DMI_DIR)) return readSysfsDmi(host);
  if (!host.isRoot || !(await host.exists(SMBIOS_TABLE))) return { source: 'none', bios: {}, system: {}, board: {}, chassis: {} };
  const records = await readDmidecode(host);
  if (records && records.length > 0) return dmiInfoFromRecords(records);
  return { source: 'none', bios: {}, system: {}, board: {}, chassis: {} };
}
