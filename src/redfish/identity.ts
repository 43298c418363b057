// What register-machine needs of a machine known only through its BMC (docs/protocol.md §6.6): its
// name, its physical NICs' permanent MACs and its Debian architecture. Pure.
import { architectureOf, presentCpus } from './cpu.js';
import type { RedfishInventory } from './inventory.js';
import { hostPorts } from './network.js';
import { hostnameOf } from './system.js';

/** What register-machine needs: the name (see hostnameOf), the physical NICs' permanent MACs (lower case, colon form), and the Debian architecture ("amd64", "arm64", ...) from the processors' InstructionSet/ProcessorArchitecture when known. Pure. */
export function identityFromRedfish(inventory: RedfishInventory): { hostname: string; macs: string[]; architecture?: string } {
  const macs = [...new Set(hostPorts(inventory).map((p) => p.mac))];
  const architecture = architectureOf(presentCpus(inventory));
  return { hostname: hostnameOf(inventory.system), macs, ...(architecture ? { architecture } : {}) };
}
