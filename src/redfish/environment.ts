// The document's `environment` from a BMC (docs/protocol.md §6.6): no kernel and no OS, which the BMC
// does not know (MAAS keeps the machine's OS when both OS fields are empty); the kernel
// architecture from the processors' instruction set. Pure.
import type { AreaReading, ResourcesEnvironment } from '../resources/types.js';
import { architectureOf, kernelArchitecture, presentCpus } from './cpu.js';
import type { RedfishInventory } from './inventory.js';
import { hostnameOf } from './system.js';

// The `uname -m` names whose architecture MAAS knows (docs/protocol.md §7.2).
const MAAS_KERNEL_ARCHES = new Set(['x86_64', 'i686', 'aarch64', 'ppc64le', 's390x', 'mips', 'mips64']);

/** The environment block; a warning when MAAS will not process a report of this architecture. */
export function environmentFromRedfish(inventory: RedfishInventory): AreaReading<ResourcesEnvironment> {
  const warnings: string[] = [];
  const architecture = architectureOf(presentCpus(inventory));
  const kernelArch = kernelArchitecture(architecture);
  if (!MAAS_KERNEL_ARCHES.has(kernelArch)) {
    warnings.push(`environment: the processors' architecture ${architecture ? `(${architecture}) is not one MAAS knows` : 'is unknown'}: MAAS will not process this report`);
  }
  const environment: ResourcesEnvironment = {
    kernel: '',
    kernel_architecture: kernelArch,
    kernel_version: '',
    os_name: '',
    os_version: '',
    server: 'redfish',
    server_name: hostnameOf(inventory.system),
    server_version: '',
  };
  return { value: environment, warnings };
}
