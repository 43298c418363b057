// `maas-serial-ports`: where each entry of /sys/class/tty leads (`readlink -f`), which tells MAAS
// which serial ports the machine has.
import type { Host } from '../src/host/host.js';
import type { DeployInfoCollector } from './types.js';
import { byteOrder, formatSortedUnique } from './list-modaliases.js';
import { posix } from 'node:path';
import { findEntries } from './sysfs-walk.js';

const TTY_CLASS = '/sys/class/tty';

/** The resolved path of every non-directory entry under /sys/class/tty, sorted and unique; read once per Host. */
export function readSerialPorts(host: Host): Promise<string[]> {
  return host.shared('serial-ports', () => walkSerialPorts(host));
}

async function walkSerialPorts(host: Host): Promise<string[]> {
  const entries = await findEntries(host, TTY_CLASS);
  // `readlink -f` needs every component but the last to exist; a dangling link is rare
  // (a port removed mid-walk) and is then printed as the link itself would point.
  const resolved = await Promise.all(entries.map(async (path) => (await host.resolve(path)) ?? (await resolveDangling(host, path))));
  return [...new Set(resolved)].sort(byteOrder);
}

async function resolveDangling(host: Host, path: string): Promise<string> {
  const target = await host.readLink(path);
  if (target === undefined) return path;
  const parent = (await host.resolve(posix.dirname(path))) ?? posix.dirname(path);
  return target.startsWith('/') ? posix.normalize(target) : posix.join(parent, target);
}

/** Upstream's support report leaves out virtual terminals and platform (legacy ISA) ports. */
export function isPhysicalPort(path: string): boolean {
  return !path.includes('devices/virtual') && !path.includes('devices/platform');
}

/** Answers `maas-serial-ports` (like upstream, it never fails for lack of ports). */
export const serialPortsCollector: DeployInfoCollector = {
  name: 'serial-ports',
  scripts: ['maas-serial-ports'],
  timeoutMs: 10_000,
  produce: async (host) => ({ stdout: formatSortedUnique(await readSerialPorts(host)), stderr: '', exitCode: 0 }),
};
