// Field validation for machine creation and listing: MAC spellings, hostnames, architectures,
// power types and booleans, with MAAS's error texts (docs/protocol.md §3.1, §3.2).
import { randomInt } from 'node:crypto';

/** Normalises a MAC to lower-case colon form; undefined when it is not a MAC MAAS accepts. */
export function normaliseMac(value: string): string | undefined {
  const text = value.trim();
  let groups: string[] | undefined;
  if (/^[0-9a-f]{1,2}([:-])[0-9a-f]{1,2}(\1[0-9a-f]{1,2}){4}$/i.test(text)) groups = text.split(/[:-]/);
  else if (/^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/i.test(text)) groups = text.replace(/\./g, '').match(/../g) ?? undefined;
  return groups?.map((g) => g.padStart(2, '0').toLowerCase()).join(':');
}

/** The architectures this server "has boot images for"; a value without "/" gets "/generic". */
export const ARCHITECTURES = ['amd64', 'arm64', 'armhf', 'i386', 'ppc64el', 's390x', 'riscv64'].map((a) => `${a}/generic`);

/** Returns the normalised architecture, or undefined when it is not one this server knows. */
export function normaliseArchitecture(value: string): string | undefined {
  const full = value.includes('/') ? value : `${value}/generic`;
  return ARCHITECTURES.includes(full) ? full : undefined;
}

/** Power drivers a machine may be given (MAAS's registered driver names). */
export const POWER_TYPES = [
  'amt', 'apc', 'dli', 'eaton', 'hmc', 'hmcz', 'ipmi', 'lxd', 'manual', 'moonshot', 'mscm', 'msftocs',
  'nova', 'openbmc', 'proxmox', 'raritan', 'recs_box', 'redfish', 'sm15k', 'ucsm', 'vmware', 'virsh',
  'webhook', 'wedge',
];

/**
 * Power types with which a machine needs no MAC. Upstream: only IPMI (and no power type at all for
 * a deployed machine). Extension (docs/design.md requirement 1, D14): `manual` too.
 */
export const MAC_OPTIONAL_POWER_TYPES = ['', 'manual', 'ipmi'];

/** Parses a boolean form value (formencode StringBool spellings); undefined when invalid. */
export function parseBool(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (['true', 't', 'yes', 'y', 'on', '1'].includes(v)) return true;
  if (['false', 'f', 'no', 'n', 'off', '0'].includes(v)) return false;
  return undefined;
}

/** Problems with a host label or FQDN; empty when valid. */
export function hostnameProblem(name: string): string | undefined {
  if (name.length > 255) return `Hostname is longer than 255 characters: use a shorter name.`;
  for (const label of name.split('.')) {
    if (label.length === 0 || label.length > 63) return `Invalid hostname: label '${label}' must be 1 to 63 characters long.`;
    if (!/^[A-Za-z0-9-]+$/.test(label)) return `Invalid hostname: label '${label}' may contain only letters, digits and '-'.`;
    if (label.startsWith('-') || label.endsWith('-')) return `Invalid hostname: label '${label}' cannot start or end with '-'.`;
  }
  return undefined;
}

/** True for host labels MAAS treats as DNS-derived from an IP (e.g. `10-0-0-5`) and replaces. */
export function looksIpDerived(label: string): boolean {
  return /^\d{1,3}(-\d{1,3}){3}$/.test(label);
}

const ADJECTIVES = ['amber', 'brave', 'calm', 'deft', 'eager', 'fair', 'glad', 'hardy', 'keen', 'lucid', 'merry', 'noble', 'prime', 'quick', 'sunny', 'tidy', 'vivid', 'witty'];
const NOUNS = ['badger', 'cedar', 'dove', 'falcon', 'gecko', 'heron', 'ibis', 'lynx', 'marten', 'newt', 'otter', 'puffin', 'quail', 'raven', 'stoat', 'tern', 'vole', 'wren'];

/** A random two-word host name, as MAAS gives machines created without a usable one. */
export function randomHostname(taken: (name: string) => boolean): string {
  for (;;) {
    const name = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${NOUNS[randomInt(NOUNS.length)]}`;
    const candidate = taken(name) ? `${name}-${randomInt(1000, 10000)}` : name;
    if (!taken(candidate)) return candidate;
  }
}
