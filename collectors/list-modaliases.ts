// `maas-list-modaliases`: every device's modalias (the string udev matches kernel modules
// against), read from the `modalias` files under /sys/devices. MAAS's hook on this output tags
// the machine by the hardware it finds.
import type { Host } from '../src/host/host.js';
import type { DeployInfoCollector } from './types.js';
import { findEntries } from './sysfs-walk.js';

/** Every modalias line under /sys/devices, in no particular order, duplicates kept; read once per Host. */
export function readModaliases(host: Host): Promise<string[]> {
  return host.shared('modaliases', () => walkModaliases(host));
}

async function walkModaliases(host: Host): Promise<string[]> {
  const files = await findEntries(host, '/sys/devices', { accept: (name) => name === 'modalias', skipDevicePower: true, skipMemoryBlocks: true });
  const texts = await Promise.all(files.map((file) => host.readText(file)));
  return texts.flatMap((text) => (text ?? '').split('\n').filter((line) => line !== ''));
}

/**
 * Byte-order comparison of the strings' UTF-8 bytes, as `sort` sorts with LC_ALL=C. UTF-8 keeps
 * the order of code points, which is that of the UTF-16 units everywhere but at surrogates, so
 * the units are compared directly (a sort makes thousands of comparisons, and encoding both
 * strings for each was most of its cost); at a surrogate the bytes themselves are compared.
 */
export function byteOrder(a: string, b: string): number {
  const shorter = Math.min(a.length, b.length);
  for (let i = 0; i < shorter; i += 1) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (isSurrogate(x) || isSurrogate(y)) return byBytes(a, b);
    return x < y ? -1 : 1;
  }
  if (a.length === b.length) return 0;
  // A lone surrogate at the end of the shorter string is encoded differently from a pair.
  if (shorter > 0 && isSurrogate(a.charCodeAt(shorter - 1))) return byBytes(a, b);
  return a.length < b.length ? -1 : 1;
}

function isSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdfff;
}

function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The lines sorted and de-duplicated (`sort -u`), one per line with a final newline. */
export function formatSortedUnique(lines: readonly string[]): string {
  const unique = [...new Set(lines)].sort(byteOrder);
  return unique.map((line) => `${line}\n`).join('');
}

/** The lines sorted and counted (`sort | uniq -c`): the count right-aligned in 7 columns. */
export function formatCounts(lines: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const line of lines) counts.set(line, (counts.get(line) ?? 0) + 1);
  return [...counts.keys()]
    .sort(byteOrder)
    .map((line) => `${String(counts.get(line)).padStart(7)} ${line}\n`)
    .join('');
}

/** Answers `maas-list-modaliases`. */
export const listModaliasesCollector: DeployInfoCollector = {
  name: 'modaliases',
  scripts: ['maas-list-modaliases'],
  timeoutMs: 10_000,
  produce: async (host) => ({ stdout: formatSortedUnique(await readModaliases(host)), stderr: '', exitCode: 0 }),
};
