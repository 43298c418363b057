// resources.cpu from a BMC's Processors (docs/protocol.md §6.6): one socket per present CPU with its
// cores and threads spread as the BMC counts them, all on NUMA node 0, and the architecture from
// the processors' instruction set. Pure.
import type { AreaReading, CpuCore, CpuResources, CpuSocket } from '../resources/types.js';
import { count, object, pathOf, present, text, type Resource } from './fields.js';
import type { RedfishInventory } from './inventory.js';

/** More threads than any processor has: a placeholder value, not a count. */
const MAX_THREADS_PER_SOCKET = 4096;

// Redfish InstructionSet values → Debian architecture names.
const INSTRUCTION_SETS: Record<string, string> = {
  'x86-64': 'amd64',
  x86: 'i386',
  'ARM-A64': 'arm64',
  'ARM-A32': 'armhf',
  'PowerISA': 'ppc64el',
  'MIPS64': 'mips64el',
  'MIPS32': 'mips',
  'RV64': 'riscv64',
  'IA-64': 'ia64',
};

// ProcessorArchitecture alone, only where it leaves no doubt about the word size.
const ARCHITECTURES: Record<string, string> = { Power: 'ppc64el', 'RISC-V': 'riscv64', IA64: 'ia64' };

// Debian architecture → the `uname -m` name MAAS maps back (docs/protocol.md §7.2).
const KERNEL_ARCH: Record<string, string> = {
  amd64: 'x86_64',
  i386: 'i686',
  arm64: 'aarch64',
  ppc64el: 'ppc64le',
  s390x: 's390x',
  mips: 'mips',
  mips64el: 'mips64',
  armhf: 'armv7l',
  riscv64: 'riscv64',
};

function isCpu(p: Resource): boolean {
  // Old BMCs leave ProcessorType out on CPUs; GPUs, FPGAs and accelerators always say what they are.
  const type = text(p.ProcessorType);
  return type === undefined || type === 'CPU';
}

/** The processors that are present CPUs (not GPUs, FPGAs or accelerators). */
export function presentCpus(inventory: RedfishInventory): Resource[] {
  return inventory.processors.filter((p) => present(p) && isCpu(p));
}

/** The Debian architecture of the processors' instruction set, when the BMC tells one. */
export function architectureOf(cpus: readonly Resource[]): string | undefined {
  for (const cpu of cpus) {
    const set = text(cpu.InstructionSet);
    if (set !== undefined && Object.hasOwn(INSTRUCTION_SETS, set)) return INSTRUCTION_SETS[set];
    const arch = text(cpu.ProcessorArchitecture);
    if (arch !== undefined && Object.hasOwn(ARCHITECTURES, arch)) return ARCHITECTURES[arch];
  }
  return undefined;
}

function cpuSockets(cpus: readonly Resource[], warnings: string[]): { sockets: CpuSocket[]; total: number } {
  let nextThread = 0;
  const sockets = cpus.map((cpu, index): CpuSocket => {
    let cores = count(cpu.TotalCores) ?? 0;
    let threads = count(cpu.TotalThreads) ?? 0;
    if (cores === 0 && threads === 0) {
      warnings.push(`cpu: ${pathOf(cpu)} gives no core or thread count: counted as one thread`);
      cores = threads = 1;
    }
    if (cores === 0) cores = threads;
    if (threads < cores) threads = cores;
    if (threads > MAX_THREADS_PER_SOCKET) {
      // No processor has this many: a BMC's placeholder (such as 2^32 - 1) for "unknown".
      warnings.push(`cpu: ${pathOf(cpu)} claims ${threads} threads: counted as one`);
      cores = threads = 1;
    }
    const current = count(cpu.OperatingSpeedMHz);
    const coreList: CpuCore[] = [];
    for (let c = 0; c < cores; c++) {
      // Threads spread evenly; the first cores take the remainder (hybrid parts).
      const perCore = Math.floor(threads / cores) + (c < threads % cores ? 1 : 0);
      const core: CpuCore = { core: c, die: 0, threads: [] };
      for (let t = 0; t < perCore; t++) core.threads.push({ id: nextThread++, numa_node: 0, thread: t, online: true, isolated: false });
      if (current) core.frequency = Math.round(current);
      coreList.push(core);
    }
    // LXD's fields: `frequency` is the current speed, `frequency_turbo` the maximum, `frequency_minimum` the lowest allowed.
    const socket = {} as CpuSocket;
    const name = text(cpu.Model);
    const vendor = text(cpu.Manufacturer);
    if (name) socket.name = name;
    if (vendor) socket.vendor = vendor;
    socket.socket = index;
    socket.cores = coreList;
    if (current) socket.frequency = Math.round(current);
    const minimum = count(object(cpu.OperatingSpeedRangeMHz)?.AllowableMin);
    if (minimum) socket.frequency_minimum = Math.round(minimum);
    const maximum = count(cpu.MaxSpeedMHz);
    if (maximum) socket.frequency_turbo = Math.round(maximum);
    return socket;
  });
  return { sockets, total: nextThread };
}

/** The `uname -m` name MAAS maps back from a Debian architecture, "" when there is none. */
export function kernelArchitecture(architecture: string | undefined): string {
  return architecture === undefined ? '' : (KERNEL_ARCH[architecture] ?? '');
}

/** resources.cpu: the present CPUs (not GPUs or accelerators) as sockets; warnings name the counts it could not use. */
export function cpuFromRedfish(inventory: RedfishInventory): AreaReading<CpuResources> {
  const warnings: string[] = [];
  const cpus = presentCpus(inventory);
  const { sockets, total } = cpuSockets(cpus, warnings);
  return { value: { architecture: kernelArchitecture(architectureOf(cpus)), sockets, total }, warnings };
}
