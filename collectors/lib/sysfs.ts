// Small readers shared by the sysfs collectors: numbers, links, device ancestry.
import { posix } from 'node:path';
import type { Host } from '../../src/host/host.js';

/** An unsigned integer file (decimal, or hex with 0x); undefined when absent or not a number. */
export async function readNumber(host: Host, path: string): Promise<number | undefined> {
  const text = await host.readOptional(path);
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

/** The last component of a symlink's target (driver names, iommu groups); undefined if no link. */
export async function linkName(host: Host, path: string): Promise<string | undefined> {
  const target = await host.readLink(path);
  return target === undefined ? undefined : posix.basename(target);
}

/** `numa_node` of a device when positive, else 0 (the kernel says -1 without NUMA). */
export async function numaNodeOf(host: Host, devicePath: string): Promise<number> {
  const node = await readNumber(host, `${devicePath}/numa_node`);
  return node !== undefined && node > 0 ? node : 0;
}

const PCI_ADDRESS = /^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f]$/;

/** True for a PCI address such as 0000:00:1f.2. */
export function isPciAddress(name: string): boolean {
  return PCI_ADDRESS.test(name);
}

/** The nearest PCI device at or above a resolved sysfs device path, as its address. */
export function pciAddressOf(resolvedPath: string): string | undefined {
  const parts = resolvedPath.split('/');
  for (let i = parts.length - 1; i >= 0; i--) if (isPciAddress(parts[i]!)) return parts[i];
  return undefined;
}

/** "bus:dev" of the nearest USB device at or above a resolved sysfs path, if any. */
export async function usbAddressOf(host: Host, resolvedPath: string): Promise<string | undefined> {
  let dir = resolvedPath;
  while (dir.startsWith('/sys/devices/') && dir.length > '/sys/devices/'.length) {
    const [bus, dev] = await Promise.all([readNumber(host, `${dir}/busnum`), readNumber(host, `${dir}/devnum`)]);
    if (bus !== undefined && dev !== undefined) return `${bus}:${dev}`;
    dir = posix.dirname(dir);
  }
  return undefined;
}

/** The bound driver's name and version (module version, else the running kernel's release). */
export async function driverOf(host: Host, devicePath: string, kernelRelease: string): Promise<{ driver: string; version: string }> {
  const driver = await linkName(host, `${devicePath}/driver`);
  if (driver === undefined) return { driver: '', version: '' };
  const version = (await host.readOptional(`${devicePath}/driver/module/version`)) || kernelRelease;
  return { driver, version };
}

/** Lower-case hex id without "0x" ("0x8086" → "8086"). */
export function hexId(text: string | undefined): string {
  return (text ?? '').trim().replace(/^0x/i, '').toLowerCase();
}
