// IPv4/IPv6 address arithmetic for links: the subnet of "address/prefix", and containment.
import { isIPv4, isIPv6 } from 'node:net';

/** A parsed address: its family, bit width and value. */
export interface IpAddress {
  family: 'inet' | 'inet6';
  bits: 32 | 128;
  value: bigint;
}

/** Parses an IPv4 or IPv6 address (IPv6 may embed dotted IPv4); undefined when invalid. */
export function parseIp(text: string): IpAddress | undefined {
  if (isIPv4(text)) return { family: 'inet', bits: 32, value: v4Value(text) };
  if (!isIPv6(text) || text.includes('%')) return undefined;
  let hex = text;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    // An embedded IPv4 tail ("::ffff:10.0.0.1") stands for the last two groups.
    const v4 = v4Value(tail);
    hex = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const groups = (part: string): bigint[] => (part ? part.split(':').map((g) => BigInt(`0x${g}`)) : []);
  const gap = hex.indexOf('::');
  let all: bigint[];
  if (gap < 0) {
    all = groups(hex);
  } else {
    const left = groups(hex.slice(0, gap));
    const right = groups(hex.slice(gap + 2));
    all = [...left, ...new Array<bigint>(8 - left.length - right.length).fill(0n), ...right];
  }
  if (all.length !== 8) return undefined;
  return { family: 'inet6', bits: 128, value: all.reduce((acc, g) => (acc << 16n) | g, 0n) };
}

function v4Value(text: string): bigint {
  return text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

/** Formats an address value of the given family (IPv6 in RFC 5952 short form). */
export function formatIp(family: 'inet' | 'inet6', value: bigint): string {
  if (family === 'inet') return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  // The longest run (≥ 2) of zero groups becomes "::", the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** The network "a.b.c.d/p" containing `address` with prefix length `prefix`; undefined if invalid. */
export function networkOf(address: string, prefix: number): string | undefined {
  const ip = parseIp(address);
  if (!ip || !Number.isInteger(prefix) || prefix < 0 || prefix > ip.bits) return undefined;
  const hostBits = BigInt(ip.bits - prefix);
  const network = (ip.value >> hostBits) << hostBits;
  return `${formatIp(ip.family, network)}/${prefix}`;
}

/** True when `address` lies in the network `cidr` (same family). */
export function networkContains(cidr: string, address: string): boolean {
  const [base, prefixText] = cidr.split('/');
  const prefix = Number(prefixText);
  const net = base === undefined ? undefined : parseIp(base);
  const ip = parseIp(address);
  if (!net || !ip || net.family !== ip.family) return false;
  const hostBits = BigInt(net.bits - prefix);
  return ip.value >> hostBits === net.value >> hostBits;
}
