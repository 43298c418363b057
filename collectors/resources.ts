// The machine-resources document (what MAAS's machine-resources prints), combining every area.
import type { Host } from '../src/host/host.js';
import { API_EXTENSIONS, type AreaReading, type MachineResources } from '../src/resources/types.js';
import { CollectorError } from '../src/errors.js';
import type { AreaReader, DeployInfoCollector } from './types.js';
import { readCpu } from './cpu.js';
import { readEnvironment } from './environment.js';
import { readGpu } from './gpu.js';
import { readMemory } from './memory.js';
import { readNetwork } from './network.js';
import { readNetworks } from './networks.js';
import { readPci } from './pci.js';
import { readStorage } from './storage.js';
import { readSystem } from './system.js';
import { readUsb } from './usb.js';

/** Runs one area reader, naming the area in the error when it fails (as LXD's "Failed retrieving CPU information"). */
async function area<T>(name: string, read: AreaReader<T>, host: Host): Promise<AreaReading<T>> {
  try {
    return await read(host);
  } catch (error) {
    throw new CollectorError('resources', `failed retrieving ${name} information: ${(error as Error).message}`, { cause: error });
  }
}

/** Reads every area concurrently and assembles the document; the warnings of every area, in area order, list partial data. */
export async function collectMachineResources(host: Host): Promise<{ document: MachineResources; warnings: string[] }> {
  const [cpu, memory, gpu, network, storage, usb, pci, system, networks, environment] = await Promise.all([
    area('CPU', readCpu, host),
    area('memory', readMemory, host),
    area('GPU', readGpu, host),
    area('network', readNetwork, host),
    area('storage', readStorage, host),
    area('USB', readUsb, host),
    area('PCI', readPci, host),
    area('system', readSystem, host),
    area('network state', readNetworks, host),
    area('environment', readEnvironment, host),
  ]);
  const document: MachineResources = {
    resources: {
      cpu: cpu.value,
      memory: memory.value,
      gpu: gpu.value,
      network: network.value,
      storage: storage.value,
      usb: usb.value,
      pci: pci.value,
      system: system.value,
    },
    networks: networks.value,
    environment: environment.value,
    api_version: '1.0',
    api_extensions: [...API_EXTENSIONS],
  };
  const warnings = [cpu, memory, gpu, network, storage, usb, pci, system, networks, environment].flatMap((reading) => reading.warnings);
  return { document, warnings };
}

/** Prints a document the way Go's json encoder with a 4-space indent does (one trailing newline). */
export function formatResources(document: MachineResources): string {
  return `${JSON.stringify(document, null, 4)}\n`;
}

/** The built-in answer to 20-maas-03-machine-resources and 50-maas-01-commissioning. */
export const resourcesCollector: DeployInfoCollector = {
  name: 'resources',
  scripts: ['20-maas-03-machine-resources', '50-maas-01-commissioning'],
  timeoutMs: 30_000,
  produce: async (host) => {
    try {
      const { document, warnings } = await collectMachineResources(host);
      return { stdout: formatResources(document), stderr: warnings.map((w) => `${w}\n`).join(''), exitCode: 0 };
    } catch (error) {
      return { stdout: '', stderr: `ERROR: ${(error as Error).message}\n`, exitCode: 1 };
    }
  },
};
