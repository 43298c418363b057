// What changed in a machine's hardware between two machine-resources documents (docs/design.md
// D18), in words an operator reads: CPUs, memory, disks, NICs, PCI and USB devices added,
// removed or changed. Values that move on an idle machine are taken out first (normalise.ts), and
// only what describes hardware is compared: no addresses, link state, partitions or counters.
// Pure functions: documents in, changes out.
import type { Disk, MachineResources, NetworkCard, PciDevice, UsbDevice } from '../resources/types.js';
import { normaliseResources } from './normalise.js';

/** The area a change is in. */
export type ChangeArea = 'cpu' | 'memory' | 'disk' | 'nic' | 'pci' | 'usb' | 'system';

/** One change, as `diff --json` gives it. */
export interface HardwareChange {
  area: ChangeArea;
  change: 'added' | 'removed' | 'changed';
  /** What the operator knows it by: sdb, eth1, 0000:03:00.0, … */
  name: string;
  /** The whole change in words, e.g. "disk sdb added (500 GB)". */
  text: string;
  /** For a change: each field that differs, before and after. */
  fields?: Record<string, { before: string | number | boolean | null; after: string | number | boolean | null }>;
}

type Scalar = string | number | boolean | null;

/** A thing of one area, keyed by what stays the same while it stays in the machine. */
interface Item {
  key: string;
  name: string;
  /** Shown in brackets after "added" or "removed". */
  detail: string;
  /** The fields compared when it is in both documents, with their labels. */
  fields: Record<string, Scalar>;
}

/** Parses a machine-resources document's text, without its idle-moving values; undefined when it is not one. */
export function parseResources(text: string): MachineResources | undefined {
  try {
    const value = JSON.parse(normaliseResources(text)) as unknown;
    if (typeof value !== 'object' || value === null || typeof (value as { resources?: unknown }).resources !== 'object') return undefined;
    return value as MachineResources;
  } catch {
    return undefined;
  }
}

/** The changes from `before` (what MAAS holds) to `after` (what this host reads now). */
export function hardwareChanges(before: MachineResources, after: MachineResources): HardwareChange[] {
  return [
    ...compare('cpu', cpuItems(before), cpuItems(after)),
    ...compare('memory', memoryItems(before), memoryItems(after)),
    ...compare('disk', diskItems(before), diskItems(after)),
    ...compare('nic', nicItems(before), nicItems(after)),
    ...compare('pci', pciItems(before), pciItems(after)),
    ...compare('usb', usbItems(before), usbItems(after)),
    ...compare('system', systemItems(before), systemItems(after)),
  ];
}

/** The one-line summary report-results prints: "changes: disk sdb added (500 GB); NIC eth1 removed" or "no hardware changes". */
export function changeSummary(changes: readonly HardwareChange[]): string {
  return changes.length === 0 ? 'no hardware changes' : `changes: ${changes.map((c) => c.text).join('; ')}`;
}

const AREA_WORD: Record<ChangeArea, string> = { cpu: 'CPU', memory: 'memory', disk: 'disk', nic: 'NIC', pci: 'PCI device', usb: 'USB device', system: 'system' };

function compare(area: ChangeArea, before: Item[], after: Item[]): HardwareChange[] {
  const changes: HardwareChange[] = [];
  const old = new Map(before.map((item) => [item.key, item]));
  const now = new Map(after.map((item) => [item.key, item]));
  const word = AREA_WORD[area];
  for (const item of before) {
    if (!now.has(item.key)) changes.push({ area, change: 'removed', name: item.name, text: `${word} ${item.name} removed${item.detail ? ` (${item.detail})` : ''}` });
  }
  for (const item of after) {
    const was = old.get(item.key);
    if (!was) {
      changes.push({ area, change: 'added', name: item.name, text: `${word} ${item.name} added${item.detail ? ` (${item.detail})` : ''}` });
      continue;
    }
    const fields: NonNullable<HardwareChange['fields']> = {};
    for (const label of new Set([...Object.keys(was.fields), ...Object.keys(item.fields)])) {
      const a = was.fields[label] ?? null;
      const b = item.fields[label] ?? null;
      if (a !== b) fields[label] = { before: a, after: b };
    }
    const labels = Object.keys(fields);
    if (labels.length === 0) continue;
    const what = labels.map((label) => `${label} ${show(fields[label]!.before)} → ${show(fields[label]!.after)}`).join(', ');
    // The memory and CPU areas have one item each, named by the area itself.
    const subject = item.name === '' ? word : `${word} ${item.name}`;
    changes.push({ area, change: 'changed', name: item.name || word, text: `${subject} changed: ${what}`, fields });
  }
  return changes;
}

function show(value: Scalar): string {
  if (value === null || value === '') return 'none';
  return String(value);
}

function cpuItems(doc: MachineResources): Item[] {
  const cpu = doc.resources?.cpu;
  if (!cpu) return [];
  const sockets = cpu.sockets ?? [];
  const cores = sockets.reduce((n, s) => n + (s.cores?.length ?? 0), 0);
  const models = [...new Set(sockets.map((s) => s.name ?? '').filter(Boolean))].join(' + ');
  return [{ key: 'cpu', name: '', detail: '', fields: { threads: cpu.total ?? 0, cores, sockets: sockets.length, model: models || null } }];
}

function memoryItems(doc: MachineResources): Item[] {
  const memory = doc.resources?.memory;
  if (!memory) return [];
  return [{ key: 'memory', name: '', detail: '', fields: { total: gib(memory.total ?? 0), 'NUMA nodes': memory.nodes?.length ?? 0 } }];
}

function diskItems(doc: MachineResources): Item[] {
  const disks: Disk[] = doc.resources?.storage?.disks ?? [];
  return keyed(
    disks.map((disk) => ({
      // The kernel's name can move between boots; a disk's own identity cannot.
      key: disk.wwn || disk.serial ? `id:${disk.wwn ?? ''}/${disk.serial ?? ''}` : `name:${disk.id}`,
      name: disk.id,
      detail: [bytes(disk.size), disk.model].filter(Boolean).join(', '),
      fields: { name: disk.id, size: bytes(disk.size), model: disk.model ?? null, firmware: disk.firmware_version ?? null, type: disk.type ?? null, 'read-only': disk.read_only, removable: disk.removable },
    })),
  ).map((item) => ({ ...item, fields: item.key.startsWith('name:') ? withoutName(item.fields) : item.fields }));
}

function withoutName(fields: Record<string, Scalar>): Record<string, Scalar> {
  const { name: _name, ...rest } = fields;
  return rest;
}

/** One item per port of each physical network card (a card without ports is one item by its bus address). */
function nicItems(doc: MachineResources): Item[] {
  const cards: NetworkCard[] = doc.resources?.network?.cards ?? [];
  const items: Item[] = [];
  for (const card of cards) {
    const where = card.pci_address ?? card.usb_address ?? '';
    const product = [card.vendor, card.product].filter(Boolean).join(' ');
    const common = { driver: card.driver ?? null, 'driver version': card.driver_version ?? null, firmware: card.firmware_version ?? null, product: product || null };
    const ports = card.ports ?? [];
    if (ports.length === 0) {
      items.push({ key: `card:${where}`, name: where || 'card', detail: product, fields: common });
      continue;
    }
    for (const port of ports) {
      items.push({
        // A port's MAC is its identity; a renamed interface is the same NIC.
        key: port.address ? `mac:${port.address.toLowerCase()}` : `port:${where}/${port.port}`,
        name: port.id,
        detail: [port.address, product].filter(Boolean).join(', '),
        fields: { name: port.id, ...common, 'bus address': where || null },
      });
    }
  }
  return keyed(items);
}

function pciItems(doc: MachineResources): Item[] {
  const devices: PciDevice[] = doc.resources?.pci?.devices ?? [];
  return keyed(
    devices.map((d) => {
      const product = [d.vendor, d.product].filter(Boolean).join(' ');
      return {
        key: d.pci_address,
        name: d.pci_address,
        detail: product || `${d.vendor_id}:${d.product_id}`,
        fields: { ids: `${d.vendor_id}:${d.product_id}`, product: product || null, driver: d.driver || null },
      };
    }),
  );
}

function usbItems(doc: MachineResources): Item[] {
  const devices: UsbDevice[] = doc.resources?.usb?.devices ?? [];
  // Bus and device numbers change when a device is plugged in again: a USB device is what it is.
  return keyed(
    devices.map((d) => {
      const label = [d.vendor, d.product].filter(Boolean).join(' ') || `${d.vendor_id}:${d.product_id}`;
      return { key: `${d.vendor_id}:${d.product_id}:${d.serial ?? ''}`, name: label, detail: `${d.vendor_id}:${d.product_id}`, fields: {} };
    }),
  );
}

function systemItems(doc: MachineResources): Item[] {
  const system = doc.resources?.system;
  if (!system) return [];
  const firmware = system.firmware;
  return [
    {
      key: 'system',
      name: '',
      detail: '',
      fields: {
        vendor: system.vendor || null,
        product: system.product || null,
        serial: system.serial || null,
        uuid: system.uuid || null,
        firmware: firmware ? [firmware.vendor, firmware.version, firmware.date].filter(Boolean).join(' ') || null : null,
      },
    },
  ];
}

/** Makes keys unique (two identical USB sticks, say) by numbering repeats in document order. */
function keyed(items: Item[]): Item[] {
  const seen = new Map<string, number>();
  return items.map((item) => {
    const n = seen.get(item.key) ?? 0;
    seen.set(item.key, n + 1);
    return n === 0 ? item : { ...item, key: `${item.key}#${n}` };
  });
}

/** A disk size as MAAS shows it: decimal units, three significant digits (500 GB, 1.92 TB). */
export function bytes(size: number): string {
  if (!Number.isFinite(size) || size <= 0) return '0 B';
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = size;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${Number(value.toPrecision(3))} ${units[unit]}`;
}

/** A memory size in GiB with up to two decimals (1.88 GiB, 24 GiB). */
export function gib(size: number): string {
  return `${Number((size / 1024 ** 3).toFixed(2))} GiB`;
}
