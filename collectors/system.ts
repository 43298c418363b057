// resources.system: DMI strings from /sys/class/dmi/id and the virtualisation type.
import type { Host } from '../src/host/host.js';
import type { AreaReading, SystemResources } from '../src/resources/types.js';
import { readDmi, type DmiInfo } from './dmi.js';

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

/** Builds resources.system from DMI strings (undefined: the machine has no DMI at all). Pure. */
export function buildSystem(dmi: DmiInfo | undefined, type: string): SystemResources {
  const s = dmi?.system ?? {};
  const bios = dmi?.bios ?? {};
  const chassis = dmi?.chassis ?? {};
  const board = dmi?.board ?? {};
  return {
    uuid: s.uuid ?? '',
    vendor: s.vendor ?? '',
    product: s.product ?? '',
    family: s.family ?? '',
    version: s.version ?? '',
    sku: s.sku ?? '',
    serial: s.serial ?? '',
    type,
    firmware: dmi ? { vendor: bios.vendor ?? '', date: bios.date ?? '', version: bios.version ?? '' } : null,
    chassis: dmi
      ? { vendor: chassis.vendor ?? '', type: chassisTypeName(chassis.type === undefined ? undefined : String(chassis.type)), serial: chassis.serial ?? '', version: chassis.version ?? '' }
      : null,
    motherboard: dmi ? { vendor: board.vendor ?? '', product: board.product ?? '', serial: board.serial ?? '', version: board.version ?? '' } : null,
  };
}

/** Drops the root-only strings (serials, UUID): without root they are not this run's to report. Pure. */
export function withoutRootOnly(dmi: DmiInfo): DmiInfo {
  return {
    ...dmi,
    system: { ...dmi.system, serial: undefined, uuid: undefined },
    board: { ...dmi.board, serial: undefined },
    chassis: { ...dmi.chassis, serial: undefined },
  };
}

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

/** Reads resources.system (DMI from sysfs, or dmidecode as root); warnings say what was left empty. */
export async function readSystem(host: Host): Promise<AreaReading<SystemResources>> {
  const warnings: string[] = [];
  const [dmi, type] = await Promise.all([readDmi(host), systemType(host)]);
  if (dmi.source === 'none') {
    warnings.push(`system: ${DMI} is absent (no DMI on this platform): vendor, product and serials left empty`);
    return { value: buildSystem(undefined, type), warnings };
  }
  if (dmi.source === 'dmidecode') warnings.push(`system: ${DMI} is absent: DMI strings read with dmidecode`);
  if (!host.isRoot) warnings.push(`system: not running as root: ${ROOT_ONLY_DMI.join(', ')} left empty (partial data)`);
  return { value: buildSystem(host.isRoot ? dmi : withoutRootOnly(dmi), type), warnings };
}
