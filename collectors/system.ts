// resources.system: DMI strings from /sys/class/dmi/id and the virtualisation type.
import type { Host } from '../src/host/host.js';
import type { SystemResources } from '../src/maas/types.js';
import type { Collector } from './types.js';

const DMI = '/sys/class/dmi/id';

/** DMI files that only root may read (mode 0400). */
export const ROOT_ONLY_DMI = ['product_uuid', 'product_serial', 'board_serial', 'chassis_serial'] as const;

/** SMBIOS chassis type numbers (DMTF DSP0134, table 17) and the names LXD reports for them. */
const CHASSIS_TYPES: readonly string[] = [
  '', 'Other', 'Unknown', 'Desktop', 'Low Profile Desktop', 'Pizza Box', 'Mini Tower', 'Tower', 'Portable', 'Laptop',
  'Notebook', 'Hand Held', 'Docking Station', 'All in One', 'Sub Notebook', 'Space-saving', 'Lunch Box',
  'Main Server Chassis', 'Expansion Chassis', 'SubChassis', 'Bus Expansion Chassis', 'Peripheral Chassis', 'RAID Chassis',
  'Rack Mount Chassis', 'Sealed-case PC', 'Multi-system chassis', 'Compact PCI', 'Advanced TCA', 'Blade', 'Blade Enclosure',
  'Tablet', 'Convertible', 'Detachable', 'IoT Gateway', 'Embedded PC', 'Mini PC', 'Stick PC',
];

/** The chassis type name for an SMBIOS number ("23" → "Rack Mount Chassis"); "" when unknown. Pure. */
export function chassisTypeName(value: string | undefined): string {
  if (value === undefined || !/^\d+$/.test(value.trim())) return '';
  return CHASSIS_TYPES[Number(value)] ?? '';
}

/** Container names systemd-detect-virt prints (everything else it prints, bar "none", is a VM). */
const CONTAINERS = new Set(['openvz', 'lxc', 'lxc-libvirt', 'systemd-nspawn', 'docker', 'podman', 'rkt', 'wsl', 'proot', 'pouch']);

/**
 * Maps `systemd-detect-virt` output to LXD's system type. One call answers both of LXD's
 * questions (--container, then --vm), because the tool itself checks containers first. Pure.
 */
export function virtType(result: { notFound: boolean; stdout: string }): string {
  if (result.notFound) return 'unknown';
  const name = result.stdout.trim();
  if (name === '' || name === 'none') return 'physical';
  return CONTAINERS.has(name) ? 'container' : 'virtual-machine';
}

/** Builds resources.system from DMI file contents (undefined = absent). Pure. */
export function buildSystem(dmi: ReadonlyMap<string, string | undefined> | undefined, type: string): SystemResources {
  const get = (k: string) => dmi?.get(k)?.trim() ?? '';
  return {
    uuid: get('product_uuid'),
    vendor: get('sys_vendor'),
    product: get('product_name'),
    family: get('product_family'),
    version: get('product_version'),
    sku: get('product_sku'),
    serial: get('product_serial'),
    type,
    firmware: dmi ? { vendor: get('bios_vendor'), date: get('bios_date'), version: get('bios_version') } : null,
    chassis: dmi ? { vendor: get('chassis_vendor'), type: chassisTypeName(dmi.get('chassis_type')), serial: get('chassis_serial'), version: get('chassis_version') } : null,
    motherboard: dmi ? { vendor: get('board_vendor'), product: get('board_name'), serial: get('board_serial'), version: get('board_version') } : null,
  };
}

const DMI_FILES = [
  'product_uuid', 'sys_vendor', 'product_name', 'product_family', 'product_version', 'product_sku', 'product_serial',
  'bios_vendor', 'bios_date', 'bios_version', 'chassis_vendor', 'chassis_type', 'chassis_serial', 'chassis_version',
  'board_vendor', 'board_name', 'board_serial', 'board_version',
];

/**
 * Files that container managers create (and that systemd-detect-virt checks too), with the
 * manager's name: when one exists the answer is "container" without starting the tool.
 */
export const CONTAINER_MARKERS: readonly [path: string, name: string][] = [
  ['/run/systemd/container', 'systemd'],
  ['/run/host/container-manager', 'systemd'],
  ['/.dockerenv', 'docker'],
  ['/run/.containerenv', 'podman'],
  ['/proc/vz/veinfo', 'openvz'],
];

/** LXD's system type: a container marker file when present, else systemd-detect-virt's answer. */
export async function systemType(host: Host): Promise<string> {
  const marked = await Promise.all(CONTAINER_MARKERS.map(([path]) => host.exists(path)));
  if (marked.some(Boolean)) return 'container';
  return virtType(await host.run('systemd-detect-virt', [], { timeoutMs: 5_000 }));
}

/** Reads resources.system; warnings say which root-only strings were left empty. */
export async function readSystem(host: Host): Promise<{ system: SystemResources; warnings: string[] }> {
  const warnings: string[] = [];
  const [present, type] = await Promise.all([host.isDirectory(DMI), systemType(host)]);
  if (!present) {
    warnings.push(`system: ${DMI} is absent (no DMI on this platform): vendor, product and serials left empty`);
    return { system: buildSystem(undefined, type), warnings };
  }
  const rootOnly = new Set<string>(ROOT_ONLY_DMI);
  const values = await Promise.all(
    DMI_FILES.map(async (f) => [f, host.isRoot || !rootOnly.has(f) ? await host.readOptional(`${DMI}/${f}`) : undefined] as const),
  );
  if (!host.isRoot) warnings.push(`system: not running as root: ${ROOT_ONLY_DMI.join(', ')} left empty (partial data)`);
  return { system: buildSystem(new Map(values), type), warnings };
}

/** Collector form of readSystem. */
export const systemCollector: Collector<SystemResources> = { name: 'system', collect: async (host) => (await readSystem(host)).system };
