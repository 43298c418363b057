// resources.memory from a BMC (docs/protocol.md §6.6): the present DIMMs' capacities, else the
// system's MemorySummary; no hugepages, no NUMA nodes, nothing used. Pure.
import type { AreaReading, MemoryResources } from '../resources/types.js';
import { count, object, present } from './fields.js';
import type { RedfishInventory } from './inventory.js';

const MIB = 1024 * 1024;

function memoryTotal(inventory: RedfishInventory, warnings: string[]): number {
  const dimms = inventory.memory.filter((m) => present(m) && (count(m.CapacityMiB) ?? 0) > 0);
  const summed = dimms.reduce((sum, m) => sum + (count(m.CapacityMiB) ?? 0) * MIB, 0);
  const summaryGib = count(object(inventory.system.MemorySummary)?.TotalSystemMemoryGiB);
  const summary = summaryGib === undefined ? undefined : Math.round(summaryGib * 1024) * MIB;
  if (summed > 0) {
    if (summary !== undefined && summary !== summed) {
      warnings.push(`memory: the DIMMs add up to ${summed / MIB} MiB but MemorySummary says ${summaryGib} GiB: the DIMMs are reported`);
    }
    return summed;
  }
  if (summary !== undefined && summary > 0) return summary;
  warnings.push('memory: neither DIMM capacities nor MemorySummary: memory reported as 0');
  return 0;
}

/** resources.memory: the total only; a warning when DIMMs and summary disagree or neither tells. */
export function memoryFromRedfish(inventory: RedfishInventory): AreaReading<MemoryResources> {
  const warnings: string[] = [];
  const total = memoryTotal(inventory, warnings);
  return { value: { hugepages_total: 0, hugepages_used: 0, hugepages_size: 0, used: 0, total }, warnings };
}
