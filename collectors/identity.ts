// This host's identity as register-machine sends it to MAAS (docs/design.md D4): the MACs of its
// physical NICs and its Debian architecture name. Reads through a Host so tests use fixture trees.
import type { Host } from '../src/host/host.js';

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/**
 * The permanent MACs of this host's physical network interfaces, lower-case, sorted, unique.
 * Physical = has a `device` link under /sys/class/net (virtual bonds, bridges, VLANs, veths
 * have none); SR-IOV virtual functions are left out (their MACs are usually assigned at
 * random). A bond slave's `address` is the bond's MAC, so its permanent one is read from
 * /proc/net/bonding/<bond> ("Permanent HW addr"), else from bonding_slave/perm_hwaddr.
 */
export async function physicalMacs(host: Host): Promise<string[]> {
  const permanentByBond = new Map<string, Map<string, string>>();
  const macs = new Set<string>();
  for (const name of await host.list('/sys/class/net')) {
    const dir = `/sys/class/net/${name}`;
    if (!(await host.exists(`${dir}/device`))) continue;
    if (await host.exists(`${dir}/device/physfn`)) continue;
    const type = await host.readOptional(`${dir}/type`);
    if (type !== undefined && type !== '1') continue; // ARPHRD_ETHER only: MAAS takes 6-byte MACs
    let mac = await permanentSlaveMac(host, name, permanentByBond);
    mac ??= (await host.readOptional(`${dir}/address`))?.toLowerCase();
    if (mac && MAC.test(mac) && mac !== '00:00:00:00:00:00') macs.add(mac);
  }
  return [...macs].sort();
}

async function permanentSlaveMac(host: Host, name: string, cache: Map<string, Map<string, string>>): Promise<string | undefined> {
  const dir = `/sys/class/net/${name}`;
  if (!(await host.exists(`${dir}/bonding_slave`))) return undefined;
  const master = (await host.readLink(`${dir}/master`))?.split('/').pop();
  if (master) {
    if (!cache.has(master)) cache.set(master, parseBondingPermanentMacs((await host.readText(`/proc/net/bonding/${master}`)) ?? ''));
    const fromProc = cache.get(master)!.get(name);
    if (fromProc) return fromProc;
  }
  return (await host.readOptional(`${dir}/bonding_slave/perm_hwaddr`))?.toLowerCase();
}

/** Slave interface → permanent MAC, from the text of /proc/net/bonding/<bond>. */
export function parseBondingPermanentMacs(text: string): Map<string, string> {
  const result = new Map<string, string>();
  let slave: string | undefined;
  for (const line of text.split('\n')) {
    const [key, ...rest] = line.split(':');
    const value = rest.join(':').trim();
    if (key?.trim() === 'Slave Interface') slave = value;
    else if (key?.trim() === 'Permanent HW addr' && slave) result.set(slave, value.toLowerCase());
  }
  return result;
}

// uname -m → Debian architecture, as MAAS's machine-resources script maps it, plus the other
// names the kernel reports for the same Debian ports.
const DEBIAN_ARCH: Record<string, string> = {
  x86_64: 'amd64',
  amd64: 'amd64',
  aarch64: 'arm64',
  arm64: 'arm64',
  i386: 'i386',
  i486: 'i386',
  i586: 'i386',
  i686: 'i386',
  armv7l: 'armhf',
  armv8l: 'armhf',
  ppc64le: 'ppc64el',
  s390x: 's390x',
  riscv64: 'riscv64',
  mips: 'mips',
  mips64: 'mips64el',
};

/** The Debian architecture name for a `uname -m` value (x86_64 → amd64), or undefined if unknown. */
export function debianArchitecture(unameMachine: string): string | undefined {
  return DEBIAN_ARCH[unameMachine.trim()];
}

/**
 * This machine's hardware UUID (SMBIOS system UUID, as /sys/class/dmi/id/product_uuid gives it,
 * readable by root only), lower-case; undefined when the kernel does not tell or we may not read.
 */
export async function hardwareUuidOf(host: Host): Promise<string | undefined> {
  const text = (await host.readOptional('/sys/class/dmi/id/product_uuid'))?.trim().toLowerCase();
  return text ? text : undefined;
}
