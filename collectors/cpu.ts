// resources.cpu: sockets, cores and threads from /sys/devices/system/cpu, names from /proc/cpuinfo.
// Offline CPUs whose topology the kernel hides are placed by inference (placeOfflineCpus).
import type { Host } from '../src/host/host.js';
import type { AreaReading, CpuCache, CpuCore, CpuResources, CpuSocket, CpuThread } from '../src/resources/types.js';
import { parseCpuset } from './lib/cpuset.js';
import { readNumber } from './lib/sysfs.js';

const SDC = '/sys/devices/system/cpu';

/** Vendor and model name of each /proc/cpuinfo processor block, by processor number. Pure. */
export function parseCpuinfo(text: string): Map<number, { vendor: string; name: string }> {
  const result = new Map<number, { vendor: string; name: string }>();
  let current: { vendor: string; name: string } | undefined;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon === -1) {
      if (line.trim() === '') current = undefined;
      continue;
    }
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === 'processor' && /^\d+$/.test(value)) {
      current = { vendor: '', name: '' };
      result.set(Number(value), current);
    } else if (current) {
      if (key === 'vendor_id' && !current.vendor) current.vendor = value;
      // "model name" on x86 and arm64, "cpu" on powerpc.
      else if ((key === 'model name' || key === 'cpu') && !current.name) current.name = value;
    }
  }
  return result;
}

/** A cache size as sysfs writes it ("32K", "1024K", "8M") in bytes; undefined if unparsable. */
export function parseCacheSize(text: string): number | undefined {
  const m = /^(\d+)([KMG]?)$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2] as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * unit;
}

interface RawThread {
  id: number;
  socket: number;
  core: number;
  die: number;
  online: boolean;
  numaNode: number;
  /** kHz, 0 without cpufreq */
  curFreq: number;
  minFreq: number;
  maxFreq: number;
  cache: CpuCache[] | undefined;
}

/** An offline CPU whose topology/ the kernel has removed: what is left is its number and its NUMA node link. */
export interface OfflineCpu {
  id: number;
  numaNode: number;
}

/**
 * Gives offline CPUs without topology/ a place in the tree, after the CPUs that have one. When a
 * CPU goes offline the kernel removes its topology/ directory and its caches, drops it from its
 * siblings' topology masks and from /proc/cpuinfo; its `nodeK` link stays. So:
 * - its NUMA node is the kernel's own answer;
 * - its socket and die are inferred: those of the lowest-numbered CPU with a topology on the same
 *   node, since a NUMA node lies within one package; a node where no CPU has a topology is a
 *   package nothing else describes, numbered after the highest socket known, die 0;
 * - its core is inferred: the lowest-numbered core of that socket with fewer threads than its
 *   fullest core (where an offline SMT sibling was), else a core of its own numbered after the
 *   socket's highest core id.
 * Each comes out with `online: false` and no frequencies or caches. Pure.
 */
export function placeOfflineCpus(known: readonly RawThread[], offline: readonly OfflineCpu[]): RawThread[] {
  const placed: RawThread[] = [];
  const homeOfNode = new Map<number, { socket: number; die: number }>();
  let nextSocket = known.reduce((max, t) => Math.max(max, t.socket + 1), 0);
  for (const cpu of offline) {
    let home = homeOfNode.get(cpu.numaNode);
    if (!home) {
      const neighbour = known.filter((t) => t.numaNode === cpu.numaNode).sort((a, b) => a.id - b.id)[0];
      home = neighbour ? { socket: neighbour.socket, die: neighbour.die } : { socket: nextSocket++, die: 0 };
      homeOfNode.set(cpu.numaNode, home);
    }
    const cores = new Map<string, { core: number; die: number; threads: number }>();
    for (const t of [...known, ...placed]) {
      if (t.socket !== home.socket) continue;
      const key = `${t.die}_${t.core}`;
      const entry = cores.get(key) ?? { core: t.core, die: t.die, threads: 0 };
      entry.threads += 1;
      cores.set(key, entry);
    }
    const list = [...cores.values()];
    const fullest = list.reduce((max, c) => Math.max(max, c.threads), 0);
    const gap = list.filter((c) => c.threads < fullest).sort((a, b) => a.core - b.core || a.die - b.die)[0];
    const { core, die } = gap ?? { core: list.reduce((max, c) => Math.max(max, c.core + 1), 0), die: home.die };
    placed.push({ id: cpu.id, socket: home.socket, core, die, online: false, numaNode: cpu.numaNode, curFreq: 0, minFreq: 0, maxFreq: 0, cache: undefined });
  }
  return placed;
}

/** Assembles LXD's socket → core → thread tree from per-thread facts. Pure. */
export function buildCpuTree(
  threads: readonly RawThread[],
  names: Map<number, { vendor: string; name: string }>,
  isolated: ReadonlySet<number>,
): CpuSocket[] {
  const sockets = new Map<number, { socket: CpuSocket; first: RawThread; cores: Map<string, CpuCore> }>();
  for (const t of threads) {
    let s = sockets.get(t.socket);
    if (!s) {
      // LXD quirk kept: the socket's name comes from the processor block whose number equals the socket number.
      const info = names.get(t.socket);
      // Stryker disable next-line ArrayDeclaration: the socket's cores are set from the map below
      s = { socket: { socket: t.socket, cores: [] }, first: t, cores: new Map() };
      if (info?.name) s.socket.name = info.name;
      if (info?.vendor) s.socket.vendor = info.vendor;
      sockets.set(t.socket, s);
    }
    const key = `${t.die}_${t.core}`;
    let core = s.cores.get(key);
    if (!core) {
      core = { core: t.core, die: t.die, threads: [] };
      if (t.curFreq > 0) core.frequency = Math.floor(t.curFreq / 1000);
      s.cores.set(key, core);
    }
    const thread: CpuThread = { id: t.id, numa_node: t.numaNode, thread: core.threads.length, online: t.online, isolated: isolated.has(t.id) };
    core.threads.push(thread);
  }
  return [...sockets.values()]
    .sort((a, b) => a.socket.socket - b.socket.socket)
    .map(({ socket, first, cores }) => {
      const ordered = [...cores.values()].sort((a, b) => a.core - b.core);
      const freqs = ordered.map((c) => c.frequency ?? 0).filter((f) => f > 0);
      // Rebuilt in Go declaration order: name, vendor, socket, cache, cores, frequency, frequency_minimum, frequency_turbo.
      const out = {} as CpuSocket;
      if (socket.name) out.name = socket.name;
      if (socket.vendor) out.vendor = socket.vendor;
      out.socket = socket.socket;
      if (first.cache && first.cache.length > 0) out.cache = first.cache;
      out.cores = ordered;
      if (freqs.length > 0) out.frequency = Math.floor(freqs.reduce((a, b) => a + b, 0) / freqs.length);
      if (first.minFreq > 0) out.frequency_minimum = Math.floor(first.minFreq / 1000);
      if (first.maxFreq > 0) out.frequency_turbo = Math.floor(first.maxFreq / 1000);
      return out;
    });
}

async function readCache(host: Host, cpuPath: string): Promise<CpuCache[] | undefined> {
  // An empty list (no cache/ at all) is left out of the socket like a missing one.
  // Stryker disable next-line MethodExpression: the other entries of cache/ (uevent, power) have no level file, so they are dropped below anyway
  const entries = (await host.list(`${cpuPath}/cache`)).filter((e) => /^index\d+$/.test(e));
  const caches = await Promise.all(
    entries.map(async (e) => {
      const dir = `${cpuPath}/cache/${e}`;
      const [level, type, size] = await Promise.all([readNumber(host, `${dir}/level`), host.readOptional(`${dir}/type`), host.readOptional(`${dir}/size`)]);
      if (level === undefined) return undefined;
      return { level, type: type || 'Unknown', size: size === undefined ? 0 : (parseCacheSize(size) ?? 0) };
    }),
  );
  return caches.filter((c): c is CpuCache => c !== undefined);
}

async function numaNodeOfCpu(host: Host, cpuPath: string): Promise<number> {
  for (const entry of await host.list(cpuPath)) {
    if (/^node\d+$/.test(entry) && (await host.exists(`${cpuPath}/${entry}/numastat`))) return Number(entry.slice(4));
  }
  return 0;
}

async function firstNumber(host: Host, ...paths: string[]): Promise<number> {
  for (const p of paths) {
    const v = await readNumber(host, p);
    if (v !== undefined) return v;
  }
  return 0;
}

async function readThread(host: Host, name: string): Promise<RawThread | { offline: OfflineCpu } | undefined> {
  const path = `${SDC}/${name}`;
  const id = Number(name.slice(3));
  const [hasTopology, online] = await Promise.all([host.isDirectory(`${path}/topology`), host.readOptional(`${path}/online`)]);
  if (!hasTopology) {
    // The kernel hides topology/ of an offlined CPU: it still exists, so it is counted and placed.
    return online === '0' ? { offline: { id, numaNode: await numaNodeOfCpu(host, path) } } : undefined;
  }
  const topo = (f: string) => readNumber(host, `${path}/topology/${f}`);
  const [socket, core, die, numaNode, curFreq, minFreq, maxFreq, cache] = await Promise.all([
    topo('physical_package_id'),
    topo('core_id'),
    topo('die_id'),
    numaNodeOfCpu(host, path),
    firstNumber(host, `${path}/cpufreq/scaling_cur_freq`),
    firstNumber(host, `${path}/cpufreq/cpuinfo_min_freq`, `${path}/cpufreq/scaling_min_freq`),
    firstNumber(host, `${path}/cpufreq/cpuinfo_max_freq`, `${path}/cpufreq/scaling_max_freq`),
    readCache(host, path),
  ]);
  const orZero = (v: number | undefined) => Math.max(v ?? 0, 0);
  return { id, socket: orZero(socket), core: orZero(core), die: orZero(die), online: online !== '0', numaNode, curFreq, minFreq, maxFreq, cache };
}

/** resources.cpu, with a warning when offline CPUs had to be placed by inference. */
export async function readCpu(host: Host): Promise<AreaReading<CpuResources>> {
  // Same order as Go's sorted ReadDir: cpu0, cpu1, cpu10, …, which decides thread numbering.
  // Stryker disable next-line MethodExpression: the other entries (cpufreq, cpuidle, online, …) have neither topology/ nor an online file of their own, so they are dropped anyway
  const names = (await host.list(SDC)).filter((e) => /^cpu\d+$/.test(e));
  const [raw, cpuinfo, isolatedText, uname] = await Promise.all([
    Promise.all(names.map((n) => readThread(host, n))),
    host.readText('/proc/cpuinfo'),
    host.readOptional(`${SDC}/isolated`),
    host.uname(),
  ]);
  const threads = raw.filter((t): t is RawThread => t !== undefined && !('offline' in t));
  const hidden = raw.filter((t): t is { offline: OfflineCpu } => t !== undefined && 'offline' in t).map((t) => t.offline);
  const warnings: string[] = [];
  if (hidden.length > 0) {
    warnings.push(`cpu: offline CPU(s) ${hidden.map((c) => c.id).join(',')} have no topology: placed by their NUMA node, socket and core inferred (partial data)`);
  }
  const sockets = buildCpuTree([...threads, ...placeOfflineCpus(threads, hidden)], parseCpuinfo(cpuinfo ?? ''), isolatedCpus(isolatedText));
  return { value: { architecture: uname.machine, sockets, total: threads.length + hidden.length }, warnings };
}

/** The isolated CPUs; a list that cannot be read or parsed counts as none. */
function isolatedCpus(text: string | undefined): Set<number> {
  try {
    // Stryker disable next-line StringLiteral: an unparsable list counts as none, so neither the empty default nor the path named in the dropped error changes anything
    return new Set(parseCpuset(text ?? '', `${SDC}/isolated`));
  } catch {
    return new Set();
  }
}
