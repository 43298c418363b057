// Memory and NUMA nodes MAAS derives from `resources.memory` and the CPU threads
// (docs/protocol.md §7.4).
import type { HardwareNumaNode } from './hardware.js';
import { optionalCount, optionalList, optionalObject, requireCount, requireObject, type JsonObject } from './validate.js';

const MIB = 1024 * 1024;

/** One NUMA node as this report describes it. */
export interface NumaFacts {
  cores: number[];
  memoryMib: number;
  hugepagesTotal: number;
}

/** What the memory section yields, merged with the CPU section's thread lists. */
export interface MemoryFacts {
  memoryMib: number;
  hugepagesSize: number;
  /** Index → node, in first-seen order (threads first, then memory nodes). */
  nodes: Map<number, NumaFacts>;
}

/** Parses `resources.memory`; nodes without memory data get 0 MiB, as in MAAS. */
export function parseMemory(resources: JsonObject, numaCores: Map<number, number[]>): MemoryFacts {
  const memory = optionalObject(resources.memory, 'resources.memory') ?? {};
  const total = optionalCount(memory.total, 'resources.memory.total') ?? 0;
  const hugepagesSize = optionalCount(memory.hugepages_size, 'resources.memory.hugepages_size') ?? 0;

  const nodes = new Map<number, NumaFacts>();
  for (const [index, cores] of numaCores) nodes.set(index, { cores: [...cores], memoryMib: 0, hugepagesTotal: 0 });
  const node = (index: number): NumaFacts => {
    let found = nodes.get(index);
    if (!found) nodes.set(index, (found = { cores: [], memoryMib: 0, hugepagesTotal: 0 }));
    return found;
  };

  // Without per-node data (no NUMA in the kernel) node 0 gets the whole memory.
  const memoryNodes = memory.nodes === undefined || memory.nodes === null ? [{ numa_node: 0, total }] : optionalList(memory.nodes, 'resources.memory.nodes');
  memoryNodes.forEach((value, i) => {
    const path = `resources.memory.nodes[${i}]`;
    const entry = requireObject(value, path);
    const target = node(requireCount(entry.numa_node, `${path}.numa_node`));
    target.memoryMib = Math.trunc((optionalCount(entry.total, `${path}.total`) ?? 0) / MIB);
    target.hugepagesTotal = optionalCount(entry.hugepages_total, `${path}.hugepages_total`) ?? 0;
  });
  return { memoryMib: Math.trunc(total / MIB), hugepagesSize, nodes };
}

/**
 * Updates the stored NUMA nodes from a report: described nodes get their cores and memory,
 * others are kept as they were (MAAS never deletes NUMA nodes). Hugepage records (by page size)
 * are stored only for deployed machines with a non-zero hugepage size.
 */
export function updateNumaNodes(previous: readonly HardwareNumaNode[], facts: MemoryFacts, deployed: boolean): HardwareNumaNode[] {
  const byIndex = new Map(previous.map((n) => [n.index, { ...n, cores: [...n.cores], hugepages: n.hugepages.map((h) => ({ ...h })) }]));
  for (const [index, fact] of facts.nodes) {
    const node = byIndex.get(index) ?? { index, cores: [], memoryMib: 0, hugepages: [] };
    node.cores = [...fact.cores];
    node.memoryMib = fact.memoryMib;
    if (deployed && facts.hugepagesSize) {
      const record = node.hugepages.find((h) => h.pageSize === facts.hugepagesSize);
      if (record) record.total = fact.hugepagesTotal;
      else node.hugepages.push({ pageSize: facts.hugepagesSize, total: fact.hugepagesTotal });
    }
    byIndex.set(index, node);
  }
  return [...byIndex.values()].sort((a, b) => a.index - b.index);
}
