// The resources document read from a captured tree of a real machine (test/fixtures/trees, made
// by scripts/capture-tree.mjs on a 2-CPU KVM guest with a virtio disk and NIC), checked against
// what independent tools (nproc, lscpu, lsmem, lsblk, ip, the PCI bus listing) said of the same
// machine at capture time.
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectMachineResources } from '../../collectors/resources.js';
import { createHost } from '../../src/host/host.js';
import { createRunCommand } from '../../src/host/run-command.js';
import type { MachineResources } from '../../src/resources/types.js';
import { PROJECT_ROOT } from '../helpers/cli.js';
import { removeTree, tempDir } from '../helpers/trees.js';

const TREES = join(PROJECT_ROOT, 'test/fixtures/trees');

interface GroundTruth {
  nproc: number;
  lscpu: { lscpu: { field: string; data: string }[] };
  lsmem: { memory: { size: number; state: string }[] };
  lsblk: { blockdevices: { name: string; size: number; type: string; rota: boolean; rm: boolean }[] };
  ip_link: { ifname: string; address?: string; link_type: string }[];
  pci_addresses: string[];
}

describe('resources from the captured tree of a KVM guest', () => {
  let doc: MachineResources;
  let truth: GroundTruth;
  const lscpu = (field: string) => truth.lscpu.lscpu.find((f) => f.field === `${field}:`)?.data;

  let root: string;
  beforeAll(async () => {
    truth = JSON.parse(await readFile(join(TREES, 'kvm-2cpu.truth.json'), 'utf8')) as GroundTruth;
    root = await tempDir();
    await execa('tar', ['-xzf', join(TREES, 'kvm-2cpu.tar.gz'), '-C', root]);
    // No tool is run on a tree: what the collector knows comes from the captured files alone.
    const host = createHost({ root, run: createRunCommand({ searchPath: [] }) });
    ({ document: doc } = await collectMachineResources(host));
  });
  afterAll(() => removeTree(root));

  it('counts the CPUs, sockets, cores and threads lscpu counted, with its vendor and model', () => {
    const cpu = doc.resources.cpu;
    expect(cpu.total).toBe(truth.nproc);
    expect(cpu.sockets).toHaveLength(Number(lscpu('Socket(s)')));
    for (const socket of cpu.sockets ?? []) {
      expect(socket.cores).toHaveLength(Number(lscpu('Core(s) per socket')));
      for (const core of socket.cores) expect(core.threads).toHaveLength(Number(lscpu('Thread(s) per core')));
      expect(socket.vendor).toBe(lscpu('Vendor ID'));
      expect(socket.name).toBe(lscpu('Model name'));
    }
    expect(cpu.architecture).toBe(lscpu('Architecture'));
  });

  it('reports the memory lsmem finds online', () => {
    const online = truth.lsmem.memory.filter((r) => r.state === 'online').reduce((sum, r) => sum + r.size, 0);
    expect(doc.resources.memory.total).toBe(online);
    expect(doc.resources.memory.nodes?.map((n) => n.numa_node)).toEqual([0]);
  });

  it('lists the disks lsblk lists, with their sizes, rotation and removability (an unused zram device has no size and is left out)', () => {
    const disks = truth.lsblk.blockdevices.filter((d) => d.type === 'disk' && d.size > 0);
    expect(doc.resources.storage.disks?.map((d) => d.id)).toEqual(disks.map((d) => d.name));
    for (const want of disks) {
      const disk = doc.resources.storage.disks!.find((d) => d.id === want.name)!;
      expect(disk.size).toBe(want.size);
      expect(disk.rpm > 0).toBe(want.rota);
      expect(disk.removable).toBe(want.rm);
      expect(disk.type).toBe('virtio');
    }
  });

  it('has eth0 as the one NIC port, with the MAC ip showed, and no port for lo or the ifb devices', () => {
    const ports = (doc.resources.network.cards ?? []).flatMap((c) => (c.ports ?? []).map((p) => ({ ...p, card: c })));
    const eth0 = truth.ip_link.find((l) => l.ifname === 'eth0')!;
    expect(ports.map((p) => p.id)).toEqual(['eth0']);
    expect(ports[0]!.address).toBe(eth0.address);
    expect(ports[0]!.card.driver).toBe('virtio_net');
    expect(truth.pci_addresses).toContain(ports[0]!.card.pci_address);
  });

  it('lists every device on the PCI bus', () => {
    expect((doc.resources.pci.devices ?? []).map((d) => d.pci_address).sort()).toEqual(truth.pci_addresses);
  });
});
