// The whole resources document on three real machines' captured trees, checked against each
// machine's known hardware (expected.json, written from the qemu command line).
import { beforeAll, describe, expect, it } from 'vitest';
import { collectMachineResources } from '../../collectors/resources.js';
import type { Disk, MachineResources } from '../../src/resources/types.js';
import { parseCpuset } from '../../collectors/lib/cpuset.js';
import { useZoo, type Zoo } from '../helpers/zoo.js';
import { readlink } from 'node:fs/promises';
import { basename, join } from 'node:path';

const MiB = 1024 * 1024;

function threads(doc: MachineResources) {
  return (doc.resources.cpu.sockets ?? []).flatMap((s) => s.cores.flatMap((c) => c.threads.map((t) => ({ ...t, socket: s.socket, core: c.core }))));
}

function diskBySerial(doc: MachineResources, serial: string): Disk {
  const disk = doc.resources.storage.disks?.find((d) => d.serial === serial);
  if (!disk) throw new Error(`no disk with serial ${serial}`);
  return disk;
}

function portsById(doc: MachineResources) {
  return new Map((doc.resources.network.cards ?? []).flatMap((c) => (c.ports ?? []).map((p) => [p.id, { card: c, port: p }] as const)));
}

function checkCommon(get: () => { zoo: Zoo; doc: MachineResources }) {
  it('places every CPU thread in its socket and core and counts them all', () => {
    const { zoo, doc } = get();
    expect(doc.resources.cpu.total).toBe(zoo.expected.cpu.logical);
    const placed = new Map(threads(doc).map((t) => [t.id, t]));
    for (const cpu of zoo.expected.cpu.cpus.filter((c) => c.online)) {
      expect(placed.get(cpu.cpu), `cpu${cpu.cpu}`).toMatchObject({ socket: cpu.socket, core: cpu.core_id, online: true });
    }
  });

  it('reports the configured memory and each NUMA node with its memory and CPUs', () => {
    const { zoo, doc } = get();
    expect(doc.resources.memory.total).toBe(zoo.expected.memory_bytes);
    const nodes = doc.resources.memory.nodes ?? [];
    expect(nodes.map((n) => n.numa_node)).toEqual(zoo.expected.numa.nodes.map((n) => n.node));
    for (const node of zoo.expected.numa.nodes) {
      const got = nodes.find((n) => n.numa_node === node.node)!;
      // The kernel keeps a little of each node for itself: allow 15%.
      expect(Math.abs(got.total - node.memory_bytes)).toBeLessThan(node.memory_bytes * 0.15);
    }
    for (const t of threads(doc)) {
      const node = zoo.expected.numa.nodes.find((n) => n.node === t.numa_node)!;
      expect(parseCpuset(node.cpulist)).toContain(t.id);
    }
  });

  it('finds every disk by its serial with size, model, rotation, removability, transport and by-id link', async () => {
    const { zoo, doc } = get();
    for (const want of zoo.expected.disks) {
      const disk = diskBySerial(doc, want.serial);
      if (want.size_bytes !== null) expect(disk.size).toBe(want.size_bytes);
      // device_id is one of the disk's by-id links (LXD keeps the last), so it leads to the disk.
      expect(basename(await readlink(join(zoo.root, 'dev/disk/by-id', disk.device_id)))).toBe(disk.id);
      for (const name of want.by_id) expect(basename(await readlink(join(zoo.root, 'dev/disk/by-id', name)))).toBe(disk.id);
      if (want.model) expect(disk.model).toBe(want.model);
      expect(disk.rpm > 0).toBe(want.rotational);
      expect(disk.removable).toBe(want.removable);
      expect(disk.pci_address).toBe(want.pci);
      expect(disk.block_size).toBeGreaterThanOrEqual(512);
      if (want.nvme) expect(disk.wwn).toBe(want.nvme.wwid);
      const partitions = want.partition_table?.partitions ?? [];
      expect(disk.partitions?.map((p) => [p.partition, p.size])).toEqual(partitions.map((p) => [p.number, p.size_bytes]));
      for (const p of partitions) {
        if (p.filesystem) expect(disk.partitions?.find((x) => x.partition === p.number)?.device_fs_uuid).toBe(p.filesystem.uuid);
      }
    }
  });

  it('lists every NIC port with its permanent MAC, driver and PCI address', () => {
    const { zoo, doc } = get();
    const ports = portsById(doc);
    for (const nic of zoo.expected.nics) {
      const entry = ports.get(nic.name_observed);
      expect(entry, nic.name_observed).toBeDefined();
      expect(entry!.port.address).toBe(nic.mac);
      expect(entry!.card.driver).toBe(nic.driver);
      expect(entry!.card.pci_address).toBe(nic.pci);
    }
  });

  it('gives each interface its addresses with prefix lengths', () => {
    const { zoo, doc } = get();
    const all = [...zoo.expected.nics.map((n) => ({ name: n.name_observed, ipv4: n.ipv4, ipv6: n.ipv6 })), ...zoo.expected.virtual_interfaces.map((v) => ({ name: v.name, ipv4: v.ipv4, ipv6: (v as { ipv6?: string[] }).ipv6 ?? [] }))];
    for (const iface of all) {
      const state = doc.networks[iface.name];
      expect(state, iface.name).toBeDefined();
      const global = state!.addresses.filter((a) => a.scope === 'global').map((a) => `${a.address}/${a.netmask}`);
      expect(global.sort()).toEqual([...iface.ipv4, ...iface.ipv6].sort());
    }
  });

  it('copies the DMI strings and leaves the absent board strings empty', () => {
    const { zoo, doc } = get();
    const sys = doc.resources.system;
    expect(sys.vendor).toBe(zoo.expected.dmi.sys_vendor);
    expect(sys.product).toBe(zoo.expected.dmi.product_name);
    expect(sys.version).toBe(zoo.expected.dmi.product_version);
    expect(sys.firmware).toEqual({ vendor: zoo.expected.dmi.bios_vendor, date: zoo.expected.dmi.bios_date, version: zoo.expected.dmi.bios_version });
    expect(sys.chassis?.type).toBe('Other'); // SMBIOS chassis type 1
    expect(sys.motherboard).toEqual({ vendor: '', product: '', serial: '', version: '' });
  });

  it('reports hugepages in bytes', () => {
    const { zoo, doc } = get();
    const huge = zoo.expected.hugepages['2048kB']!;
    expect(doc.resources.memory.hugepages_size).toBe(2 * MiB);
    expect(doc.resources.memory.hugepages_total).toBe(huge.total * 2 * MiB);
    for (const [node, count] of Object.entries(huge.per_node ?? {})) {
      expect(doc.resources.memory.nodes?.find((n) => n.numa_node === Number(node))?.hugepages_total).toBe(count * 2 * MiB);
    }
  });

  it('counts storage as disks plus partitions and PCI devices one by one', () => {
    const { doc } = get();
    const disks = doc.resources.storage.disks ?? [];
    expect(doc.resources.storage.total).toBe(disks.length + disks.reduce((n, d) => n + (d.partitions?.length ?? 0), 0));
    expect(doc.resources.pci.total).toBe(doc.resources.pci.devices?.length);
    expect(doc.resources.pci.devices?.every((d) => /^[0-9a-f]{4}$/.test(d.vendor_id) && /^[0-9a-f]{4}$/.test(d.product_id))).toBe(true);
  });
}

describe('zoo machine m1 (2 sockets × 2 cores × 2 threads, NVMe + SATA + virtio)', () => {
  let zoo: Zoo;
  let doc: MachineResources;
  beforeAll(async () => {
    zoo = await useZoo('m1');
    doc = (await collectMachineResources(zoo.host())).document;
  });
  checkCommon(() => ({ zoo, doc }));

  it('pairs SMT siblings as threads 0 and 1 of one core', () => {
    const core = doc.resources.cpu.sockets![1]!.cores[0]!;
    expect(core.threads.map((t) => [t.id, t.thread])).toEqual([[4, 0], [5, 1]]);
  });

  it('takes the full ATA model from udev, the SATA type and the drive rotation rate', () => {
    const rotating = diskBySerial(doc, 'ZOOSATA-M1-0002');
    expect(rotating.model).toBe('ZOO ROTATING DISK 7200RPM 3TB');
    expect(rotating.type).toBe('sata');
    expect(rotating.rpm).toBe(7200);
    expect(diskBySerial(doc, 'ZOOSATA-M1-0001').rpm).toBe(0);
  });
});

describe('zoo machine m2 (bond of two NICs, VLAN, virtio-scsi with WWN)', () => {
  let zoo: Zoo;
  let doc: MachineResources;
  beforeAll(async () => {
    zoo = await useZoo('m2');
    doc = (await collectMachineResources(zoo.host())).document;
  });
  checkCommon(() => ({ zoo, doc }));

  it('describes the bond with its mode and slaves, and the VLAN with its parent and id', () => {
    const bond = zoo.expected.virtual_interfaces.find((v) => v.kind === 'bond')!;
    expect(doc.networks[bond.name]?.bond).toMatchObject({ mode: bond.mode, mii_frequency: 100, lower_devices: ['ens3', 'ens4'] });
    expect(doc.networks['ens6.100']?.vlan).toEqual({ lower_device: 'ens6', vid: 100 });
    expect(doc.networks.ens3?.bond).toBeNull();
  });

  it('reports the bond MAC as the slaves’ hwaddr but their own permanent MAC on the port', () => {
    const ports = portsById(doc);
    expect(doc.networks.ens3?.hwaddr).toBe(doc.networks.bond0?.hwaddr);
    expect(ports.get('ens3')?.port.address).toBe('52:54:00:12:02:01');
  });

  it('reports the WWN of the disk that has one', () => {
    expect(diskBySerial(doc, 'ZOOSCSI-M2-0002').wwn).toContain('5000c500a1b2c3d4');
  });
});

describe('zoo machine m3 (4 NUMA nodes, cpu3 offline, bridge, CD-ROM, hugepages)', () => {
  let zoo: Zoo;
  let doc: MachineResources;
  let warnings: string[];
  beforeAll(async () => {
    zoo = await useZoo('m3');
    ({ document: doc, warnings } = await collectMachineResources(zoo.host()));
  });
  checkCommon(() => ({ zoo, doc }));

  it('lists the offline CPU, offline, in its socket, core and NUMA node, and says its place is inferred', () => {
    const placed = new Map(threads(doc).map((t) => [t.id, t]));
    expect(zoo.expected.cpu.cpus.some((c) => !c.online)).toBe(true);
    for (const cpu of zoo.expected.cpu.cpus) {
      expect(placed.get(cpu.cpu), `cpu${cpu.cpu}`).toMatchObject({ socket: cpu.socket, core: cpu.core_id, thread: cpu.thread, online: cpu.online });
      const node = zoo.expected.numa.nodes.find((n) => parseCpuset(n.cpulist).includes(cpu.cpu))!;
      expect(placed.get(cpu.cpu)?.numa_node, `cpu${cpu.cpu}`).toBe(node.node);
    }
    expect(doc.resources.cpu.total).toBe(zoo.expected.cpu.logical);
    expect(warnings.join('\n')).toMatch(/offline CPU\(s\) 3 .*inferred/);
  });

  it('describes the bridge and its port', () => {
    expect(doc.networks.br0?.bridge?.upper_devices).toEqual(['enp0s2']);
    expect(doc.networks.br0?.type).toBe('broadcast');
  });

  it('reports the empty CD-ROM as a removable cdrom of size 0', () => {
    const cd = doc.resources.storage.disks?.find((d) => d.type === 'cdrom');
    expect(cd).toMatchObject({ size: 0 });
  });
});
