// Unpacks a hardware-zoo capture (a real machine's /sys, /proc, udev and /dev/disk trees, plus
// command outputs from the same boot) into a temp directory, once per test file.
import { execa } from 'execa';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { createHost, type Host } from '../../src/host/host.js';
import type { RunCommand } from '../../src/host/run-command.js';
import { ZOO } from './fixtures.js';
import { notFound } from './make-root.js';

export { ZOO };

export type ZooMachine = 'm1' | 'm2' | 'm3';

/** What a test gets for a zoo machine. */
export interface Zoo {
  root: string;
  expected: ZooExpected;
  /** A Host on the capture; commands replay the capture's own outputs (the machine is not here). */
  host(options?: { isRoot?: boolean }): Host;
}

/** The parts of expected.json the tests read. */
export interface ZooExpected {
  cpu: { logical: number; sockets: number; cpus: { cpu: number; socket: number; core_id: number; thread: number; online: boolean }[] };
  memory_bytes: number;
  numa: { nodes: { node: number; cpulist: string; memory_bytes: number }[] };
  disks: {
    kernel_name: string;
    size_bytes: number;
    serial: string;
    model: string | null;
    rotational: boolean;
    removable: boolean;
    transport: string;
    pci: string;
    wwn?: string;
    nvme?: { wwid: string };
    partition_table: { partitions: { number: number; size_bytes: number; filesystem?: { uuid: string } }[] } | null;
    by_id: string[];
  }[];
  nics: { mac: string; driver: string; pci: string; name_observed: string; ipv4: string[]; ipv6: string[]; bond_slave_of?: string; bridge_port_of?: string }[];
  virtual_interfaces: { name: string; kind: string; mode?: string; vlan_id?: number; ipv4: string[] }[];
  dmi: Record<string, string>;
  dmi_absent: string[];
  hugepages: Record<string, { total: number; per_node?: Record<string, number> }>;
}

/** Replays `zoo/cmd/<name>.out` for the exact command lines the capture recorded. */
async function replay(root: string): Promise<RunCommand> {
  const dir = join(root, 'zoo/cmd');
  const outputs = new Map<string, { stdout: string; rc: number }>();
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.cmdline'))) {
    const base = file.slice(0, -'.cmdline'.length);
    const [cmdline, stdout, rc] = await Promise.all(['cmdline', 'out', 'rc'].map((ext) => readFile(join(dir, `${base}.${ext}`), 'utf8').catch(() => '')));
    outputs.set(cmdline!.trim(), { stdout: stdout!, rc: Number(rc!.trim() || '0') });
  }
  return async (file, args) => {
    const command = [file, ...args].join(' ');
    const hit = outputs.get(command);
    if (!hit) return notFound(file, args);
    return { command, exitCode: hit.rc, stdout: hit.stdout, stderr: '', timedOut: false, notFound: false, failed: hit.rc !== 0 };
  };
}

// Every tree unpacked for the current test file, removed after its last test. The hook is
// registered here, as the file imports this module (each test file gets its own copy of it):
// useZoo is mostly called from a beforeAll hook or a test, where registering a hook of its own
// is too late to take effect, and the trees stayed behind in the temporary directory.
const unpacked = new Set<string>();
afterAll(async () => {
  await Promise.all([...unpacked].map((root) => rm(root, { recursive: true, force: true })));
  unpacked.clear();
});

/** Unpacks machine `m` for the current test file (removed after it). */
export async function useZoo(m: ZooMachine): Promise<Zoo> {
  const root = await mkdtemp(join(tmpdir(), `mrs-zoo-${m}-`));
  unpacked.add(root);
  // The system tar keeps the capture's symlinks exactly as the kernel made them.
  await execa('tar', ['-xzf', join(ZOO, m, 'capture.tar.gz'), '-C', root]);
  const expected = JSON.parse(await readFile(join(ZOO, m, 'expected.json'), 'utf8')) as ZooExpected;
  const run = await replay(root);
  return {
    root,
    expected,
    host: (options = {}) =>
      createHost({ root, run, isRoot: options.isRoot ?? true, uname: { sysname: 'Linux', nodename: `zoo-${m}`, release: '6.1.0-zoo', machine: 'x86_64' } }),
  };
}
