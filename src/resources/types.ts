// What a machine reports about itself, shared by the side that produces it (the collectors, the
// Redfish mapping, the report runner) and the bundled server that processes it: the deploy-info
// scripts (docs/protocol.md §5.2) and the machine-resources document two of them carry
// (docs/protocol.md §6). Types and constants only, importing nothing, so that neither side
// depends on the other's code.

/** The six deploy-info scripts a deployed machine is given, in the server's (sorted) order. */
export const DEPLOY_INFO_SCRIPTS = [
  '20-maas-03-machine-resources',
  '50-maas-01-commissioning',
  'maas-list-modaliases',
  'maas-lshw',
  'maas-serial-ports',
  'maas-support-info',
] as const;
export type DeployInfoScriptName = (typeof DEPLOY_INFO_SCRIPTS)[number];

/**
 * One area of the document (or the top-level `networks` or `environment`) as a reader produced
 * it, with notes about what it could only partly tell (printed as warnings; never secrets).
 */
export interface AreaReading<T> {
  value: T;
  warnings: string[];
}

// ---------------------------------------------------------------------------------------------
// Machine-resources JSON (docs/protocol.md §6): LXD's resources API as MAAS's machine-resources
// prints it. Fields marked optional are omitempty in Go: absent when zero or empty.

export interface MachineResources {
  resources: Resources;
  networks: Record<string, NetworkState>;
  environment: ResourcesEnvironment;
  api_version: '1.0';
  api_extensions: string[];
  'storage-extra'?: unknown;
  'machine-extra'?: Record<string, unknown>;
  'network-extra'?: unknown;
}

export interface ResourcesEnvironment {
  kernel: string;
  kernel_architecture: string;
  kernel_version: string;
  os_name: string;
  os_version: string;
  server: string;
  server_name: string;
  server_version: string;
}

export interface Resources {
  cpu: CpuResources;
  memory: MemoryResources;
  gpu: GpuResources;
  network: NetworkResources;
  storage: StorageResources;
  usb: UsbResources;
  pci: PciResources;
  system: SystemResources;
}

export interface CpuResources {
  architecture: string;
  sockets: CpuSocket[] | null;
  total: number;
}

export interface CpuCache {
  level: number;
  type: string;
  size: number;
}

export interface CpuSocket {
  name?: string;
  vendor?: string;
  socket: number;
  cache?: CpuCache[];
  cores: CpuCore[];
  frequency?: number;
  frequency_minimum?: number;
  frequency_turbo?: number;
}

export interface CpuCore {
  core: number;
  die: number;
  threads: CpuThread[];
  frequency?: number;
}

export interface CpuThread {
  id: number;
  numa_node: number;
  thread: number;
  online: boolean;
  isolated: boolean;
}

export interface MemoryNode {
  numa_node: number;
  hugepages_used: number;
  hugepages_total: number;
  used: number;
  total: number;
}

export interface MemoryResources {
  nodes?: MemoryNode[];
  hugepages_total: number;
  hugepages_used: number;
  hugepages_size: number;
  used: number;
  total: number;
}

export interface SriovInfo<Card> {
  current_vfs: number;
  maximum_vfs: number;
  vfs: Card[] | null;
}

/** Where a GPU or network card sits and what it is: NUMA node, bus address, ids and names. */
export interface CardIdentity {
  numa_node: number;
  pci_address?: string;
  vendor?: string;
  vendor_id?: string;
  product?: string;
  product_id?: string;
  usb_address?: string;
}

export interface GpuCard extends CardIdentity {
  driver?: string;
  driver_version?: string;
  drm?: Record<string, unknown>;
  sriov?: SriovInfo<GpuCard>;
  nvidia?: Record<string, unknown>;
  mdev?: Record<string, unknown>;
}

export interface GpuResources {
  cards: GpuCard[] | null;
  total: number;
}

export interface NetworkPort {
  id: string;
  address?: string;
  port: number;
  protocol: string;
  supported_modes?: string[];
  supported_ports?: string[];
  port_type?: string;
  transceiver_type?: string;
  auto_negotiation: boolean;
  link_detected: boolean;
  link_speed?: number;
  link_duplex?: string;
  infiniband?: Record<string, string>;
}

export interface NetworkCard extends CardIdentity {
  driver?: string;
  driver_version?: string;
  ports?: NetworkPort[];
  sriov?: SriovInfo<NetworkCard>;
  vdpa?: { name: string; device: string };
  firmware_version?: string;
}

export interface NetworkResources {
  cards: NetworkCard[] | null;
  total: number;
}

export interface DiskPartition {
  id: string;
  device: string;
  read_only: boolean;
  size: number;
  partition: number;
  mounted: boolean;
  device_fs_uuid: string;
}

export interface Disk {
  id: string;
  device: string;
  model?: string;
  type?: string;
  read_only: boolean;
  mounted: boolean;
  size: number;
  removable: boolean;
  wwn?: string;
  numa_node: number;
  device_path?: string;
  block_size: number;
  firmware_version?: string;
  rpm: number;
  serial?: string;
  device_id: string;
  partitions: DiskPartition[] | null;
  pci_address?: string;
  usb_address?: string;
  device_fs_uuid: string;
  used_by?: string;
}

export interface StorageResources {
  disks: Disk[] | null;
  total: number;
}

export interface UsbInterface {
  class: string;
  class_id: number;
  driver: string;
  driver_version: string;
  number: number;
  subclass: string;
  subclass_id: number;
}

export interface UsbDevice {
  bus_address: number;
  device_address: number;
  serial: string;
  interfaces: UsbInterface[] | null;
  vendor: string;
  vendor_id: string;
  product: string;
  product_id: string;
  speed: number;
}

export interface UsbResources {
  devices: UsbDevice[] | null;
  total: number;
}

export interface PciDevice {
  driver: string;
  driver_version: string;
  numa_node: number;
  pci_address: string;
  vendor: string;
  vendor_id: string;
  product: string;
  product_id: string;
  iommu_group: number;
  vpd: { product_name?: string; entries?: Record<string, string> };
}

export interface PciResources {
  devices: PciDevice[] | null;
  total: number;
}

export interface SystemResources {
  uuid: string;
  vendor: string;
  product: string;
  family: string;
  version: string;
  sku: string;
  serial: string;
  type: string;
  firmware: { vendor: string; date: string; version: string } | null;
  chassis: { vendor: string; type: string; serial: string; version: string } | null;
  motherboard: { vendor: string; product: string; serial: string; version: string } | null;
}

export interface NetworkAddress {
  family: 'inet' | 'inet6';
  address: string;
  /** prefix length as a string, e.g. "24" */
  netmask: string;
  scope: 'local' | 'link' | 'global';
}

export interface NetworkState {
  addresses: NetworkAddress[];
  counters: { bytes_received: number; bytes_sent: number; packets_received: number; packets_sent: number };
  hwaddr: string;
  mtu: number;
  state: 'up' | 'down';
  type: 'broadcast' | 'point-to-point' | 'loopback' | 'unknown';
  bond: {
    mode: string;
    transmit_policy: string;
    up_delay: number;
    down_delay: number;
    mii_frequency: number;
    mii_state: string;
    lower_devices: string[] | null;
  } | null;
  bridge: {
    id: string;
    stp: boolean;
    forward_delay: number;
    vlan_default: number;
    vlan_filtering: boolean;
    upper_devices: string[] | null;
  } | null;
  vlan: { lower_device: string; vid: number } | null;
  ovn: null;
}

/** The api_extensions machine-resources declares, in its order (docs/protocol.md §6.1). */
export const API_EXTENSIONS = [
  'resources',
  'resources_cpu_socket',
  'resources_gpu',
  'resources_numa',
  'resources_v2',
  'resources_disk_sata',
  'resources_network_firmware',
  'resources_disk_id',
  'resources_usb_pci',
  'resources_cpu_threads_numa',
  'resources_cpu_core_die',
  'api_os',
  'resources_system',
  'resources_pci_iommu',
  'resources_network_usb',
  'resources_disk_address',
] as const;

/** The api_extensions MAAS requires in a machine-resources document (docs/protocol.md §6.1). */
export const REQUIRED_API_EXTENSIONS = ['resources', 'resources_v2', 'api_os', 'resources_system', 'resources_usb_pci'] as const;
