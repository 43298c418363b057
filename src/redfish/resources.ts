// Maps a Redfish inventory to the machine-resources document (docs/protocol.md §6, §6.6) that the
// machine's own collectors would have produced, as far as the BMC knows it. Pure: no I/O here.
//
// What Redfish cannot tell is left empty or zero the way LXD leaves it on hardware without that
// data: no kernel or OS (MAAS then keeps the machine's OS), one NUMA node 0, no PCI or USB device
// list (Redfish gives no bus addresses), no partitions. Interface and disk names are not the
// kernel's (unknown to the BMC): they come from the Redfish paths, so they stay the same from one
// report to the next. Each area is mapped in a file of its own (cpu, gpu, memory, storage, network,
// system, environment), as collectors/ reads one per file; this file assembles the document.
import { API_EXTENSIONS, type MachineResources } from '../resources/types.js';
import { cpuFromRedfish } from './cpu.js';
import { environmentFromRedfish } from './environment.js';
import { gpuFromRedfish } from './gpu.js';
import type { RedfishInventory } from './inventory.js';
import { memoryFromRedfish } from './memory.js';
import { networkFromRedfish } from './network.js';
import { storageFromRedfish } from './storage.js';
import { systemFromRedfish } from './system.js';

/** The machine-resources document MAAS would get from this machine's own collectors, as far as Redfish tells it. Pure. */
export function resourcesFromRedfish(inventory: RedfishInventory): { document: MachineResources; warnings: string[] } {
  const environment = environmentFromRedfish(inventory);
  const cpu = cpuFromRedfish(inventory);
  const gpu = gpuFromRedfish(inventory);
  const network = networkFromRedfish(inventory);
  const storage = storageFromRedfish(inventory);
  const memory = memoryFromRedfish(inventory);
  const system = systemFromRedfish(inventory);
  const document: MachineResources = {
    resources: {
      cpu: cpu.value,
      memory: memory.value,
      gpu: gpu.value,
      network: network.value.network,
      storage: storage.value,
      usb: { devices: [], total: 0 },
      pci: { devices: [], total: 0 },
      system: system.value,
    },
    networks: network.value.networks,
    environment: environment.value,
    api_version: '1.0',
    api_extensions: [...API_EXTENSIONS],
  };
  // The architecture's warning first: it decides whether MAAS processes the report at all.
  const warnings = [environment, cpu, gpu, network, storage, memory, system].flatMap((reading) => reading.warnings);
  return { document, warnings };
}
