// Typed reads of the untrusted JSON a BMC sends, and the names made from Redfish resource paths,
// shared by the area mappings of src/redfish. Pure.

export type Resource = Record<string, unknown>;

export function object(value: unknown): Resource | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Resource) : undefined;
}

export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A non-empty trimmed string, else undefined. */
export function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** A finite non-negative number (bigints from the exact parser included), else undefined. */
export function count(value: unknown): number | undefined {
  if (typeof value === 'bigint') return value >= 0n ? Number(value) : undefined;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

export function pathOf(resource: Resource): string {
  return typeof resource['@odata.id'] === 'string' ? resource['@odata.id'] : '';
}

export function present(resource: Resource): boolean {
  return object(resource.Status)?.State !== 'Absent';
}

/** A name MAAS accepts for an interface or disk: letters, digits, `.`, `_`, `:` and `-`. */
function safeName(label: string): string {
  return label.replace(/[^A-Za-z0-9._:-]+/g, '_').replace(/^_+|_+$/g, '') || 'x';
}

/**
 * Names for resources keyed by path: the last path segment where that is unique, else the whole
 * path below /redfish/v1 (a drive "0" under two controllers). Stable while the hardware is.
 */
export function uniqueNames(keys: readonly { path: string; label: string }[]): string[] {
  const short = keys.map((k) => safeName(k.label));
  const taken = new Map<string, number>();
  for (const name of short) taken.set(name, (taken.get(name) ?? 0) + 1);
  return keys.map((k, i) => {
    const name = short[i]!;
    if (taken.get(name) === 1) return name;
    return safeName(k.path.replace(/^\/redfish\/v1\//, '').replace(/\//g, '-'));
  });
}
