// resources.pci: every device under /sys/bus/pci/devices, with names from pci.ids.
import type { Host } from '../src/host/host.js';
import type { AreaReading, PciDevice, PciResources } from '../src/resources/types.js';
import { loadIds } from './lib/ids.js';
import { driverOf, hexId, linkName, numaNodeOf } from './lib/sysfs.js';

export const SBP = '/sys/bus/pci/devices';

/** VPD keywords LXD keeps besides the vendor-specific V*, Y* and Z* ones. */
const VPD_KEYWORDS = new Set(['CC', 'EC', 'FC', 'FN', 'MN', 'NA', 'PN', 'RM', 'SN']);

/**
 * Parses PCI Vital Product Data (PCI 3.0, section 6.4): an identifier-string resource (0x82) then
 * read-only (0x90) / read-write (0x91) keyword lists, until the end tag (0x78). Pure.
 */
export function parseVpd(bytes: Uint8Array): { product_name?: string; entries?: Record<string, string> } {
  const result: { product_name?: string; entries?: Record<string, string> } = {};
  const entries: Record<string, string> = {};
  let at = 0;
  while (at < bytes.length) {
    const tag = bytes[at]!;
    if (tag === 0x78 || tag === 0x0f) break; // end tag (small resource)
    if ((tag & 0x80) === 0) break; // any other small resource: stop, as the format ends here
    if (at + 3 > bytes.length) break;
    const length = bytes[at + 1]! | (bytes[at + 2]! << 8);
    const body = bytes.subarray(at + 3, Math.min(bytes.length, at + 3 + length));
    if (tag === 0x82) result.product_name = Buffer.from(body).toString('latin1').trim();
    else if (tag === 0x90 || tag === 0x91) {
      let k = 0;
      while (k + 3 <= body.length) {
        const key = Buffer.from(body.subarray(k, k + 2)).toString('latin1');
        const len = body[k + 2]!;
        const value = Buffer.from(body.subarray(k + 3, k + 3 + len)).toString('latin1').replace(/\0+$/, '').trim();
        if (/^[VYZ]/.test(key) || VPD_KEYWORDS.has(key)) entries[key] = value;
        k += 3 + len;
      }
    }
    at += 3 + length;
  }
  const keys = Object.keys(entries).sort();
  if (keys.length > 0) result.entries = Object.fromEntries(keys.map((k) => [k, entries[k]!]));
  return result;
}

/** Runtime PM states in which the device is powered: "unsupported" means it never sleeps. */
const AWAKE = new Set(['active', 'unsupported']);

/**
 * The `vpd` file of an awake device (root only). Reading it is not a sysfs lookup: the kernel
 * fetches the data from the device (its EEPROM, through config space), first resuming the
 * device's parent bridge and, from D3cold, the device itself. A sleeping device keeps its sleep
 * and reports no VPD.
 */
async function readVpd(host: Host, dir: string): Promise<Buffer | undefined> {
  const status = await host.readOptional(`${dir}/power/runtime_status`);
  if (status !== undefined && !AWAKE.has(status)) return undefined;
  return host.readBytes(`${dir}/vpd`);
}

/** Reads one PCI device directory (also used for NIC and GPU cards). */
export async function readPciDevice(host: Host, address: string, kernelRelease: string): Promise<PciDevice> {
  const dir = `${SBP}/${address}`;
  const [ids, vendorText, deviceText, driver, numa, iommu, vpd] = await Promise.all([
    loadIds(host, 'pci.ids'),
    host.readOptional(`${dir}/vendor`),
    host.readOptional(`${dir}/device`),
    driverOf(host, dir, kernelRelease),
    numaNodeOf(host, dir),
    linkName(host, `${dir}/iommu_group`),
    host.isRoot ? readVpd(host, dir) : Promise.resolve(undefined),
  ]);
  const vendorId = hexId(vendorText);
  const productId = hexId(deviceText);
  return {
    driver: driver.driver,
    driver_version: driver.version,
    numa_node: numa,
    pci_address: address,
    vendor: ids.vendor(vendorId),
    vendor_id: vendorId,
    product: ids.product(vendorId, productId),
    product_id: productId,
    iommu_group: iommu !== undefined && /^\d+$/.test(iommu) ? Number(iommu) : 0,
    vpd: vpd && vpd.length > 0 ? parseVpd(vpd) : {},
  };
}

/** Reads resources.pci. */
export async function readPci(host: Host): Promise<AreaReading<PciResources>> {
  const [addresses, uname] = await Promise.all([host.list(SBP), host.uname()]);
  const devices = await Promise.all(addresses.map((a) => readPciDevice(host, a, uname.release)));
  return { value: { devices, total: devices.length }, warnings: [] };
}
