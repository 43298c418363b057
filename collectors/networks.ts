// The top-level `networks`: state of every kernel interface (addresses, counters, flags, and
// bond/bridge/VLAN relations), from /sys/class/net and /proc/net.
//
// The kernel gives IPv4 addresses only over netlink, which Node reaches through the C library's
// getifaddrs (os.networkInterfaces) on the running system; IPv6 addresses come from
// /proc/net/if_inet6. getifaddrs as libuv filters it hides interfaces that are up without a
// carrier, so when such an interface exists (and for any other root, such as a captured tree)
// `ip -j addr` (iproute2) is asked instead. IPv4 addresses on interfaces that are
// administratively down are reported only when `ip` is used.
import { networkInterfaces } from 'node:os';
import type { Host } from '../src/host/host.js';
import type { AreaReading, NetworkAddress, NetworkState } from '../src/resources/types.js';

const NET = '/sys/class/net';

const IFF_UP = 0x1;
const IFF_BROADCAST = 0x2;
const IFF_LOOPBACK = 0x8;
const IFF_POINTOPOINT = 0x10;

/** LXD's scope of an address: local (loopback), link (link-local) or global. Pure. */
export function addressScope(address: string): NetworkAddress['scope'] {
  const a = address.toLowerCase();
  if (a.startsWith('127.') || a === '::1') return 'local';
  if (a.startsWith('169.254.') || /^fe[89ab][0-9a-f]:/.test(a)) return 'link';
  return 'global';
}

/** Interface name → byte/packet counters, from /proc/net/dev. Pure. */
export function parseProcNetDev(text: string): Map<string, NetworkState['counters']> {
  const counters = new Map<string, NetworkState['counters']>();
  for (const line of text.split('\n')) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    if (f.length < 16) continue;
    counters.set(m[1]!, { bytes_received: f[0]!, bytes_sent: f[8]!, packets_received: f[1]!, packets_sent: f[9]! });
  }
  return counters;
}

/** Interface name → IPv6 addresses, from /proc/net/if_inet6. Pure. */
export function parseIfInet6(text: string): Map<string, NetworkAddress[]> {
  const byName = new Map<string, NetworkAddress[]>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || !/^[0-9a-f]{32}$/i.test(f[0]!)) continue;
    const groups = f[0]!.match(/.{4}/g)!.map((g) => g.replace(/^0+(?=.)/, ''));
    const address = compressIpv6(groups);
    const list = byName.get(f[5]!) ?? [];
    list.push({ family: 'inet6', address, netmask: String(parseInt(f[2]!, 16)), scope: addressScope(address) });
    byName.set(f[5]!, list);
  }
  return byName;
}

/** RFC 5952 text form of eight (already unpadded) hex groups. Pure. */
export function compressIpv6(groups: readonly string[]): string {
  let best = -1;
  let bestLength = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLength && j - i > 1) {
      best = i;
      bestLength = j - i;
    }
    i = j;
  }
  const lower = groups.map((g) => g.toLowerCase());
  if (best < 0) return lower.join(':');
  return `${lower.slice(0, best).join(':')}::${lower.slice(best + bestLength).join(':')}`;
}

interface IpAddrJson {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/** Interface name → addresses, from `ip -j addr` output. Pure. */
export function parseIpAddrJson(text: string): Map<string, NetworkAddress[]> {
  const byName = new Map<string, NetworkAddress[]>();
  for (const link of JSON.parse(text) as IpAddrJson[]) {
    const list: NetworkAddress[] = [];
    for (const a of link.addr_info ?? []) {
      if (a.family !== 'inet' && a.family !== 'inet6') continue;
      list.push({ family: a.family, address: a.local, netmask: String(a.prefixlen), scope: addressScope(a.local) });
    }
    byName.set(link.ifname, list);
  }
  return byName;
}

/** Interface name → {lower device, VLAN id}, from /proc/net/vlan/config. Pure. */
export function parseVlanConfig(text: string): Map<string, { lower_device: string; vid: number }> {
  const vlans = new Map<string, { lower_device: string; vid: number }>();
  for (const line of text.split('\n')) {
    const f = line.split('|').map((s) => s.trim());
    if (f.length === 3 && /^\d+$/.test(f[1]!)) vlans.set(f[0]!, { lower_device: f[2]!, vid: Number(f[1]) });
  }
  return vlans;
}

/** LXD's interface type from the kernel flags: loopback wins over point-to-point over broadcast. Pure. */
export function interfaceType(flags: number): NetworkState['type'] {
  if (flags & IFF_LOOPBACK) return 'loopback';
  if (flags & IFF_POINTOPOINT) return 'point-to-point';
  if (flags & IFF_BROADCAST) return 'broadcast';
  return 'unknown';
}

const firstWord = (s: string | undefined) => (s ?? '').split(/\s+/)[0] ?? '';
const toInt = (s: string | undefined) => (s !== undefined && /^-?\d+$/.test(s) ? Number(s) : 0);

async function readBond(host: Host, dir: string): Promise<NetworkState['bond']> {
  if (!(await host.isDirectory(`${dir}/bonding`))) return null;
  const read = (f: string) => host.readOptional(`${dir}/bonding/${f}`);
  const [mode, policy, up, down, miimon, mii, slaves] = await Promise.all(
    ['mode', 'xmit_hash_policy', 'updelay', 'downdelay', 'miimon', 'mii_status', 'slaves'].map(read),
  );
  const lower = (slaves ?? '').split(/\s+/).filter(Boolean);
  return {
    mode: firstWord(mode),
    transmit_policy: firstWord(policy),
    up_delay: toInt(up),
    down_delay: toInt(down),
    mii_frequency: toInt(miimon),
    mii_state: mii ?? '',
    lower_devices: lower.length > 0 ? lower : null,
  };
}

async function readBridge(host: Host, dir: string): Promise<NetworkState['bridge']> {
  if (!(await host.isDirectory(`${dir}/bridge`))) return null;
  const read = (f: string) => host.readOptional(`${dir}/bridge/${f}`);
  const [id, stp, delay, pvid, filtering, ports] = await Promise.all([
    read('bridge_id'),
    read('stp_state'),
    read('forward_delay'),
    read('default_pvid'),
    read('vlan_filtering'),
    host.list(`${dir}/brif`),
  ]);
  return {
    id: id ?? '',
    stp: (stp ?? '0') !== '0',
    forward_delay: toInt(delay),
    vlan_default: toInt(pvid),
    vlan_filtering: (filtering ?? '0') !== '0',
    upper_devices: ports.length > 0 ? ports : null,
  };
}

/** Addresses per interface, and a warning when some could not be read. */
async function readAddresses(host: Host, hiddenByLibc: boolean): Promise<{ byName: Map<string, NetworkAddress[]>; warning?: string }> {
  const inet6 = parseIfInet6((await host.readText('/proc/net/if_inet6')) ?? '');
  if (host.root === '/' && !hiddenByLibc) return { byName: withLocalIpv4(inet6) };
  const ip = await host.run('ip', ['-j', 'addr'], { timeoutMs: 5_000 });
  if (!ip.failed) {
    try {
      return { byName: parseIpAddrJson(ip.stdout) };
    } catch {
      // fall through to the kernel files
    }
  }
  if (host.root !== '/') return { byName: inet6, warning: 'networks: `ip` unavailable: IPv4 addresses left out (partial data)' };
  return { byName: withLocalIpv4(inet6), warning: 'networks: `ip` unavailable: IPv4 addresses of interfaces without carrier are missing (partial data)' };
}

/** Adds the running system's IPv4 addresses (getifaddrs) in front of the IPv6 ones. */
function withLocalIpv4(inet6: Map<string, NetworkAddress[]>): Map<string, NetworkAddress[]> {
  const byName = new Map(inet6);
  for (const [name, list] of Object.entries(networkInterfaces())) {
    const v4 = (list ?? []).filter((a) => a.family === 'IPv4' && a.cidr);
    const entries = v4.map((a): NetworkAddress => ({ family: 'inet', address: a.address, netmask: a.cidr!.split('/')[1]!, scope: addressScope(a.address) }));
    if (entries.length > 0) byName.set(name, [...entries, ...(byName.get(name) ?? [])]);
  }
  return byName;
}

/** Reads `networks`: one NetworkState per kernel interface, keyed (and sorted) by name. */
export async function readNetworks(host: Host): Promise<AreaReading<Record<string, NetworkState>>> {
  const [entries, devText, vlanText] = await Promise.all([host.list(NET), host.readText('/proc/net/dev'), host.readText('/proc/net/vlan/config')]);
  const counters = parseProcNetDev(devText ?? '');
  const vlans = parseVlanConfig(vlanText ?? '');
  // bonding_masters is a file in /sys/class/net, not an interface.
  const names = (await Promise.all(entries.map(async (n) => ((await host.isDirectory(`${NET}/${n}`)) ? n : undefined)))).filter(
    (n): n is string => n !== undefined,
  );
  const raw = await Promise.all(
    names.map(async (name) => {
      const dir = `${NET}/${name}`;
      const [flagsText, address, mtu, carrier, bond, bridge] = await Promise.all([
        host.readOptional(`${dir}/flags`),
        host.readOptional(`${dir}/address`),
        host.readOptional(`${dir}/mtu`),
        host.readOptional(`${dir}/carrier`),
        readBond(host, dir),
        readBridge(host, dir),
      ]);
      return { name, flags: flagsText ? parseInt(flagsText, 16) || 0 : 0, address, mtu, carrier, bond, bridge };
    }),
  );
  const addresses = await readAddresses(host, raw.some((r) => r.flags & IFF_UP && r.carrier !== '1'));
  const states = raw.map(({ name, flags, address, mtu, bond, bridge }): [string, NetworkState] => {
    const type = interfaceType(flags);
    return [
      name,
      {
        addresses: addresses.byName.get(name) ?? [],
        counters: counters.get(name) ?? { bytes_received: 0, bytes_sent: 0, packets_received: 0, packets_sent: 0 },
        hwaddr: type === 'loopback' || !address ? '' : address.toLowerCase(),
        mtu: toInt(mtu),
        state: flags & IFF_UP ? 'up' : 'down',
        type,
        bond,
        bridge,
        vlan: vlans.get(name) ?? null,
        ovn: null,
      },
    ];
  });
  states.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { value: Object.fromEntries(states), warnings: addresses.warning ? [addresses.warning] : [] };
}
