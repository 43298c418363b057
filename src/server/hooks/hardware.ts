// The hardware MAAS keeps for one machine, as this server stores it (JSON in the store).
// Ids of interfaces, links and block devices come from `nextId`, so they are unique within the
// machine and survive re-reports; resource URIs include the system id.

/** A sticky IP of an interface (only global-scope addresses become links). */
export interface HardwareLink {
  id: number;
  address: string;
  family: 'inet' | 'inet6';
  /** Prefix length as the report gives it, e.g. "24". */
  netmask: string;
  /** The network the address is in, e.g. "10.0.0.0/24". */
  cidr: string;
}

/** A modelled network interface. Unknown card details are null, as MAAS leaves them. */
export interface HardwareInterface {
  id: number;
  name: string;
  type: 'physical' | 'vlan' | 'bond' | 'bridge';
  /** Lower-case, colon form. */
  mac: string;
  /** Ids of the parent interfaces, in the order the report lists them. */
  parents: number[];
  vid: number | null;
  enabled: boolean;
  linkConnected: boolean;
  vendor: string | null;
  product: string | null;
  firmwareVersion: string | null;
  linkSpeed: number | null;
  interfaceSpeed: number | null;
  sriovMaxVf: number | null;
  numaNode: number | null;
  tags: string[];
  /** A port of a network card in `resources.network.cards` described this interface. */
  backedByCard: boolean;
  /** The interface is an SR-IOV virtual function of a card (removed on release). */
  sriovVf: boolean;
  /** Created by a report while the machine was deployed (MAAS's "acquired"). */
  acquired: boolean;
  links: HardwareLink[];
}

/** A modelled physical disk. */
export interface HardwareDisk {
  id: number;
  name: string;
  idPath: string;
  model: string;
  serial: string;
  size: number;
  blockSize: number;
  firmwareVersion: string | null;
  tags: string[];
  numaNode: number;
}

/** A NUMA node: its CPU threads, memory and hugepage records. */
export interface HardwareNumaNode {
  index: number;
  cores: number[];
  memoryMib: number;
  hugepages: { pageSize: number; total: number }[];
}

/** Hardware types of node devices (MAAS's HARDWARE_TYPE). */
export const HardwareType = { NODE: 0, CPU: 1, MEMORY: 2, STORAGE: 3, NETWORK: 4, GPU: 5 } as const;

/** A PCI or USB device of the machine. */
export interface HardwareNodeDevice {
  bus: 'pcie' | 'usb';
  hardwareType: number;
  vendorId: string;
  productId: string;
  vendorName: string | null;
  productName: string | null;
  commissioningDriver: string | null;
  pciAddress: string | null;
  busNumber: number | null;
  deviceNumber: number | null;
  numaNode: number;
  interfaceId: number | null;
  diskId: number | null;
  vpd: Record<string, string>;
}

/** Everything the processing of machine-resources reports derives for one machine. */
export interface MachineHardware {
  version: 1;
  nextId: number;
  /** Number of reports processed successfully. */
  reports: number;
  architecture: string;
  osystem: string;
  distroSeries: string;
  cpuCount: number;
  cpuSpeed: number;
  memoryMib: number;
  hardwareUuid: string | null;
  tags: string[];
  /** system_*, mainboard_*, chassis_* and cpu_model values that are set. */
  metadata: Record<string, string>;
  numaNodes: HardwareNumaNode[];
  interfaces: HardwareInterface[];
  disks: HardwareDisk[];
  nodeDevices: HardwareNodeDevice[];
}

/** Allocates ids for new interfaces, links and disks; the default counts in `hw.nextId`. */
export type IdAllocator = () => number;
