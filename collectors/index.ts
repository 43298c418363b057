// The built-in deploy-info collectors (the only barrel): what `collect` and `report-results`
// run instead of MAAS's six deploy-info scripts.
import type { DeployInfoCollector } from './types.js';
import { listModaliasesCollector } from './list-modaliases.js';
import { lshwCollector } from './lshw.js';
import { resourcesCollector } from './resources.js';
import { serialPortsCollector } from './serial-ports.js';
import { supportInfoCollector } from './support-info.js';

/** Every built-in collector; together they answer all six deploy-info scripts. */
export const deployInfoCollectors: readonly DeployInfoCollector[] = [
  resourcesCollector,
  listModaliasesCollector,
  lshwCollector,
  serialPortsCollector,
  supportInfoCollector,
];

/** The collector that answers deploy-info script `name`, or undefined for any other script. */
export function collectorForScript(name: string): DeployInfoCollector | undefined {
  return deployInfoCollectors.find((c) => (c.scripts as readonly string[]).includes(name));
}

/** The collector called `name` (as `collect --only` names it), or undefined. */
export function collectorNamed(name: string): DeployInfoCollector | undefined {
  return deployInfoCollectors.find((c) => c.name === name);
}
