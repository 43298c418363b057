// resources.system from a BMC (docs/protocol.md §6.6): the ComputerSystem's identity strings and
// BIOS version, the chassis that holds it, and the machine's name. Pure.
import type { AreaReading, SystemResources } from '../resources/types.js';
import { object, text, type Resource } from './fields.js';
import { linkPaths, type RedfishInventory } from './inventory.js';

/**
 * The machine's name: the BMC's HostName up to the first dot, else one made from the system's
 * serial number (or UUID). Never its display Name or Id: those are "System" or
 * "System.Embedded.1" on whole product lines, and register-machine finds machines by name.
 */
export function hostnameOf(system: Resource): string {
  const label = (raw: string | undefined) => (raw ?? '').split('.', 1)[0]!.replace(/[^A-Za-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  const fromHost = label(text(system.HostName));
  if (fromHost) return fromHost;
  const serial = label(text(system.SerialNumber)) || label(text(system.UUID));
  return serial ? `bmc-${serial.toLowerCase()}` : '';
}

// Redfish ChassisType → the SMBIOS names LXD reports; others pass through as Redfish names them.
const CHASSIS_TYPES: Record<string, string> = {
  RackMount: 'Rack Mount Chassis',
  Blade: 'Blade',
  Enclosure: 'Blade Enclosure',
  StandAlone: 'Main Server Chassis',
  Expansion: 'Expansion Chassis',
  Other: 'Other',
  Unknown: 'Unknown',
};

function systemOf(inventory: RedfishInventory): SystemResources {
  const s = inventory.system;
  const chassis =
    inventory.chassis.find((c) => linkPaths(object(c.Links)?.ComputerSystems).includes(inventory.systemPath)) ?? inventory.chassis[0];
  const chassisType = text(chassis?.ChassisType);
  const systemType = text(s.SystemType);
  return {
    uuid: text(s.UUID) ?? '',
    vendor: text(s.Manufacturer) ?? '',
    product: text(s.Model) ?? '',
    family: '',
    version: text(s.SubModel) ?? '',
    sku: text(s.SKU) ?? '',
    serial: text(s.SerialNumber) ?? '',
    type: systemType === 'Virtual' || systemType === 'VirtuallyPartitioned' ? 'virtual-machine' : 'physical',
    // The BIOS version string often carries its date ("P79 v1.45 (12/06/2017)"); it is kept whole.
    firmware: { vendor: '', date: '', version: text(s.BiosVersion) ?? '' },
    chassis: chassis
      ? {
          vendor: text(chassis.Manufacturer) ?? '',
          type: chassisType === undefined ? '' : Object.hasOwn(CHASSIS_TYPES, chassisType) ? CHASSIS_TYPES[chassisType]! : chassisType,
          serial: text(chassis.SerialNumber) ?? '',
          version: '',
        }
      : null,
    motherboard: null,
  };
}

/** resources.system: what the BMC tells of the system and its chassis. */
export function systemFromRedfish(inventory: RedfishInventory): AreaReading<SystemResources> {
  return { value: systemOf(inventory), warnings: [] };
}
