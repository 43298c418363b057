// Whether this host runs a MAAS controller (docs/design.md requirement 6, D17), read from the
// host's own files through a Host (an injectable root in tests): the `maas` snap's run mode, or
// the configuration files of the Debian packages. Only reads; nothing is run.
import type { Host } from '../src/host/host.js';

/** A MAAS controller role. */
export type ControllerRole = 'region' | 'rack';

/** What was found: the roles (region first) and the files that told. */
export interface ControllerDetection {
  roles: ControllerRole[];
  evidence: string[];
}

// The snap's run mode, written by `maas init`; "all" (older snaps) is region+rack with a database.
const SNAP_MODE = '/var/snap/maas/common/snap_mode';
const SNAP_ROLES: Record<string, ControllerRole[]> = {
  all: ['region', 'rack'],
  'region+rack': ['region', 'rack'],
  region: ['region'],
  rack: ['rack'],
  none: [],
};
// The snap's configuration ($SNAP_DATA), for a snap without a mode file.
const SNAP_PRESENT = ['/snap/maas/current', '/var/snap/maas/current'];
const SNAP_CONF: [ControllerRole, string][] = [
  ['region', '/var/snap/maas/current/regiond.conf'],
  ['rack', '/var/snap/maas/current/rackd.conf'],
];
// The Debian packages' configuration, and the packages that own it: a package removed without
// purging leaves its configuration behind, so when the dpkg database is there the package must be too.
const DEB_CONF: [ControllerRole, string, string[]][] = [
  ['region', '/etc/maas/regiond.conf', ['maas-region-api', 'maas-region-controller']],
  ['rack', '/etc/maas/rackd.conf', ['maas-rack-controller']],
];
const DPKG_INFO = '/var/lib/dpkg/info';

/** The MAAS controller roles this host runs, or undefined when it runs none. */
export async function detectController(host: Host): Promise<ControllerDetection | undefined> {
  const roles = new Set<ControllerRole>();
  const evidence: string[] = [];
  const mode = (await host.readOptional(SNAP_MODE))?.trim();
  if (mode !== undefined && mode !== '') {
    const fromMode = SNAP_ROLES[mode];
    if (fromMode && fromMode.length > 0) {
      for (const role of fromMode) roles.add(role);
      evidence.push(`${SNAP_MODE} (${mode})`);
    }
  } else if ((await Promise.all(SNAP_PRESENT.map((p) => host.exists(p)))).some(Boolean)) {
    for (const [role, path] of SNAP_CONF) {
      if (await host.exists(path)) {
        roles.add(role);
        evidence.push(path);
      }
    }
  }
  const dpkg = await host.isDirectory(DPKG_INFO);
  for (const [role, path, packages] of DEB_CONF) {
    if (!(await host.exists(path))) continue;
    if (dpkg && !(await Promise.all(packages.map((p) => host.exists(`${DPKG_INFO}/${p}.list`)))).some(Boolean)) continue;
    roles.add(role);
    evidence.push(path);
  }
  if (roles.size === 0) return undefined;
  return { roles: (['region', 'rack'] as const).filter((r) => roles.has(r)), evidence };
}

/** The workload annotation value naming the roles: region, rack or region+rack. */
export function controllerAnnotationValue(roles: readonly ControllerRole[]): string {
  return roles.join('+');
}
