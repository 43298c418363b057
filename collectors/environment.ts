// The document's `environment`: kernel identity from uname, OS identity from os-release.
import type { Host } from '../src/host/host.js';
import type { AreaReading, ResourcesEnvironment } from '../src/resources/types.js';

/** The LXD version MAAS's machine-resources embeds; reported as server_version. */
export const EMBEDDED_LXD_VERSION = '6.9';

/** KEY=value pairs of an os-release or lsb-release file, quotes stripped. Pure. */
export function parseOsRelease(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) values.set(m[1]!, m[2]!.trim().replace(/^["']/, '').replace(/["']$/, ''));
  }
  return values;
}

/** os_name/os_version by LXD's rules (docs/protocol.md §6.1): os-release files skipping ubuntu-core, then lsb-release. Pure. */
export function osIdentity(osRelease: readonly (string | undefined)[], lsbRelease: string | undefined): { name: string; version: string } {
  for (const text of osRelease) {
    if (text === undefined) continue;
    const values = parseOsRelease(text);
    if (values.get('ID') === 'ubuntu-core') continue;
    return { name: (values.get('ID') ?? '').toLowerCase(), version: (values.get('VERSION_ID') ?? '').toLowerCase() };
  }
  if (lsbRelease === undefined) return { name: '', version: '' };
  const values = parseOsRelease(lsbRelease);
  return { name: (values.get('DISTRIB_ID') ?? '').toLowerCase(), version: (values.get('DISTRIB_RELEASE') ?? '').toLowerCase() };
}

/** Reads the environment block. */
export async function readEnvironment(host: Host): Promise<AreaReading<ResourcesEnvironment>> {
  const [uname, etc, usr, lsb] = await Promise.all([
    host.uname(),
    host.readText('/etc/os-release'),
    host.readText('/usr/lib/os-release'),
    host.readText('/etc/lsb-release'),
  ]);
  const os = osIdentity([etc, usr], lsb);
  const environment: ResourcesEnvironment = {
    kernel: uname.sysname,
    kernel_architecture: uname.machine,
    kernel_version: uname.release,
    os_name: os.name,
    os_version: os.version,
    server: 'maas-machine-resources',
    server_name: uname.nodename,
    server_version: EMBEDDED_LXD_VERSION,
  };
  return { value: environment, warnings: [] };
}
