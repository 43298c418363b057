// CPU facts MAAS derives from `resources.cpu` (docs/protocol.md §7.3, §7.4).
import { optionalCount, optionalList, optionalNumber, optionalObject, optionalString, requireCount, requireNumber, requireObject, type JsonObject } from './validate.js';

/** What the CPU section yields: count, speed in MHz, model, and thread ids per NUMA node. */
export interface CpuFacts {
  cpuCount: number;
  cpuSpeed: number;
  cpuModel: string | null;
  /** NUMA node index → thread ids, in the order the report lists them. */
  numaCores: Map<number, number[]>;
}

// "<anything> @ 2.40GHz" at the end of a line of the socket name.
const SPEED_IN_NAME = /\s@\s(\d+\.\d+)GHz$/m;

/** Parses `resources.cpu` (absent → zeros) the way MAAS's parse_lxd_cpuinfo does. */
export function parseCpu(resources: JsonObject): CpuFacts {
  const cpu = optionalObject(resources.cpu, 'resources.cpu') ?? {};
  const cpuCount = optionalCount(cpu.total, 'resources.cpu.total') ?? 0;
  const sockets = optionalList(cpu.sockets, 'resources.cpu.sockets').map((s, i) => requireObject(s, `resources.cpu.sockets[${i}]`));

  const names: string[] = [];
  const numaCores = new Map<number, number[]>();
  sockets.forEach((socket, s) => {
    const name = optionalString(socket.name, `resources.cpu.sockets[${s}].name`);
    if (name !== undefined) names.push(name);
    optionalList(socket.cores, `resources.cpu.sockets[${s}].cores`).forEach((coreValue, c) => {
      const core = requireObject(coreValue, `resources.cpu.sockets[${s}].cores[${c}]`);
      optionalList(core.threads, `resources.cpu.sockets[${s}].cores[${c}].threads`).forEach((threadValue, t) => {
        const path = `resources.cpu.sockets[${s}].cores[${c}].threads[${t}]`;
        const thread = requireObject(threadValue, path);
        const id = requireCount(thread.id, `${path}.id`);
        const node = requireCount(thread.numa_node, `${path}.numa_node`);
        const list = numaCores.get(node) ?? [];
        list.push(id);
        numaCores.set(node, list);
      });
    });
  });

  let cpuModel: string | null = null;
  let cpuSpeed = 0;
  const common = names[0];
  if (common !== undefined && names.every((n) => n === common)) {
    // The model is the first non-empty line of the name, cut before " @" when it has an "@".
    const firstLine = /[^\n]+/.exec(common)?.[0];
    if (firstLine !== undefined) cpuModel = firstLine.includes('@') ? (firstLine.split(' @')[0] ?? '') : firstLine;
    const speed = SPEED_IN_NAME.exec(common);
    // Truncating the binary product is a MAAS quirk: "2.01GHz" gives 2009, not 2010.
    if (speed?.[1] !== undefined) cpuSpeed = Math.trunc(Number.parseFloat(speed[1]) * 1000);
  }
  if (!cpuSpeed) cpuSpeed = speedFromFrequencies(sockets);
  return { cpuCount, cpuSpeed, cpuModel, numaCores };
}

function speedFromFrequencies(sockets: JsonObject[]): number {
  let turbo = 0;
  sockets.forEach((socket, s) => {
    const value = optionalNumber(socket.frequency_turbo, `resources.cpu.sockets[${s}].frequency_turbo`) ?? 0;
    if (value > turbo) turbo = value;
  });
  if (turbo) return turbo;
  let sum = 0;
  sockets.forEach((socket, s) => {
    sum += socket.frequency === undefined ? 0 : requireNumber(socket.frequency, `resources.cpu.sockets[${s}].frequency`);
  });
  if (!sum) return 0;
  return roundHalfEven(sum / sockets.length / 100) * 100;
}

/** Rounds to the nearest integer, ties to even (Python's round()): 22.5 → 22, 23.5 → 24. */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}
