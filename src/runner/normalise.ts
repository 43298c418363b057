// What counts as "the same hardware data" for change-only sync: each built-in result's outputs
// with the values that move on an idle machine taken out (traffic counters, memory in use,
// current CPU clock, mount state and file-system timestamps, temp-file names). Two runs whose
// normalised outputs match describe the same hardware, so the second need not be uploaded.
// Pure functions: text in, text out.

/** Normalises one output file of a script. */
export type Normaliser = (text: string) => string;

const identity: Normaliser = (text) => text;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objects(value: Json | undefined): JsonObject[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

/**
 * The machine-resources document without what changes while the hardware does not: every
 * interface's `counters`; memory `used` and `hugepages_used` (machine and per node); the
 * current CPU `frequency` of sockets and cores (the minimum and turbo frequencies stay); disk
 * and partition `mounted`. MAAS derives nothing from these (docs/protocol.md §7), except a socket's
 * current frequency as the last fallback for cpu_speed when the CPU has neither a model speed
 * nor a turbo frequency, and that value jitters from run to run. Text that is not a JSON
 * object (a failed run) is returned as it is.
 */
export function normaliseResources(text: string): string {
  let document: Json;
  try {
    document = JSON.parse(text) as Json;
  } catch {
    return text;
  }
  if (!isObject(document)) return text;
  const networks = document.networks;
  if (isObject(networks)) {
    for (const state of Object.values(networks)) if (isObject(state)) delete state.counters;
  }
  const resources = isObject(document.resources) ? document.resources : {};
  const memory = resources.memory;
  if (isObject(memory)) {
    for (const holder of [memory, ...objects(memory.nodes)]) {
      delete holder.used;
      delete holder.hugepages_used;
    }
  }
  const cpu = resources.cpu;
  if (isObject(cpu)) {
    for (const socket of objects(cpu.sockets)) {
      delete socket.frequency;
      for (const core of objects(socket.cores)) delete core.frequency;
    }
  }
  const storage = resources.storage;
  if (isObject(storage)) {
    for (const disk of objects(storage.disks)) {
      delete disk.mounted;
      for (const partition of objects(disk.partitions)) delete partition.mounted;
    }
  }
  return JSON.stringify(document);
}

// lshw prints a file system's last mount and last write times as settings of its volume node.
const LSHW_TIMESTAMP_SETTING = /^\s*<setting id="(?:mounted|modified)" value="[^"]*"\s*\/>\s*$/;
const LSHW_NODE_OPEN = /^\s*<node\b[^>]*?\bclass="([^"]*)"[^>]*>\s*$/;
const LSHW_NODE_CLOSE = /^\s*<\/node>\s*$/;
// A processor node's <size units="Hz"> is its current clock (its <capacity> is the maximum).
const LSHW_SIZE_HZ = /^\s*<size units="Hz">\d+<\/size>\s*$/;

/**
 * `lshw -xml` without the file systems' last-mount and last-write times and the processors'
 * current clock. Works line by line on lshw's own layout (one element per line); anything else
 * passes unchanged.
 */
export function normaliseLshw(text: string): string {
  const classes: string[] = [];
  const kept: string[] = [];
  for (const line of text.split('\n')) {
    const open = LSHW_NODE_OPEN.exec(line);
    if (open) classes.push(open[1]!);
    else if (LSHW_NODE_CLOSE.test(line)) classes.pop();
    else if (LSHW_TIMESTAMP_SETTING.test(line)) continue;
    else if (classes[classes.length - 1] === 'processor' && LSHW_SIZE_HZ.test(line)) continue;
    kept.push(line);
  }
  return kept.join('\n');
}

/** The support report and its notes without the name of the temporary directory the DMI table was dumped into. */
export function normaliseSupportInfo(text: string): string {
  return text.replace(/maas-run-scripts-dmi-[A-Za-z0-9]+/g, 'maas-run-scripts-dmi-XXXXXX');
}

const BY_SCRIPT: Record<string, { out: Normaliser; err: Normaliser }> = {
  '20-maas-03-machine-resources': { out: normaliseResources, err: identity },
  '50-maas-01-commissioning': { out: normaliseResources, err: identity },
  'maas-lshw': { out: normaliseLshw, err: identity },
  'maas-support-info': { out: normaliseSupportInfo, err: normaliseSupportInfo },
};

/**
 * The normaliser for file `fileName` of script `scriptName`'s result: `.out` and `.err` of the
 * scripts above have their own; anything else (modaliases, serial ports, `.yaml`) is taken as it is.
 */
export function normaliserFor(scriptName: string, fileName: string): Normaliser {
  const rules = BY_SCRIPT[scriptName];
  if (!rules) return identity;
  if (fileName === `${scriptName}.out`) return rules.out;
  if (fileName === `${scriptName}.err`) return rules.err;
  return identity;
}
