// Architecture, OS, hardware UUID, DMI metadata and the virtual tag (docs/protocol.md §7.2, §7.8).
import { HookError, optionalObject, optionalString, requireObject, requireString, type JsonObject } from './validate.js';

// Kernel machine names MAAS knows (provisioningserver's kernel_to_debian_architecture).
const DEBIAN_ARCH: Record<string, string> = {
  x86_64: 'amd64',
  i686: 'i386',
  aarch64: 'arm64',
  ppc64le: 'ppc64el',
  s390x: 's390x',
  mips: 'mips',
  mips64: 'mips64el',
};

// Ubuntu release numbers → codenames, for distro_series (MAAS stores Ubuntu by codename).
const UBUNTU_CODENAMES: Record<string, string> = {
  '4.10': 'warty', '5.04': 'hoary', '5.10': 'breezy', '6.06': 'dapper', '6.10': 'edgy',
  '7.04': 'feisty', '7.10': 'gutsy', '8.04': 'hardy', '8.10': 'intrepid', '9.04': 'jaunty',
  '9.10': 'karmic', '10.04': 'lucid', '10.10': 'maverick', '11.04': 'natty', '11.10': 'oneiric',
  '12.04': 'precise', '12.10': 'quantal', '13.04': 'raring', '13.10': 'saucy', '14.04': 'trusty',
  '14.10': 'utopic', '15.04': 'vivid', '15.10': 'wily', '16.04': 'xenial', '16.10': 'yakkety',
  '17.04': 'zesty', '17.10': 'artful', '18.04': 'bionic', '18.10': 'cosmic', '19.04': 'disco',
  '19.10': 'eoan', '20.04': 'focal', '20.10': 'groovy', '21.04': 'hirsute', '21.10': 'impish',
  '22.04': 'jammy', '22.10': 'kinetic', '23.04': 'lunar', '23.10': 'mantic', '24.04': 'noble',
  '24.10': 'oracular', '25.04': 'plucky', '25.10': 'questing', '26.04': 'resolute',
};

/**
 * The architecture after a report: `<debian arch>/generic`, keeping a more specific sub-arch the
 * machine already has for the same arch, then `machine-extra.platform` as the sub-arch.
 */
export function deriveArchitecture(environment: JsonObject, current: string, machineExtra: unknown): string {
  const kernelArch = requireString(environment.kernel_architecture, 'environment.kernel_architecture');
  const arch = Object.hasOwn(DEBIAN_ARCH, kernelArch) ? DEBIAN_ARCH[kernelArch] : undefined;
  if (arch === undefined) {
    throw new HookError(`unsupported kernel architecture '${kernelArch}' (MAAS knows ${Object.keys(DEBIAN_ARCH).join(', ')})`);
  }
  const [currentArch, currentSub] = current.split('/', 2);
  let result = currentArch === arch && currentSub && currentSub !== 'generic' ? `${arch}/${currentSub}` : `${arch}/generic`;
  const extra = optionalObject(machineExtra, 'machine-extra');
  const platform = optionalString(extra?.platform, 'machine-extra.platform');
  if (platform !== undefined) result = `${result.split('/', 1)[0]}/${platform}`;
  return result;
}

/** The OS a deployed machine reports: `{osystem, distroSeries}`, or null to leave them as they are. */
export function deriveOs(environment: JsonObject): { osystem: string; distroSeries: string } | null {
  const name = optionalString(environment.os_name, 'environment.os_name');
  const version = optionalString(environment.os_version, 'environment.os_version');
  if (!name || !version) return null;
  const osystem = name.toLowerCase();
  let distroSeries = version.toLowerCase();
  if (osystem === 'ubuntu') distroSeries = ubuntuCodename(distroSeries) ?? distroSeries;
  return { osystem, distroSeries };
}

/** The codename of an Ubuntu release given by number or codename; undefined when unknown. */
export function ubuntuCodename(release: string): string | undefined {
  if (Object.hasOwn(UBUNTU_CODENAMES, release)) return UBUNTU_CODENAMES[release];
  return Object.values(UBUNTU_CODENAMES).includes(release) ? release : undefined;
}

/** System facts from `resources.system`: metadata updates, hardware UUID, and the virtual flag. */
export interface SystemFacts {
  /** key → value to set, or null to delete the key. */
  metadata: Record<string, string | null>;
  hardwareUuid: string | null;
  virtual: boolean;
}

const UUID = /^[\da-f]{8}-?([\da-f]{4}-?){3}[\da-f]{12}$/i;

/** Parses `resources.system` (absent → every key deleted, no UUID, not virtual). */
export function parseSystem(resources: JsonObject): SystemFacts {
  const system = optionalObject(resources.system, 'resources.system') ?? {};
  const metadata: Record<string, string | null> = {};
  const set = (key: string, value: unknown, path: string): void => {
    const text = optionalString(value, path);
    // Vendors put placeholders in DMI fields they do not fill in.
    metadata[key] = !text || ['0123456789', 'none'].includes(text.toLowerCase()) ? null : text;
  };
  for (const field of ['vendor', 'product', 'family', 'version', 'sku', 'serial']) {
    set(`system_${field}`, system[field], `resources.system.${field}`);
  }
  const part = (key: string): JsonObject => {
    // LXD sometimes gives null for a whole part; MAAS treats anything but an object as empty.
    const value = system[key];
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? requireObject(value, `resources.system.${key}`) : {};
  };
  const board = part('motherboard');
  for (const field of ['vendor', 'product', 'serial', 'version']) set(`mainboard_${field}`, board[field], `resources.system.motherboard.${field}`);
  const firmware = part('firmware');
  for (const field of ['vendor', 'date', 'version']) set(`mainboard_firmware_${field}`, firmware[field], `resources.system.firmware.${field}`);
  const chassis = part('chassis');
  for (const field of ['vendor', 'type', 'serial', 'version']) set(`chassis_${field}`, chassis[field], `resources.system.chassis.${field}`);

  const uuid = optionalString(system.uuid, 'resources.system.uuid');
  const type = optionalString(system.type, 'resources.system.type');
  return {
    metadata,
    // Some vendors store a service tag as the UUID: anything not shaped like a UUID is dropped.
    hardwareUuid: uuid && UUID.test(uuid) ? uuid : null,
    virtual: Boolean(type) && type !== 'physical',
  };
}
