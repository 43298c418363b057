// `diff` and report-results' change line as users run them: the built CLI as a subprocess against
// the bundled server on 127.0.0.1, reading machine trees written from the edge machine's
// description (test/collectors/edge-machine.ts) and variants of it with a disk added, a NIC
// removed, more memory, or only the values an idle machine moves.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MaasClient } from '../../src/maas/client.js';
import { credsYaml } from '../../src/maas/credentials.js';
import type { RunningServer } from '../../src/server/server.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { link, writeTree, type Tree } from '../helpers/make-root.js';
import { edgeMachine } from '../collectors/edge-machine.js';
import { deployedMachine as deployedMachineOf, startCliServer, stopCliServer, type DeployedMachine } from '../helpers/cli-server.js';

let server: RunningServer;
let admin: MaasClient;
let work: string;
let counter = 0;

beforeAll(async () => {
  ({ server, admin, work } = await startCliServer('mrs-diff-'));
});
afterAll(() => stopCliServer(server, work));

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
/** The edge machine's memory: 16 blocks of 128 MiB, the last one offline. */
const BLOCK = 128 * MiB;

/** A machine registered as Deployed, and its creds file. */
function deployedMachine(): Promise<DeployedMachine> {
  return deployedMachineOf(admin, work, server.url);
}

/** Writes `tree` into a new directory under the work directory. */
async function root(name: string, tree: Tree): Promise<string> {
  const dir = join(work, `${name}-${++counter}`);
  await writeTree(dir, tree);
  return dir;
}

/** The edge machine with cpufreq data (so its current clock can move between readings). */
const base = (): Tree => edgeMachine({ cpufreq: true });

/** The same hardware, read a minute later: traffic counted, memory used, clocks and mounts moved. */
function idleLater(): Tree {
  const tree = base();
  tree['proc/net/dev'] = String(tree['proc/net/dev']).replace('5000000    4000', '9100000    7300').replace('300000    2000', '700000    5100');
  tree['proc/meminfo'] = String(tree['proc/meminfo']).replace(/MemFree:\s+\d+/, `MemFree:         ${600 * 1024}`);
  tree['sys/devices/system/node/node0/meminfo'] = String(tree['sys/devices/system/node/node0/meminfo']).replace(/MemUsed:\s+\d+/, `MemUsed:        ${777 * 1024}`);
  for (const key of Object.keys(tree)) if (key.endsWith('cpufreq/scaling_cur_freq')) tree[key] = '3100000\n';
  tree['proc/self/mountinfo'] = String(tree['proc/self/mountinfo']).split('\n')[0] + '\n'; // /boot/efi unmounted
  return tree;
}

const ADDED_DISK = { name: 'vdb', bytes: 500e9, pci: '0000:00:06.0' };
const REMOVED_NIC = { name: 'eth3', pci: '0000:00:1f.6' };

/** The edge machine with a virtio disk added, eth3 (and its VLAN) gone, and its offline memory block online. */
function changed(): Tree {
  const tree = base();
  for (const key of Object.keys(tree)) if (key.includes(REMOVED_NIC.name) || key.includes(REMOVED_NIC.pci)) delete tree[key];
  tree['proc/net/vlan/config'] = String(tree['proc/net/vlan/config']).split('\n').slice(0, 2).join('\n') + '\n';
  const virtio = `sys/devices/pci0000:00/${ADDED_DISK.pci}`;
  Object.assign(tree, {
    [`${virtio}/vendor`]: '0x1af4\n',
    [`${virtio}/device`]: '0x1001\n',
    [`${virtio}/class`]: '0x010000\n',
    [`${virtio}/numa_node`]: '-1\n',
    [`${virtio}/subsystem`]: link('/sys/bus/pci'),
    [`${virtio}/virtio2/subsystem`]: link('/sys/bus/virtio'),
    [`sys/bus/pci/devices/${ADDED_DISK.pci}`]: link(`/${virtio}`),
    [`sys/class/block/${ADDED_DISK.name}`]: link(`/${virtio}/virtio2/block/${ADDED_DISK.name}`),
    [`${virtio}/virtio2/block/${ADDED_DISK.name}/dev`]: '252:16\n',
    [`${virtio}/virtio2/block/${ADDED_DISK.name}/size`]: `${ADDED_DISK.bytes / 512}\n`,
    [`${virtio}/virtio2/block/${ADDED_DISK.name}/ro`]: '0\n',
    [`${virtio}/virtio2/block/${ADDED_DISK.name}/removable`]: '0\n',
    [`${virtio}/virtio2/block/${ADDED_DISK.name}/queue/rotational`]: '1\n',
    [`${virtio}/virtio2/block/${ADDED_DISK.name}/queue/physical_block_size`]: '512\n',
    [`${virtio}/virtio2/block/${ADDED_DISK.name}/device`]: link(`/${virtio}/virtio2`),
    [`${virtio}/virtio2/block/${ADDED_DISK.name}/serial`]: 'VDB-SERIAL-2\n',
    'sys/devices/system/memory/memory15/online': '1\n',
  });
  return tree;
}

function diff(creds: string, tree: string, ...args: string[]): Promise<CliRun> {
  return runCli(['diff', '--config', creds, '--root', tree, ...args]);
}

function report(machine: { creds: string; stateDir: string }, tree: string, ...args: string[]): Promise<CliRun> {
  return runCli(['report-results', '--config', machine.creds, '--state-dir', machine.stateDir, '--root', tree, ...args]);
}

interface DiffJson {
  baseline: { script: string; script_result_id: number } | null;
  changed: boolean;
  changes: { area: string; change: string; name: string; text: string; fields?: Record<string, { before: unknown; after: unknown }> }[];
  summary: string;
}

describe('diff against the report MAAS holds', () => {
  it('names a disk added, a NIC removed and memory changed; an idle re-read and the delivered state show no change', async () => {
    const machine = await deployedMachine();
    const [original, idle, upgraded] = await Promise.all([root('base', base()), root('idle', idleLater()), root('changed', changed())]);

    // Nothing reported yet: nothing to compare with, said in one line.
    const before = await diff(machine.creds, original);
    expect(before.exitCode, before.stderr).toBe(0);
    expect(before.stdout).toMatch(/holds no hardware report from this machine yet/);

    const first = await report(machine, original);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/changes: first hardware report/);

    // The same hardware a minute later: counters, memory in use, clocks and mounts moved.
    for (const tree of [original, idle]) {
      const same = await diff(machine.creds, tree);
      expect(same.exitCode, same.stderr).toBe(0);
      expect(same.stdout).toMatch(/^no hardware changes since the report MAAS holds/);
      const json = JSON.parse((await diff(machine.creds, tree, '--json')).stdout) as DiffJson;
      expect(json.changed).toBe(false);
      expect(json.changes).toEqual([]);
      expect(json.baseline?.script).toBe('20-maas-03-machine-resources');
    }

    // A disk added, a NIC removed, a memory block brought online: each named.
    const run = await diff(machine.creds, upgraded);
    expect(run.exitCode, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^\d+ hardware change\(s\) since the report MAAS holds/);
    expect(run.stdout).toMatch(new RegExp(`^  disk ${ADDED_DISK.name} added \\(${ADDED_DISK.bytes / 1e9} GB`, 'm'));
    expect(run.stdout).toMatch(new RegExp(`^  NIC ${REMOVED_NIC.name} removed \\(00:1b:21:ee:ff:03`, 'm'));
    const memoryBefore = `${Number(((15 * BLOCK) / GiB).toFixed(2))} GiB`;
    const memoryAfter = `${Number(((16 * BLOCK) / GiB).toFixed(2))} GiB`;
    expect(run.stdout).toContain(`  memory changed: total ${memoryBefore} → ${memoryAfter}`);
    // The PCI functions that came and went with them, and nothing else.
    expect(run.stdout).toMatch(new RegExp(`^  PCI device ${ADDED_DISK.pci} added`, 'm'));
    expect(run.stdout).toMatch(new RegExp(`^  PCI device ${REMOVED_NIC.pci} removed`, 'm'));
    expect(lines).toHaveLength(6);

    const json = JSON.parse((await diff(machine.creds, upgraded, '--json')).stdout) as DiffJson;
    expect(json.changed).toBe(true);
    const brief = json.changes.map((c) => [c.area, c.change, c.name]);
    expect(brief).toEqual(
      expect.arrayContaining([
        ['disk', 'added', ADDED_DISK.name],
        ['nic', 'removed', REMOVED_NIC.name],
        ['memory', 'changed', 'memory'],
        ['pci', 'added', ADDED_DISK.pci],
        ['pci', 'removed', REMOVED_NIC.pci],
      ]),
    );
    expect(json.changes).toHaveLength(5);
    expect(json.changes.find((c) => c.area === 'memory')!.fields).toEqual({ total: { before: memoryBefore, after: memoryAfter } });

    // report-results says the same in one line when it delivers, then MAAS holds the new state.
    const second = await report(machine, upgraded);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stdout).toContain(json.summary);
    expect(json.summary).toBe(`changes: ${json.changes.map((c) => c.text).join('; ')}`);
    const after = await diff(machine.creds, upgraded);
    expect(after.stdout).toMatch(/^no hardware changes/);
    const third = await report(machine, upgraded, '--json');
    expect((JSON.parse(third.stdout) as { hardware_changes?: string }).hardware_changes).toBe('no hardware changes');
  });

  it('refuses in one line without credentials, and with credentials MAAS does not know', async () => {
    const none = await runCli(['diff']);
    expect(none.exitCode).toBe(2);
    expect(none.stderr.trim().split('\n')).toHaveLength(1);
    expect(none.stderr).toMatch(/--config FILE/);
    const machine = await deployedMachine();
    const tree = await root('base', base());
    const stranger = join(work, 'stranger-creds.yaml');
    await writeFile(stranger, credsYaml({ consumer_key: 'a', endpoint: `${server.url}/metadata/status/nosuch`, token_key: 'b', token_secret: 'c' }), { mode: 0o600 });
    const refused = await runCli(['diff', '--config', stranger, '--root', tree], { env: { MAAS_RUN_SCRIPTS_ATTEMPTS: '1' } });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/401/);
    expect((await diff(machine.creds, tree)).exitCode).toBe(0);
  });
});
