// Renders stored hardware into the machine JSON fields MAAS's API shows (docs/protocol.md §3.3),
// and into the shape of the fixtures' `hook` section (what MAAS stored), for comparisons.
import { HARDWARE_INFO_KEYS, type BlockDeviceJson, type HardwareInfoKey, type InterfaceJson, type MachineJson, type SubnetJson } from '../../maas/types.js';
import type { HardwareInterface, MachineHardware } from './hardware.js';

const API = '/MAAS/api/2.0';
const DEFAULT_MTU = 1500;

// The one fabric this server models; VLAN ids are derived from the VID so they are stable.
function vlanJson(vid: number): Record<string, unknown> {
  const id = 5001 + vid;
  return {
    id,
    vid,
    name: vid === 0 ? 'untagged' : String(vid),
    fabric: 'fabric-0',
    fabric_id: 0,
    mtu: DEFAULT_MTU,
    dhcp_on: false,
    external_dhcp: null,
    relay_vlan: null,
    primary_rack: null,
    secondary_rack: null,
    space: 'undefined',
    resource_uri: `${API}/vlans/${id}/`,
  };
}

/** A stable subnet id for a CIDR, the same on every machine (FNV-1a, 31 bits). */
export function subnetId(cidr: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(cidr)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return (hash % 0x7ffffffe) + 1;
}

function subnetJson(cidr: string): SubnetJson & Record<string, unknown> {
  const id = subnetId(cidr);
  return {
    id,
    name: cidr,
    cidr,
    vlan: vlanJson(0),
    space: 'undefined',
    gateway_ip: null,
    dns_servers: [],
    managed: true,
    active_discovery: false,
    allow_dns: true,
    allow_proxy: true,
    resource_uri: `${API}/subnets/${id}/`,
  };
}

function interfaceJson(iface: HardwareInterface, all: readonly HardwareInterface[], systemId: string): InterfaceJson {
  const nameOf = new Map(all.map((i) => [i.id, i.name]));
  // Interfaces a deployed-machine report creates get a VLAN only through their links.
  const vlan = iface.type === 'vlan' ? vlanJson(iface.vid ?? 0) : iface.links.length > 0 ? vlanJson(0) : null;
  return {
    system_id: systemId,
    id: iface.id,
    name: iface.name,
    type: iface.type,
    vlan,
    mac_address: iface.mac,
    parents: iface.parents.map((p) => nameOf.get(p)).filter((n): n is string => n !== undefined),
    children: all.filter((c) => c.parents.includes(iface.id)).map((c) => c.name),
    tags: [...iface.tags],
    enabled: iface.enabled,
    links: iface.links.map((link) => ({ id: link.id, mode: 'static', ip_address: link.address, subnet: subnetJson(link.cidr) })),
    params: '',
    discovered: null,
    effective_mtu: DEFAULT_MTU,
    vendor: iface.vendor,
    product: iface.product,
    firmware_version: iface.firmwareVersion,
    link_connected: iface.linkConnected,
    // MAAS's columns default to 0 where no network card described the interface.
    interface_speed: iface.interfaceSpeed ?? 0,
    link_speed: iface.linkSpeed ?? 0,
    numa_node: iface.numaNode,
    sriov_max_vf: iface.sriovMaxVf ?? 0,
    resource_uri: `${API}/nodes/${systemId}/interfaces/${iface.id}/`,
  };
}

/**
 * The machine JSON fields derived from hardware: cpu_count, cpu_speed, memory (MiB), storage
 * (MB), architecture, osystem, distro_series, hardware_uuid, hardware_info (all 18 keys),
 * numanode_set, interface_set, blockdevice_set, physicalblockdevice_set, tag_names.
 */
export function renderHardware(hw: MachineHardware, systemId: string): Partial<MachineJson> {
  const disks = [...hw.disks].sort((a, b) => a.id - b.id);
  const blockDevices: BlockDeviceJson[] = disks.map((disk) => ({
    system_id: systemId,
    id: disk.id,
    name: disk.name,
    uuid: null,
    type: 'physical',
    path: `/dev/disk/by-dname/${disk.name}`,
    model: disk.model,
    serial: disk.serial,
    id_path: disk.idPath,
    size: disk.size,
    block_size: disk.blockSize,
    available_size: disk.size,
    used_size: 0,
    used_for: 'Unused',
    tags: [...disk.tags],
    filesystem: null,
    partition_table_type: null,
    partitions: [],
    firmware_version: disk.firmwareVersion,
    storage_pool: null,
    numa_node: disk.numaNode,
    resource_uri: `${API}/nodes/${systemId}/blockdevices/${disk.id}/`,
  }));
  const hardwareInfo = Object.fromEntries(HARDWARE_INFO_KEYS.map((key) => [key, hw.metadata[key] ?? 'Unknown'])) as Record<HardwareInfoKey, string>;
  const interfaces = [...hw.interfaces].sort((a, b) => a.id - b.id);
  return {
    architecture: hw.architecture,
    osystem: hw.osystem,
    distro_series: hw.distroSeries,
    cpu_count: hw.cpuCount,
    cpu_speed: hw.cpuSpeed,
    memory: hw.memoryMib,
    storage: disks.reduce((sum, d) => sum + d.size, 0) / 1e6,
    hardware_uuid: hw.hardwareUuid,
    hardware_info: hardwareInfo,
    numanode_set: [...hw.numaNodes]
      .sort((a, b) => a.index - b.index)
      .map((n) => ({ index: n.index, cores: [...n.cores], memory: n.memoryMib, hugepages_set: n.hugepages.map((h) => ({ total: h.total, page_size: h.pageSize })) })),
    interface_set: interfaces.map((i) => interfaceJson(i, interfaces, systemId)),
    blockdevice_set: blockDevices,
    physicalblockdevice_set: blockDevices.map((d) => ({ ...d, tags: [...d.tags] })),
    tag_names: [...hw.tags],
  };
}

/** The stored hardware in the shape of a fixture's `hook` section (without `events`). */
export interface HookView {
  node: {
    architecture: string;
    cpu_count: number;
    cpu_speed: number;
    distro_series: string;
    hardware_uuid: string | null;
    memory_mib: number;
    osystem: string;
    tags: string[];
  };
  metadata: Record<string, string>;
  numa_nodes: Record<string, { cores: number[]; memory_mib: number }>;
  numa_hugepages: { numa_node: number; page_size: number; total: number }[];
  physical_block_devices: Record<string, unknown>[];
  interfaces: Record<string, unknown>[];
  node_devices: Record<string, unknown>[];
}

/** Renders hardware the way the fixtures record what MAAS stored (null where MAAS left a default). */
export function hookView(hw: MachineHardware): HookView {
  const nodes = [...hw.numaNodes].sort((a, b) => a.index - b.index);
  const nameOf = new Map(hw.interfaces.map((i) => [i.id, i.name]));
  return {
    node: {
      architecture: hw.architecture,
      cpu_count: hw.cpuCount,
      cpu_speed: hw.cpuSpeed,
      distro_series: hw.distroSeries,
      hardware_uuid: hw.hardwareUuid,
      memory_mib: hw.memoryMib,
      osystem: hw.osystem,
      tags: [...hw.tags],
    },
    metadata: { ...hw.metadata },
    numa_nodes: Object.fromEntries(nodes.map((n) => [String(n.index), { cores: [...n.cores], memory_mib: n.memoryMib }])),
    numa_hugepages: nodes.flatMap((n) => n.hugepages.map((h) => ({ numa_node: n.index, page_size: h.pageSize, total: h.total }))),
    physical_block_devices: hw.disks.map((d) => ({
      block_size: d.blockSize,
      firmware_version: d.firmwareVersion,
      id_path: d.idPath,
      model: d.model,
      name: d.name,
      numa_node: d.numaNode,
      serial: d.serial,
      size: d.size,
      tags: [...d.tags],
    })),
    interfaces: hw.interfaces.map((i) => ({
      backed_by_lxd_network_card: i.backedByCard,
      firmware_version: i.firmwareVersion,
      interface_speed: i.interfaceSpeed,
      link_connected: i.linkConnected,
      link_speed: i.linkSpeed,
      links: i.links.map((l) => ({ address: l.address, family: l.family, netmask: l.netmask, scope: 'global' })),
      mac_address: i.mac,
      name: i.name,
      numa_node: i.numaNode,
      parents: i.parents.map((p) => nameOf.get(p)),
      product: i.product,
      sriov_max_vf: i.sriovMaxVf,
      tags: i.tags.length > 0 ? [...i.tags] : null,
      type: i.type,
      vendor: i.vendor,
      vid: i.vid,
    })),
    node_devices: hw.nodeDevices.map((d) => ({
      bus: d.bus,
      hardware_type: d.hardwareType,
      vendor_id: d.vendorId,
      product_id: d.productId,
      vendor_name: d.vendorName,
      product_name: d.productName,
      commissioning_driver: d.commissioningDriver,
      pci_address: d.pciAddress,
      bus_number: d.busNumber,
      device_number: d.deviceNumber,
      numa_node: d.numaNode,
      physical_interface: d.interfaceId === null ? null : (nameOf.get(d.interfaceId) ?? null),
      physical_blockdevice: d.diskId === null ? null : (hw.disks.find((disk) => disk.id === d.diskId)?.name ?? null),
      vpd: { ...d.vpd },
    })),
  };
}
