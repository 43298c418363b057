// Renders a stored machine as the API 2.0 machine JSON (docs/protocol.md §3.3), with the
// hardware fields derived from its reports.
import { HARDWARE_INFO_KEYS, NodeStatus, ScriptResultStatus } from '../maas/types.js';
import type { MachineJson, NumaNodeJson } from '../maas/types.js';
import { hardwareMacs, hardwareUuid, renderHardware } from './hooks/process-resources.js';
import type { MachineHardware } from './hooks/process-resources.js';
import type { MachineRecord, ScriptResultRecord, Store } from './store.js';

const NODE_STATUS_LABELS: Record<number, string> = {
  [NodeStatus.NEW]: 'New',
  [NodeStatus.COMMISSIONING]: 'Commissioning',
  [NodeStatus.FAILED_COMMISSIONING]: 'Failed commissioning',
  [NodeStatus.MISSING]: 'Missing',
  [NodeStatus.READY]: 'Ready',
  [NodeStatus.RESERVED]: 'Reserved',
  [NodeStatus.DEPLOYED]: 'Deployed',
  [NodeStatus.RETIRED]: 'Retired',
  [NodeStatus.BROKEN]: 'Broken',
  [NodeStatus.DEPLOYING]: 'Deploying',
  [NodeStatus.ALLOCATED]: 'Allocated',
  [NodeStatus.FAILED_DEPLOYMENT]: 'Failed deployment',
  [NodeStatus.RELEASING]: 'Releasing',
  [NodeStatus.FAILED_RELEASING]: 'Releasing failed',
  [NodeStatus.DISK_ERASING]: 'Disk erasing',
  [NodeStatus.FAILED_DISK_ERASING]: 'Failed disk erasing',
  [NodeStatus.RESCUE_MODE]: 'Rescue mode',
  [NodeStatus.ENTERING_RESCUE_MODE]: 'Entering rescue mode',
  [NodeStatus.FAILED_ENTERING_RESCUE_MODE]: 'Failed to enter rescue mode',
  [NodeStatus.EXITING_RESCUE_MODE]: 'Exiting rescue mode',
  [NodeStatus.FAILED_EXITING_RESCUE_MODE]: 'Failed to exit rescue mode',
  [NodeStatus.TESTING]: 'Testing',
  [NodeStatus.FAILED_TESTING]: 'Failed testing',
};

const RESULT_STATUS_LABELS: Record<number, string> = {
  [ScriptResultStatus.PENDING]: 'Pending',
  [ScriptResultStatus.RUNNING]: 'Running',
  [ScriptResultStatus.PASSED]: 'Passed',
  [ScriptResultStatus.FAILED]: 'Failed',
  [ScriptResultStatus.TIMEDOUT]: 'Timed out',
  [ScriptResultStatus.ABORTED]: 'Aborted',
  [ScriptResultStatus.DEGRADED]: 'Degraded',
  [ScriptResultStatus.INSTALLING]: 'Installing',
  [ScriptResultStatus.FAILED_INSTALLING]: 'Failed installing',
  [ScriptResultStatus.SKIPPED]: 'Skipped',
  [ScriptResultStatus.APPLYING_NETCONF]: 'Applying custom network configuration',
  [ScriptResultStatus.FAILED_APPLYING_NETCONF]: 'Failed to apply custom network configuration',
};

/** The human label of a node status code ("Deployed", "Failed commissioning", …). */
export function nodeStatusLabel(status: number): string {
  return NODE_STATUS_LABELS[status] ?? `Status ${status}`;
}

/** Aggregate status of a script set, as MAAS computes it (docs/protocol.md §8.3); empty set → PENDING. */
export function aggregateStatus(results: readonly ScriptResultRecord[]): number {
  const S = ScriptResultStatus;
  const has = (...codes: number[]) => results.some((r) => codes.includes(r.status));
  if (results.length === 0) return S.PENDING;
  if (has(S.RUNNING, S.INSTALLING, S.APPLYING_NETCONF)) return S.RUNNING;
  if (has(S.PENDING)) return S.PENDING;
  if (has(S.ABORTED)) return S.ABORTED;
  if (has(S.FAILED, S.TIMEDOUT, S.FAILED_INSTALLING, S.FAILED_APPLYING_NETCONF)) return S.FAILED;
  if (has(S.DEGRADED)) return S.DEGRADED;
  return S.PASSED;
}

const DOMAIN = {
  name: 'maas',
  id: 0,
  authoritative: true,
  ttl: null,
  is_default: true,
  resource_record_count: 0,
  resource_uri: '/MAAS/api/2.0/domains/0/',
};

/** The machine JSON of `machine`, reading its script results from `store`. */
export function renderMachine(store: Store, machine: MachineRecord): MachineJson {
  const results = machine.scriptSetId === null ? [] : store.resultsOfSet(machine.scriptSetId);
  const commissioning = aggregateStatus(results);
  const derived = renderHardware(machine.hardware as MachineHardware, machine.systemId);
  const hardwareInfo = Object.fromEntries(HARDWARE_INFO_KEYS.map((key) => [key, 'Unknown'])) as MachineJson['hardware_info'];
  const numa: NumaNodeJson[] = [{ index: 0, cores: [], memory: 0, hugepages_set: [] }];
  return {
    system_id: machine.systemId,
    hostname: machine.hostname,
    fqdn: `${machine.hostname}.${machine.domain}`,
    domain: DOMAIN,
    owner: machine.owner,
    locked: machine.locked,
    status: machine.status,
    status_name: nodeStatusLabel(machine.status),
    node_type: 0,
    node_type_name: 'Machine',
    cpu_count: 0,
    cpu_speed: 0,
    memory: 0,
    storage: 0,
    power_type: machine.powerType,
    power_state: 'unknown',
    hardware_uuid: null,
    blockdevice_set: [],
    physicalblockdevice_set: [],
    numanode_set: numa,
    tag_names: [],
    ...derived,
    // A report's architecture wins; until then (or when it has none) the one given at creation.
    architecture: derived.architecture || machine.architecture,
    osystem: derived.osystem || machine.osystem,
    distro_series: derived.distro_series || machine.distroSeries,
    interface_set: derived.interface_set ?? [],
    hardware_info: { ...hardwareInfo, ...(derived.hardware_info ?? {}) },
    workload_annotations: { ...machine.workloadAnnotations },
    owner_data: { ...machine.workloadAnnotations },
    commissioning_status: commissioning,
    commissioning_status_name: RESULT_STATUS_LABELS[commissioning] ?? 'Unknown',
    current_commissioning_result_id: machine.scriptSetId,
    error: machine.error,
    resource_uri: `/MAAS/api/2.0/machines/${machine.systemId}/`,
  };
}

/** Every MAC the machine's interfaces have (from creation or reports). */
export function machineMacs(machine: MachineRecord): string[] {
  return hardwareMacs(machine.hardware as MachineHardware);
}

/** The machine with new hardware and the index fields (MACs, UUID) the store looks it up by. */
export function withHardware(machine: MachineRecord, hardware: MachineHardware): MachineRecord {
  return { ...machine, hardware, macs: hardwareMacs(hardware), hardwareUuid: hardwareUuid(hardware) };
}
