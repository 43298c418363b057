// resources.memory: totals and hugepages from /proc/meminfo and memory blocks, per NUMA node.
import type { Host } from '../src/host/host.js';
import type { AreaReading, MemoryNode, MemoryResources } from '../src/resources/types.js';

const NODES = '/sys/devices/system/node';
const MEMORY = '/sys/devices/system/memory';

/**
 * Parses /proc/meminfo or a node's meminfo ("Node 0 MemTotal: 123 kB") into a key → value map.
 * Values with "kB" are KiB and come back in bytes; bare counts (HugePages_Total) stay counts. Pure.
 */
export function parseMeminfo(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(?:Node \d+ )?([\w()]+):\s+(\d+)(\s*kB)?\s*$/.exec(line);
    if (m) values.set(m[1]!, Number(m[2]) * (m[3] ? 1024 : 1));
  }
  return values;
}

/** Memory block numbers (memoryN entries) of a directory listing. Pure. */
export function memoryBlocks(entries: readonly string[]): string[] {
  return entries.filter((e) => /^memory\d+$/.test(e));
}

/**
 * The memory blocks that are online. A machine has hundreds or thousands of them; `online` is the
 * kernel's own bookkeeping, which the Host reads inline (host.ts), so this stays cheap. A block
 * removed by hot-unplug while listing, or unreadable, is not counted.
 */
async function onlineBlocks(host: Host, blocks: readonly string[]): Promise<Set<string>> {
  const states = await Promise.all(blocks.map((block) => host.readOptional(`${MEMORY}/${block}/online`).catch(() => undefined)));
  return new Set(blocks.filter((_, i) => states[i] === '1'));
}

/** Reads resources.memory. */
export async function readMemory(host: Host): Promise<AreaReading<MemoryResources>> {
  const [meminfoText, blockSizeText, memoryEntries, nodeEntries] = await Promise.all([
    host.readRequired('/proc/meminfo'),
    host.readOptional(`${MEMORY}/block_size_bytes`),
    host.list(MEMORY),
    host.list(NODES),
  ]);
  const info = parseMeminfo(meminfoText);
  const blockSize = blockSizeText ? parseInt(blockSizeText, 16) || 0 : 0;
  const hugeSize = info.get('Hugepagesize') ?? 0;
  const hugeTotal = (info.get('HugePages_Total') ?? 0) * hugeSize;
  const hugeFree = (info.get('HugePages_Free') ?? 0) * hugeSize;
  const memTotal = info.get('MemTotal') ?? 0;
  const online = blockSize > 0 ? await onlineBlocks(host, memoryBlocks(memoryEntries)) : new Set<string>();
  const blocksTotal = online.size * blockSize;
  const total = blocksTotal > 0 ? blocksTotal : memTotal;

  const nodeNames = nodeEntries.filter((e) => /^node\d+$/.test(e));
  const nodes = (
    await Promise.all(
      nodeNames.map(async (name): Promise<MemoryNode | undefined> => {
        const dir = `${NODES}/${name}`;
        const [text, entries] = await Promise.all([host.readText(`${dir}/meminfo`), host.list(dir)]);
        if (text === undefined) return undefined;
        const node = parseMeminfo(text);
        const nodeBlocks = memoryBlocks(entries).filter((b) => online.has(b)).length * blockSize;
        return {
          numa_node: Number(name.slice(4)),
          hugepages_used: ((node.get('HugePages_Total') ?? 0) - (node.get('HugePages_Free') ?? 0)) * hugeSize,
          hugepages_total: (node.get('HugePages_Total') ?? 0) * hugeSize,
          used: node.get('MemUsed') ?? 0,
          total: nodeBlocks > 0 ? nodeBlocks : (node.get('MemTotal') ?? 0),
        };
      }),
    )
  ).filter((n): n is MemoryNode => n !== undefined);
  nodes.sort((a, b) => a.numa_node - b.numa_node);

  const memory: MemoryResources = {
    ...(nodes.length > 0 ? { nodes } : {}),
    hugepages_total: hugeTotal,
    hugepages_used: hugeTotal - hugeFree,
    hugepages_size: hugeSize,
    used: Math.max(0, memTotal - (info.get('MemFree') ?? 0) - (info.get('Cached') ?? 0) - (info.get('Buffers') ?? 0)),
    total,
  };
  return { value: memory, warnings: [] };
}
