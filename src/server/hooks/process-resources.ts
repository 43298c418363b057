// MAAS's processing of a `50-maas-01-commissioning` report (hook process_lxd_results,
// docs/protocol.md §7) as a pure function from (report, stored hardware) to new hardware, plus what
// the server needs around it: release, MAC moves, duplicate UUIDs, and rendering into the machine
// JSON.
import { REQUIRED_API_EXTENSIONS } from '../../resources/types.js';
import { parseCpu } from './cpu.js';
import type { HardwareInterface, IdAllocator, MachineHardware } from './hardware.js';
import { blankInterface, parseCards, parseNetworks, updateInterfaces } from './interfaces.js';
import { parseMemory, updateNumaNodes } from './memory-numa.js';
import { deriveNodeDevices } from './node-devices.js';
import { parseDisks, updateDisks } from './storage.js';
import { deriveArchitecture, deriveOs, parseSystem } from './system-metadata.js';
import { HookError, isObject, requireObject, type HookEvent, type JsonObject } from './validate.js';

export type { HardwareDisk, HardwareInterface, HardwareLink, HardwareNodeDevice, HardwareNumaNode, IdAllocator, MachineHardware } from './hardware.js';
export { hookView, renderHardware, type HookView } from './render-hardware.js';
export { HookError, type HookEvent } from './validate.js';

/** Hardware of a machine no report has described yet: one empty NUMA node 0 (docs/protocol.md §8.1). */
export function emptyHardware(options: { architecture?: string; macAddresses?: readonly string[] } = {}): MachineHardware {
  const hw: MachineHardware = {
    version: 1,
    nextId: 1,
    reports: 0,
    architecture: options.architecture ?? '',
    osystem: '',
    distroSeries: '',
    cpuCount: 0,
    cpuSpeed: 0,
    memoryMib: 0,
    hardwareUuid: null,
    tags: [],
    metadata: {},
    numaNodes: [{ index: 0, cores: [], memoryMib: 0, hugepages: [] }],
    interfaces: [],
    disks: [],
    nodeDevices: [],
  };
  // MACs given at creation become eth0, eth1, … (renamed by the first report), not "acquired".
  (options.macAddresses ?? []).forEach((mac, i) => {
    hw.interfaces.push(blankInterface(hw.nextId++, `eth${i}`, 'physical', mac.toLowerCase(), false));
  });
  return hw;
}

/** The input of the processing: the `.out` (bytes, text or parsed JSON) and the stored state. */
export interface ProcessInput {
  document: unknown;
  previous: MachineHardware;
  /** DEPLOYED or DEPLOYING: the OS is taken from the report, VFs are ignored, hugepages stored. */
  deployed: boolean;
  /** Ids for new interfaces, links and disks; by default counted in the hardware's `nextId`. */
  allocateId?: IdAllocator;
}

/** The outcome of a successful processing: new hardware and the events to record (MAAS logs none). */
export interface ProcessResult {
  hardware: MachineHardware;
  events: HookEvent[];
}

function decodeDocument(document: unknown): unknown {
  if (typeof document !== 'string' && !(document instanceof Uint8Array)) return document;
  try {
    const text = typeof document === 'string' ? document : new TextDecoder('utf-8', { fatal: true }).decode(document);
    return JSON.parse(text) as unknown;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new HookError(`the report is not valid UTF-8 JSON: ${detail}`, [failureEvent('invalid JSON data')]);
  }
}

function failureEvent(reason: string): HookEvent {
  return { type: 'SCRIPT_RESULT_ERROR', description: `Failed processing commissioning data: ${reason}` };
}

function checkPreconditions(data: unknown): JsonObject {
  // These checks fail the hook without MAAS's "Failed processing" event.
  if (!isObject(data)) throw new HookError('the report must be a JSON object (machine-resources output)');
  if (data.api_version !== '1.0') {
    throw new HookError(`the report's api_version must be "1.0" (LXD resources API), got ${JSON.stringify(data.api_version) ?? 'nothing'}`);
  }
  const extensions = Array.isArray(data.api_extensions) ? data.api_extensions : [];
  const missing = REQUIRED_API_EXTENSIONS.filter((e) => !extensions.includes(e)).sort();
  if (missing.length > 0) throw new HookError(`the report lacks required LXD API extensions: ${missing.join(', ')}`);
  return data;
}

/**
 * Processes one machine-resources report: returns the machine's new hardware and the events to
 * log, or throws HookError (with its events) and changes nothing. Pure: `previous` is not touched.
 */
export function processResources(input: ProcessInput): ProcessResult {
  const data = checkPreconditions(decodeDocument(input.document));
  try {
    return { hardware: derive(data, input), events: [] };
  } catch (error) {
    const reason = error instanceof HookError ? error.reason : `unexpected ${error instanceof Error ? error.message : String(error)}`;
    throw new HookError(reason, [failureEvent(reason)]);
  }
}

/** Throws HookError(reason) when the document fails the preconditions or processing of docs/protocol.md §7.1. */
export function deriveHardware(input: ProcessInput): MachineHardware {
  return processResources(input).hardware;
}

function derive(data: JsonObject, input: ProcessInput): MachineHardware {
  const previous = input.previous;
  let counter = previous.nextId;
  const nextId = input.allocateId ?? (() => counter++);

  const environment = requireObject(data.environment, 'environment');
  const resources = requireObject(data.resources, 'resources');
  const architecture = deriveArchitecture(environment, previous.architecture, data['machine-extra']);
  const os = input.deployed ? deriveOs(environment) : null;

  const cpu = parseCpu(resources);
  const memory = parseMemory(resources, cpu.numaCores);
  const numaNodes = updateNumaNodes(previous.numaNodes, memory, input.deployed);
  const knownNuma = new Set(memory.nodes.keys());

  const networks = parseNetworks(data);
  const cards = parseCards(resources, input.deployed);
  const interfaces = updateInterfaces(previous.interfaces, networks, cards, knownNuma, input.deployed, nextId);
  const disks = updateDisks(previous.disks, parseDisks(resources), knownNuma, nextId);
  const nodeDevices = deriveNodeDevices(resources, { interfaces: interfaces.byAddress, disks: disks.byAddress }, knownNuma);

  const metadata = { ...previous.metadata };
  if (cpu.cpuModel) metadata.cpu_model = cpu.cpuModel;
  const system = parseSystem(resources);
  for (const [key, value] of Object.entries(system.metadata)) {
    if (value === null) delete metadata[key];
    else metadata[key] = value;
  }
  const tags = previous.tags.filter((t) => t !== 'virtual');
  if (system.virtual) tags.push('virtual');

  // `storage-extra` (a custom layout) is never applied to deployed machines: it is ignored.
  return {
    ...previous,
    nextId: input.allocateId ? previous.nextId : counter,
    reports: previous.reports + 1,
    architecture,
    osystem: os ? os.osystem : previous.osystem,
    distroSeries: os ? os.distroSeries : previous.distroSeries,
    cpuCount: cpu.cpuCount,
    cpuSpeed: cpu.cpuSpeed,
    memoryMib: memory.memoryMib,
    hardwareUuid: system.hardwareUuid,
    tags: tags.sort(),
    metadata: sortKeys(metadata),
    numaNodes,
    interfaces: interfaces.interfaces,
    disks: disks.disks,
    nodeDevices,
  };
}

function sortKeys(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Release (docs/design.md requirement 4, D14; upstream differs, docs/protocol.md §8.3): keep
 * physical interfaces (minus SR-IOV VFs), drop VLANs, bonds and bridges; clear the OS and the
 * hugepage configuration. As in MAAS, a bridge first hands its IPs to its parent (here: the first
 * kept physical one below it).
 */
export function releaseHardware(hw: MachineHardware): MachineHardware {
  const byId = new Map(hw.interfaces.map((i) => [i.id, i]));
  const kept = (i: HardwareInterface): boolean => i.type === 'physical' && !i.sriovVf;
  const interfaces = hw.interfaces.filter(kept).map((i) => ({ ...i, parents: [], links: i.links.map((l) => ({ ...l })) }));
  const keptById = new Map(interfaces.map((i) => [i.id, i]));
  const physicalBelow = (iface: HardwareInterface, seen: Set<number>): HardwareInterface | undefined => {
    for (const parentId of iface.parents) {
      const parent = byId.get(parentId);
      if (!parent || seen.has(parentId)) continue;
      seen.add(parentId);
      const found = keptById.get(parentId) ?? physicalBelow(parent, seen);
      if (found) return found;
    }
    return undefined;
  };
  for (const bridge of hw.interfaces.filter((i) => i.type === 'bridge')) {
    const target = physicalBelow(bridge, new Set([bridge.id]));
    if (!target) continue;
    for (const link of bridge.links) if (!target.links.some((l) => l.address === link.address)) target.links.push({ ...link });
  }
  return {
    ...hw,
    osystem: '',
    distroSeries: '',
    numaNodes: hw.numaNodes.map((n) => ({ ...n, hugepages: [] })),
    interfaces,
  };
}

/** True once a report has been processed for the machine. */
export function hasHardwareData(hw: MachineHardware): boolean {
  return hw.reports > 0;
}

/** MACs of the machine's physical interfaces (a report moves these away from other machines). */
export function hardwareMacs(hw: MachineHardware): string[] {
  return hw.interfaces.filter((i) => i.type === 'physical').map((i) => i.mac);
}

/** The hardware without the physical interfaces with these MACs (moved to another machine). */
export function withoutMacs(hw: MachineHardware, macs: readonly string[]): MachineHardware {
  const gone = new Set(macs.map((m) => m.toLowerCase()));
  const removed = new Set<number>();
  for (const i of hw.interfaces) if (i.type === 'physical' && gone.has(i.mac)) removed.add(i.id);
  if (removed.size === 0) return hw;
  // Children that lose every parent (a VLAN on a moved NIC) go with it.
  let interfaces: HardwareInterface[] = hw.interfaces;
  for (;;) {
    const before = removed.size;
    for (const i of interfaces) if (i.parents.length > 0 && i.parents.every((p) => removed.has(p))) removed.add(i.id);
    if (removed.size === before) break;
  }
  interfaces = hw.interfaces.filter((i) => !removed.has(i.id)).map((i) => ({ ...i, parents: i.parents.filter((p) => !removed.has(p)) }));
  return { ...hw, interfaces, nodeDevices: hw.nodeDevices.map((d) => (d.interfaceId !== null && removed.has(d.interfaceId) ? { ...d, interfaceId: null } : d)) };
}

/** The machine's hardware UUID, or null. */
export function hardwareUuid(hw: MachineHardware): string | null {
  return hw.hardwareUuid;
}

/** The hardware with its UUID cleared (MAAS clears a duplicated UUID on every machine). */
export function withoutUuid(hw: MachineHardware): MachineHardware {
  return hw.hardwareUuid === null ? hw : { ...hw, hardwareUuid: null };
}
