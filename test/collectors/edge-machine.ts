// A hand-built machine tree with the awkward cases real servers have: two sockets with SMT and
// NUMA, offline and isolated CPUs, NVMe + SATA + USB + virtio + SAS disks with partitions and
// by-id/by-path links, a bond, a bridge, a VLAN, SR-IOV VFs, a GPU and a USB stick.
import { link, type Tree } from '../helpers/make-root.js';

export interface EdgeOptions {
  /** Leave /sys/class/dmi/id out (as on many arm64 boards). */
  noDmi?: boolean;
  /** Give every CPU cpufreq data. */
  cpufreq?: boolean;
  /** Leave the udev database out. */
  noUdev?: boolean;
}

const PCI_ROOT = '/sys/devices/pci0000:00';

/** Adds a PCI function at `path` (under /sys/devices) with ids, class, driver and NUMA node. */
function pci(tree: Tree, path: string, o: { vendor: string; device: string; cls: string; driver?: string; numa?: number; iommu?: number }): void {
  const address = path.split('/').pop()!;
  const dir = path.slice(1);
  tree[`${dir}/vendor`] = `0x${o.vendor}\n`;
  tree[`${dir}/device`] = `0x${o.device}\n`;
  tree[`${dir}/class`] = `${o.cls}\n`;
  tree[`${dir}/numa_node`] = `${o.numa ?? -1}\n`;
  tree[`${dir}/subsystem`] = link('/sys/bus/pci');
  if (o.driver) tree[`${dir}/driver`] = link(`/sys/bus/pci/drivers/${o.driver}`);
  if (o.iommu !== undefined) tree[`${dir}/iommu_group`] = link(`/sys/kernel/iommu_groups/${o.iommu}`);
  tree[`sys/bus/pci/devices/${address}`] = link(path);
}

function driver(tree: Tree, bus: string, name: string, version?: string): void {
  tree[`sys/bus/${bus}/drivers/${name}/module`] = link(`/sys/module/${name}`);
  tree[`sys/module/${name}/refcnt`] = '1\n';
  if (version) tree[`sys/module/${name}/version`] = `${version}\n`;
}

function cpus(tree: Tree, o: EdgeOptions): void {
  // 2 sockets × 3 cores × 2 threads; siblings are N and N+6; socket s is NUMA node s.
  for (let id = 0; id < 12; id++) {
    const socket = Math.floor((id % 6) / 3);
    const core = id % 3;
    const dir = `sys/devices/system/cpu/cpu${id}`;
    tree[`${dir}/node${socket}`] = link(`/sys/devices/system/node/node${socket}`);
    if (id !== 0) tree[`${dir}/online`] = id === 11 ? '0\n' : '1\n';
    if (id === 11) continue; // offline: the kernel hides topology/ and cpuinfo
    tree[`${dir}/topology/physical_package_id`] = `${socket}\n`;
    tree[`${dir}/topology/core_id`] = `${core}\n`;
    tree[`${dir}/topology/die_id`] = '0\n';
    tree[`${dir}/cache/index0/level`] = '1\n';
    tree[`${dir}/cache/index0/type`] = 'Data\n';
    tree[`${dir}/cache/index0/size`] = '48K\n';
    tree[`${dir}/cache/index3/level`] = '3\n';
    tree[`${dir}/cache/index3/type`] = 'Unified\n';
    tree[`${dir}/cache/index3/size`] = '30720K\n';
    if (o.cpufreq) {
      tree[`${dir}/cpufreq/scaling_cur_freq`] = `${socket === 0 ? 2000000 + core * 100000 : 1500000}\n`;
      tree[`${dir}/cpufreq/cpuinfo_min_freq`] = '800000\n';
      tree[`${dir}/cpufreq/cpuinfo_max_freq`] = '3900000\n';
    }
  }
  tree['sys/devices/system/cpu/isolated'] = '4,10\n';
  tree['sys/devices/system/cpu/online'] = '0-10\n';
  tree['sys/devices/system/cpu/offline'] = '11\n';
  tree['sys/devices/system/cpu/possible'] = '0-11\n';
  tree['sys/devices/system/cpu/kernel_max'] = '8191\n';
  tree['proc/cpuinfo'] = Array.from({ length: 11 }, (_, id) =>
    `processor\t: ${id}\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz\nphysical id\t: ${Math.floor((id % 6) / 3)}\n\n`,
  ).join('');
}

function memory(tree: Tree): void {
  const MiB = 1024;
  tree['sys/devices/system/memory/block_size_bytes'] = '8000000\n'; // 128 MiB
  for (let b = 0; b < 16; b++) {
    tree[`sys/devices/system/memory/memory${b}/online`] = b === 15 ? '0\n' : '1\n';
    tree[`sys/devices/system/node/node${b < 8 ? 0 : 1}/memory${b}`] = link(`/sys/devices/system/memory/memory${b}`);
  }
  for (const node of [0, 1]) {
    const d = `sys/devices/system/node/node${node}`;
    tree[`${d}/numastat`] = 'numa_hit 1\n';
    tree[`${d}/cpulist`] = node === 0 ? '0-2,6-8\n' : '3-5,9-10\n';
    tree[`${d}/meminfo`] = `Node ${node} MemTotal:       ${(node === 0 ? 1000 : 850) * MiB} kB\nNode ${node} MemFree:        ${600 * MiB} kB\nNode ${node} MemUsed:        ${400 * MiB} kB\nNode ${node} HugePages_Total:     4\nNode ${node} HugePages_Free:      ${node === 0 ? 1 : 4}\n`;
  }
  tree['proc/meminfo'] = `MemTotal:        ${1900 * MiB} kB\nMemFree:         ${1000 * MiB} kB\nBuffers:           ${50 * MiB} kB\nCached:           ${250 * MiB} kB\nHugePages_Total:       8\nHugePages_Free:        5\nHugepagesize:       2048 kB\n`;
}

function block(tree: Tree, name: string, devPath: string, o: { dev: string; size: number; ro?: boolean; removable?: boolean; rotational?: boolean; pbs?: number; deviceLink?: string; wwid?: string; serial?: string }): void {
  const dir = `${devPath}/${name}`.slice(1);
  tree[`sys/class/block/${name}`] = link(`${devPath}/${name}`);
  tree[`${dir}/dev`] = `${o.dev}\n`;
  tree[`${dir}/size`] = `${o.size / 512}\n`;
  tree[`${dir}/ro`] = o.ro ? '1\n' : '0\n';
  tree[`${dir}/removable`] = o.removable ? '1\n' : '0\n';
  tree[`${dir}/queue/rotational`] = o.rotational ? '1\n' : '0\n';
  tree[`${dir}/queue/physical_block_size`] = `${o.pbs ?? 512}\n`;
  if (o.deviceLink) tree[`${dir}/device`] = link(o.deviceLink);
  if (o.wwid) tree[`${dir}/wwid`] = `${o.wwid}\n`;
  if (o.serial) tree[`${dir}/serial`] = `${o.serial}\n`;
}

function partition(tree: Tree, disk: string, devPath: string, name: string, n: number, dev: string, size: number): void {
  const dir = `${devPath}/${disk}/${name}`.slice(1);
  tree[`sys/class/block/${name}`] = link(`${devPath}/${disk}/${name}`);
  tree[`${dir}/partition`] = `${n}\n`;
  tree[`${dir}/dev`] = `${dev}\n`;
  tree[`${dir}/size`] = `${size / 512}\n`;
  tree[`${dir}/ro`] = '0\n';
}

const GiB = 1024 ** 3;
const MiBb = 1024 ** 2;

function storage(tree: Tree, o: EdgeOptions): void {
  // NVMe (namespace's device link is the controller)
  const nvme = `${PCI_ROOT}/0000:00:1d.0/0000:3b:00.0`;
  pci(tree, nvme, { vendor: '144d', device: 'a808', cls: '0x010802', driver: 'nvme', numa: 1 });
  tree[`${nvme.slice(1)}/nvme/nvme0/serial`] = 'S4EWNX0R123456      \n';
  tree[`${nvme.slice(1)}/nvme/nvme0/model`] = 'Samsung SSD 970 EVO Plus 1TB            \n';
  tree[`${nvme.slice(1)}/nvme/nvme0/firmware_rev`] = '2B2QEXM7\n';
  tree[`${nvme.slice(1)}/nvme/nvme0/subsystem`] = link('/sys/class/nvme');
  tree[`${nvme.slice(1)}/nvme/nvme0/numa_node`] = '1\n';
  block(tree, 'nvme0n1', `${nvme}/nvme/nvme0`, { dev: '259:0', size: 1000 * GiB, pbs: 4096, deviceLink: '../../nvme0', wwid: 'eui.0025385b91b0a3f1' });
  partition(tree, 'nvme0n1', `${nvme}/nvme/nvme0`, 'nvme0n1p1', 1, '259:1', 512 * MiBb);
  partition(tree, 'nvme0n1', `${nvme}/nvme/nvme0`, 'nvme0n1p2', 2, '259:2', 999 * GiB);

  // SATA SSD behind AHCI: sysfs model is the 16-character SCSI product string
  const ahci = `${PCI_ROOT}/0000:00:17.0`;
  pci(tree, ahci, { vendor: '8086', device: 'a352', cls: '0x010601', driver: 'ahci' });
  const sdaDev = `${ahci}/ata1/host0/target0:0:0/0:0:0:0`;
  tree[`${sdaDev.slice(1)}/model`] = 'Samsung SSD 860 \n';
  tree[`${sdaDev.slice(1)}/subsystem`] = link('/sys/bus/scsi');
  tree[`${sdaDev.slice(1)}/wwid`] = 't10.ATA     Samsung SSD 860 EVO 500GB               S3Z1NB0K000001\n';
  block(tree, 'sda', `${sdaDev}/block`, { dev: '8:0', size: 500 * GiB, deviceLink: '../../../0:0:0:0' });
  partition(tree, 'sda', `${sdaDev}/block`, 'sda1', 1, '8:1', 500 * GiB - MiBb);

  // SAS HDD with a WWN and its serial only in VPD page 0x80
  const sas = `${PCI_ROOT}/0000:00:1c.0/0000:02:00.0`;
  pci(tree, sas, { vendor: '1000', device: '0097', cls: '0x010700', driver: 'mpt3sas' });
  const sdcDev = `${sas}/host2/target2:0:1/2:0:1:0`;
  tree[`${sdcDev.slice(1)}/model`] = 'ST4000NM0023    \n';
  tree[`${sdcDev.slice(1)}/subsystem`] = link('/sys/bus/scsi');
  tree[`${sdcDev.slice(1)}/wwid`] = 'naa.5000c500a1b2c3d4\n';
  tree[`${sdcDev.slice(1)}/vpd_pg80`] = Buffer.concat([Buffer.from([0, 0x80, 0, 8]), Buffer.from('Z1Z2Z3Z4')]);
  block(tree, 'sdc', `${sdcDev}/block`, { dev: '8:32', size: 4000 * GiB, rotational: true, deviceLink: '../../../2:0:1:0' });

  // USB stick (removable)
  const xhci = `${PCI_ROOT}/0000:00:14.0`;
  pci(tree, xhci, { vendor: '8086', device: 'a36d', cls: '0x0c0330', driver: 'xhci_hcd' });
  const stickDev = `${xhci}/usb1/1-2/1-2:1.0/host6/target6:0:0/6:0:0:0`;
  tree[`${stickDev.slice(1)}/model`] = 'Cruzer Blade    \n';
  tree[`${stickDev.slice(1)}/subsystem`] = link('/sys/bus/scsi');
  block(tree, 'sdb', `${stickDev}/block`, { dev: '8:16', size: 16 * GiB, removable: true, deviceLink: '../../../6:0:0:0' });

  // virtio-blk: serial in sysfs, rotational as virtio says
  const virtio = `${PCI_ROOT}/0000:00:05.0`;
  pci(tree, virtio, { vendor: '1af4', device: '1001', cls: '0x010000', driver: 'virtio-pci' });
  tree[`${virtio.slice(1)}/virtio1/subsystem`] = link('/sys/bus/virtio');
  block(tree, 'vda', `${virtio}/virtio1/block`, { dev: '252:0', size: 20 * GiB, rotational: true, deviceLink: '../../../virtio1', serial: 'VDA-SERIAL-1' });
  partition(tree, 'vda', `${virtio}/virtio1/block`, 'vda1', 1, '252:1', 20 * GiB - MiBb);

  // A loop device (no device/): never a disk
  tree['sys/class/block/loop0'] = link('/sys/devices/virtual/block/loop0');
  tree['sys/devices/virtual/block/loop0/dev'] = '7:0\n';
  tree['sys/devices/virtual/block/loop0/size'] = '0\n';

  const byId: Record<string, string> = {
    'nvme-Samsung_SSD_970_EVO_Plus_1TB_S4EWNX0R123456': 'nvme0n1',
    'nvme-Samsung_SSD_970_EVO_Plus_1TB_S4EWNX0R123456-part2': 'nvme0n1p2',
    'nvme-eui.0025385b91b0a3f1': 'nvme0n1',
    'ata-Samsung_SSD_860_EVO_500GB_S3Z1NB0K000001': 'sda',
    'ata-Samsung_SSD_860_EVO_500GB_S3Z1NB0K000001-part1': 'sda1',
    'wwn-0x5000c500a1b2c3d4': 'sdc',
    'usb-SanDisk_Cruzer_Blade_4C530001-0:0': 'sdb',
    'virtio-VDA-SERIAL-1': 'vda',
  };
  const byPath: Record<string, string> = {
    'pci-0000:3b:00.0-nvme-1': 'nvme0n1',
    'pci-0000:00:17.0-ata-1': 'sda',
    'pci-0000:00:17.0-ata-1.0': 'sda',
    'pci-0000:02:00.0-sas-phy1-lun-0': 'sdc',
    'pci-0000:00:14.0-usb-0:2:1.0-scsi-0:0:0:0': 'sdb',
    'pci-0000:00:05.0': 'vda',
  };
  for (const [n, t] of Object.entries(byId)) tree[`dev/disk/by-id/${n}`] = link(`../../${t}`);
  for (const [n, t] of Object.entries(byPath)) tree[`dev/disk/by-path/${n}`] = link(`../../${t}`);

  if (!o.noUdev) {
    const udev = (props: Record<string, string>) => Object.entries(props).map(([k, v]) => `E:${k}=${v}`).join('\n') + '\n';
    tree['run/udev/data/b259:0'] = udev({ ID_MODEL: 'Samsung_SSD_970_EVO_Plus_1TB', ID_SERIAL_SHORT: 'S4EWNX0R123456', ID_SERIAL: 'Samsung_SSD_970_EVO_Plus_1TB_S4EWNX0R123456', ID_PART_TABLE_TYPE: 'gpt' });
    tree['run/udev/data/b259:1'] = udev({ ID_FS_UUID: '4A1B-2C3D', ID_FS_TYPE: 'vfat' });
    tree['run/udev/data/b259:2'] = udev({ ID_FS_UUID: 'e78a3110-f610-476c-8753-198890df3a98', ID_FS_TYPE: 'ext4' });
    tree['run/udev/data/b8:0'] = udev({
      ID_ATA: '1', ID_ATA_SATA: '1', ID_ATA_ROTATION_RATE_RPM: '0', ID_BUS: 'ata', ID_MODEL: 'Samsung_SSD_860_EVO_500GB',
      ID_MODEL_ENC: 'Samsung\\x20SSD\\x20860\\x20EVO\\x20500GB\\x20\\x20\\x20\\x20', ID_REVISION: 'RVT04B6Q', ID_SERIAL_SHORT: 'S3Z1NB0K000001',
    });
    tree['run/udev/data/b8:16'] = udev({ ID_BUS: 'usb', ID_USB_DRIVER: 'usb-storage', ID_MODEL: 'Cruzer_Blade', ID_SERIAL_SHORT: '4C530001', ID_SERIAL: 'SanDisk_Cruzer_Blade_4C530001-0:0' });
  }
  tree['proc/self/mountinfo'] = '22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n23 22 259:1 / /boot/efi rw - vfat /dev/nvme0n1p1 rw\n';
}

function netdev(tree: Tree, name: string, devPath: string, o: { mac: string; flags?: string; type?: string; carrier?: string; speed?: string; duplex?: string; assign?: string; devPort?: number; withDevice?: boolean; mtu?: number }): string {
  const dir = `${devPath}/net/${name}`.slice(1);
  tree[`sys/class/net/${name}`] = link(`${devPath}/net/${name}`);
  tree[`${dir}/address`] = `${o.mac}\n`;
  tree[`${dir}/flags`] = `${o.flags ?? '0x1003'}\n`;
  tree[`${dir}/type`] = `${o.type ?? '1'}\n`;
  tree[`${dir}/mtu`] = `${o.mtu ?? 1500}\n`;
  tree[`${dir}/addr_assign_type`] = `${o.assign ?? '0'}\n`;
  tree[`${dir}/dev_port`] = `${o.devPort ?? 0}\n`;
  if (o.carrier !== undefined) tree[`${dir}/carrier`] = `${o.carrier}\n`;
  if (o.speed !== undefined) tree[`${dir}/speed`] = `${o.speed}\n`;
  if (o.duplex !== undefined) tree[`${dir}/duplex`] = `${o.duplex}\n`;
  if (o.withDevice) tree[`${dir}/device`] = link('../../../' + devPath.split('/').pop());
  return dir;
}

function network(tree: Tree): void {
  // igb PF with SR-IOV: two VFs, one with a netdev and one handed to a VM (no netdev)
  const bridge = `${PCI_ROOT}/0000:00:01.0`;
  const pf = `${bridge}/0000:03:00.0`;
  pci(tree, pf, { vendor: '8086', device: '1533', cls: '0x020000', driver: 'igb', numa: 1, iommu: 12 });
  tree[`${pf.slice(1)}/sriov_totalvfs`] = '7\n';
  tree[`${pf.slice(1)}/sriov_numvfs`] = '2\n';
  netdev(tree, 'eth0', pf, { mac: '00:1b:21:aa:bb:01', carrier: '1', speed: '1000', duplex: 'full', withDevice: true });
  for (const [i, vf] of ['0000:03:10.0', '0000:03:10.4'].entries()) {
    const path = `${bridge}/${vf}`;
    pci(tree, path, { vendor: '8086', device: '1520', cls: '0x020000', driver: i === 0 ? 'igbvf' : undefined, numa: 1 });
    tree[`${path.slice(1)}/physfn`] = link('../0000:03:00.0');
    tree[`${pf.slice(1)}/virtfn${i}`] = link(`../${vf}`);
  }
  netdev(tree, 'eth0v0', `${bridge}/0000:03:10.0`, { mac: '52:54:00:00:10:00', carrier: '0', assign: '1', withDevice: true });

  // Two ports of a dual-port card in bond0 (slaves carry the bond's MAC)
  const bondMac = 'fe:9d:21:b6:ac:72';
  for (const [i, name] of ['eth1', 'eth2'].entries()) {
    const path = `${PCI_ROOT}/0000:00:1c.4/0000:04:00.${i}`;
    pci(tree, path, { vendor: '8086', device: '1521', cls: '0x020000', driver: 'igb' });
    const dir = netdev(tree, name, path, { mac: bondMac, carrier: '1', speed: '10000', duplex: 'full', assign: '3', withDevice: true, flags: '0x1803' });
    tree[`${dir}/bonding_slave/perm_hwaddr`] = `00:1b:21:cc:dd:0${i + 1}\n`;
    tree[`${dir}/master`] = link('../bond0');
  }
  const bond = netdev(tree, 'bond0', '/sys/devices/virtual', { mac: bondMac, assign: '3', flags: '0x1403' });
  Object.assign(tree, {
    [`${bond}/bonding/mode`]: '802.3ad 4\n',
    [`${bond}/bonding/xmit_hash_policy`]: 'layer3+4 1\n',
    [`${bond}/bonding/updelay`]: '200\n',
    [`${bond}/bonding/downdelay`]: '0\n',
    [`${bond}/bonding/miimon`]: '100\n',
    [`${bond}/bonding/mii_status`]: 'up\n',
    [`${bond}/bonding/slaves`]: 'eth1 eth2\n',
    'sys/class/net/bonding_masters': 'bond0\n',
  });

  // eth3 is a bridge port of br0; a VLAN rides on it; its link is down
  const eth3 = `${PCI_ROOT}/0000:00:1f.6`;
  pci(tree, eth3, { vendor: '8086', device: '15b8', cls: '0x020000', driver: 'e1000e' });
  netdev(tree, 'eth3', eth3, { mac: '00:1b:21:ee:ff:03', carrier: '0', speed: '-1', duplex: 'unknown', withDevice: true });
  const br = netdev(tree, 'br0', '/sys/devices/virtual', { mac: '52:cb:5c:f1:bb:a5', assign: '3' });
  Object.assign(tree, {
    [`${br}/bridge/bridge_id`]: '8000.52cb5cf1bba5\n',
    [`${br}/bridge/stp_state`]: '1\n',
    [`${br}/bridge/forward_delay`]: '1500\n',
    [`${br}/bridge/default_pvid`]: '1\n',
    [`${br}/bridge/vlan_filtering`]: '0\n',
    [`${br}/brif/eth3`]: link('../../eth3/brport'),
  });
  netdev(tree, 'eth3.10', '/sys/devices/virtual', { mac: '00:1b:21:ee:ff:03', assign: '2' });
  tree['proc/net/vlan/config'] = 'VLAN Dev name\t | VLAN ID\nName-Type: VLAN_NAME_TYPE_RAW_PLUS_VID_NO_PAD\neth3.10        | 10  | eth3\n';
  netdev(tree, 'lo', '/sys/devices/virtual', { mac: '00:00:00:00:00:00', flags: '0x9', type: '772', mtu: 65536 });
  netdev(tree, 'wg0', '/sys/devices/virtual', { mac: '', flags: '0x91', type: '65534', mtu: 1420 });
  tree['proc/net/dev'] = [
    'Inter-|   Receive                                                |  Transmit',
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
    '    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0',
    '  eth0: 5000000    4000    0    0    0     0          0         0   300000    2000    0    0    0     0       0          0',
  ].join('\n') + '\n';
  tree['proc/net/if_inet6'] = '00000000000000000000000000000001 01 80 10 80       lo\nfe800000000000000000000000000001 02 40 20 80     eth0\n';
  driver(tree, 'pci', 'igb', '5.4.0-k');
  driver(tree, 'pci', 'igbvf');
  driver(tree, 'pci', 'e1000e', '3.2.6-k');
}

function gpuAndUsb(tree: Tree): void {
  const gpu = `${PCI_ROOT}/0000:00:02.0`;
  pci(tree, gpu, { vendor: '8086', device: '3e92', cls: '0x030000', driver: 'i915' });
  tree[`${gpu.slice(1)}/drm/card0/dev`] = '226:0\n';
  tree[`${gpu.slice(1)}/drm/renderD128/dev`] = '226:128\n';
  const usb = `${PCI_ROOT}/0000:00:14.0/usb1`;
  Object.assign(tree, {
    'sys/bus/usb/devices/usb1': link(usb),
    [`${usb.slice(1)}/busnum`]: '1\n',
    [`${usb.slice(1)}/devnum`]: '1\n',
    [`${usb.slice(1)}/bDeviceClass`]: '09\n',
    'sys/bus/usb/devices/1-2': link(`${usb}/1-2`),
    [`${usb.slice(1)}/1-2/busnum`]: '1\n',
    [`${usb.slice(1)}/1-2/devnum`]: '3\n',
    [`${usb.slice(1)}/1-2/bDeviceClass`]: '00\n',
    [`${usb.slice(1)}/1-2/idVendor`]: '0781\n',
    [`${usb.slice(1)}/1-2/idProduct`]: '5567\n',
    [`${usb.slice(1)}/1-2/serial`]: '4C530001\n',
    [`${usb.slice(1)}/1-2/speed`]: '480\n',
    'sys/bus/usb/devices/1-2:1.0': link(`${usb}/1-2/1-2:1.0`),
    [`${usb.slice(1)}/1-2/1-2:1.0/bInterfaceClass`]: '08\n',
    [`${usb.slice(1)}/1-2/1-2:1.0/bInterfaceSubClass`]: '06\n',
    [`${usb.slice(1)}/1-2/1-2:1.0/bInterfaceNumber`]: '00\n',
    [`${usb.slice(1)}/1-2/1-2:1.0/driver`]: link('/sys/bus/usb/drivers/usb-storage'),
  });
  driver(tree, 'usb', 'usb-storage');
  tree['usr/share/misc/pci.ids'] = [
    '# test subset',
    '1000  Broadcom / LSI',
    '\t0097  SAS3008 PCI-Express Fusion-MPT SAS-3',
    '144d  Samsung Electronics Co Ltd',
    '\ta808  NVMe SSD Controller SM981/PM981/PM983',
    '8086  Intel Corporation',
    '\t1520  I350 Ethernet Controller Virtual Function',
    '\t1521  I350 Gigabit Network Connection',
    '\t\t8086 0001  Ethernet Server Adapter I350-T4',
    '\t1533  I210 Gigabit Network Connection',
    '\t3e92  CoffeeLake-S GT2 [UHD Graphics 630]',
    '\ta352  Cannon Lake PCH SATA AHCI Controller',
    'C 02  Network controller',
    '\t00  Ethernet controller',
    '',
  ].join('\n');
  tree['usr/share/misc/usb.ids'] = ['0781  SanDisk Corp.', '\t5567  Cruzer Blade', 'C 08  Mass Storage', '\t06  SCSI', '\t\t50  Bulk-Only', ''].join('\n');
}

function dmi(tree: Tree): void {
  const values: Record<string, string> = {
    sys_vendor: 'Dell Inc.', product_name: 'PowerEdge R640', product_family: 'PowerEdge', product_version: '', product_sku: 'SKU=0716',
    product_serial: 'CN7016XYZ', product_uuid: '4c4c4544-0031-3510-8047-b4c04f4d4732', bios_vendor: 'Dell Inc.', bios_date: '07/15/2022',
    bios_version: '2.15.1', chassis_vendor: 'Dell Inc.', chassis_type: '23', chassis_serial: 'CHS123', chassis_version: '',
    board_vendor: 'Dell Inc.', board_name: '0W23H8', board_serial: '.CN7016XYZ.', board_version: 'A06',
  };
  for (const [k, v] of Object.entries(values)) tree[`sys/class/dmi/id/${k}`] = `${v}\n`;
}

/** The whole edge machine as a makeRoot tree. */
export function edgeMachine(o: EdgeOptions = {}): Tree {
  const tree: Tree = {
    'etc/os-release': 'NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="22.04"\n',
  };
  cpus(tree, o);
  memory(tree);
  storage(tree, o);
  network(tree);
  gpuAndUsb(tree);
  if (!o.noDmi) dmi(tree);
  driver(tree, 'pci', 'nvme', '1.0');
  driver(tree, 'pci', 'ahci', '3.0');
  return tree;
}

/** Canned command outputs for the edge machine (ethtool and iproute2 as installed there). */
export const EDGE_COMMANDS: Record<string, string> = {
  'ethtool eth0': [
    'Settings for eth0:',
    '\tSupported ports: [ TP ]',
    '\tSupported link modes:   10baseT/Half 10baseT/Full',
    '\t                        100baseT/Half 100baseT/Full',
    '\t                        1000baseT/Full',
    '\tSupported pause frame use: Symmetric',
    '\tSupports auto-negotiation: Yes',
    '\tSpeed: 1000Mb/s',
    '\tDuplex: Full',
    '\tAuto-negotiation: on',
    '\tPort: Twisted Pair',
    '\tTransceiver: internal',
    '\tLink detected: yes',
    '',
  ].join('\n'),
  'ethtool -i eth0': 'driver: igb\nversion: 5.4.0-k\nfirmware-version: 3.25, 0x800005cc\nbus-info: 0000:03:00.0\n',
  'ip -j addr': JSON.stringify([
    { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }, { family: 'inet6', local: '::1', prefixlen: 128 }] },
    { ifname: 'eth0', addr_info: [{ family: 'inet', local: '10.0.0.5', prefixlen: 24 }, { family: 'inet6', local: 'fe80::21b:21ff:feaa:bb01', prefixlen: 64 }] },
    { ifname: 'bond0', addr_info: [{ family: 'inet', local: '10.1.0.5', prefixlen: 16 }, { family: 'inet', local: '169.254.3.4', prefixlen: 16 }] },
    { ifname: 'br0', addr_info: [] },
  ]),
};
