// Maps a Redfish inventory to the machine-resources document (docs/protocol.md §6, §6.6) that the
// machine's own collectors would have produced, as far as the BMC knows it. Pure: no I/O here.
//
// What Redfish cannot tell is left empty or zero the way LXD leaves it on hardware without that
// data: no kernel or OS (MAAS then keeps the machine's OS), one NUMA node 0, no PCI or USB device
// list (Redfish gives no bus addresses), no partitions. Interface and disk names are not the
// kernel's (unknown to the BMC): they come from the Redfish paths, so they stay the same from one
// report to the next.
import { addressScope } from '../../collectors/networks.js';
import {
  API_EXTENSIONS,
  type CpuCore,
  type CpuSocket,
  type Disk,
  type GpuCard,
  type MachineResources,
  type NetworkAddress,
  type NetworkCard,
  type NetworkPort,
  type NetworkState,
  type SystemResources,
} from '../resources/types.js';
import { lastSegment, linkPath, linkPaths, type RedfishInventory } from './inventory.js';

/** More threads than any processor has: a placeholder value, not a count. */
const MAX_THREADS_PER_SOCKET = 4096;

type Resource = Record<string, unknown>;

const MIB = 1024 * 1024;

// --- typed reads of untrusted JSON -------------------------------------------------------------

function object(value: unknown): Resource | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Resource) : undefined;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A non-empty trimmed string, else undefined. */
function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** A finite non-negative number (bigints from the exact parser included), else undefined. */
function count(value: unknown): number | undefined {
  if (typeof value === 'bigint') return value >= 0n ? Number(value) : undefined;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

function pathOf(resource: Resource): string {
  return typeof resource['@odata.id'] === 'string' ? resource['@odata.id'] : '';
}

function present(resource: Resource): boolean {
  return object(resource.Status)?.State !== 'Absent';
}


/** A name MAAS accepts for an interface or disk: letters, digits, `.`, `_`, `:` and `-`. */
function safeName(label: string): string {
  return label.replace(/[^A-Za-z0-9._:-]+/g, '_').replace(/^_+|_+$/g, '') || 'x';
}

/**
 * Names for resources keyed by path: the last path segment where that is unique, else the whole
 * path below /redfish/v1 (a drive "0" under two controllers). Stable while the hardware is.
 */
function uniqueNames(keys: readonly { path: string; label: string }[]): string[] {
  const short = keys.map((k) => safeName(k.label));
  const taken = new Map<string, number>();
  for (const name of short) taken.set(name, (taken.get(name) ?? 0) + 1);
  return keys.map((k, i) => {
    const name = short[i]!;
    if (taken.get(name) === 1) return name;
    return safeName(k.path.replace(/^\/redfish\/v1\//, '').replace(/\//g, '-'));
  });
}

// --- architecture --------------------------------------------------------------------------------

// Redfish InstructionSet values → Debian architecture names.
const INSTRUCTION_SETS: Record<string, string> = {
  'x86-64': 'amd64',
  x86: 'i386',
  'ARM-A64': 'arm64',
  'ARM-A32': 'armhf',
  'PowerISA': 'ppc64el',
  'MIPS64': 'mips64el',
  'MIPS32': 'mips',
  'RV64': 'riscv64',
  'IA-64': 'ia64',
};

// ProcessorArchitecture alone, only where it leaves no doubt about the word size.
const ARCHITECTURES: Record<string, string> = { Power: 'ppc64el', 'RISC-V': 'riscv64', IA64: 'ia64' };

// Debian architecture → the `uname -m` name MAAS maps back (docs/protocol.md §7.2).
const KERNEL_ARCH: Record<string, string> = {
  amd64: 'x86_64',
  i386: 'i686',
  arm64: 'aarch64',
  ppc64el: 'ppc64le',
  s390x: 's390x',
  mips: 'mips',
  mips64el: 'mips64',
  armhf: 'armv7l',
  riscv64: 'riscv64',
};
const MAAS_KERNEL_ARCHES = new Set(['x86_64', 'i686', 'aarch64', 'ppc64le', 's390x', 'mips', 'mips64']);

function isCpu(p: Resource): boolean {
  // Old BMCs leave ProcessorType out on CPUs; GPUs, FPGAs and accelerators always say what they are.
  const type = text(p.ProcessorType);
  return type === undefined || type === 'CPU';
}

function presentCpus(inventory: RedfishInventory): Resource[] {
  return inventory.processors.filter((p) => present(p) && isCpu(p));
}

function architectureOf(cpus: readonly Resource[]): string | undefined {
  for (const cpu of cpus) {
    const set = text(cpu.InstructionSet);
    if (set !== undefined && Object.hasOwn(INSTRUCTION_SETS, set)) return INSTRUCTION_SETS[set];
    const arch = text(cpu.ProcessorArchitecture);
    if (arch !== undefined && Object.hasOwn(ARCHITECTURES, arch)) return ARCHITECTURES[arch];
  }
  return undefined;
}

// --- identity ------------------------------------------------------------------------------------

/**
 * The machine's name: the BMC's HostName up to the first dot, else one made from the system's
 * serial number (or UUID). Never its display Name or Id: those are "System" or
 * "System.Embedded.1" on whole product lines, and register-machine finds machines by name.
 */
function hostnameOf(system: Resource): string {
  const label = (raw: string | undefined) => (raw ?? '').split('.', 1)[0]!.replace(/[^A-Za-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  const fromHost = label(text(system.HostName));
  if (fromHost) return fromHost;
  const serial = label(text(system.SerialNumber)) || label(text(system.UUID));
  return serial ? `bmc-${serial.toLowerCase()}` : '';
}

/** What register-machine needs: the name (see hostnameOf), the physical NICs' permanent MACs (lower case, colon form), and the Debian architecture ("amd64", "arm64", ...) from the processors' InstructionSet/ProcessorArchitecture when known. Pure. */
export function identityFromRedfish(inventory: RedfishInventory): { hostname: string; macs: string[]; architecture?: string } {
  const macs = [...new Set(hostPorts(inventory).map((p) => p.mac))];
  const architecture = architectureOf(presentCpus(inventory));
  return { hostname: hostnameOf(inventory.system), macs, ...(architecture ? { architecture } : {}) };
}

// --- CPU and GPU ---------------------------------------------------------------------------------

function cpuSockets(cpus: readonly Resource[], warnings: string[]): { sockets: CpuSocket[]; total: number } {
  let nextThread = 0;
  const sockets = cpus.map((cpu, index): CpuSocket => {
    let cores = count(cpu.TotalCores) ?? 0;
    let threads = count(cpu.TotalThreads) ?? 0;
    if (cores === 0 && threads === 0) {
      warnings.push(`cpu: ${pathOf(cpu)} gives no core or thread count: counted as one thread`);
      cores = threads = 1;
    }
    if (cores === 0) cores = threads;
    if (threads < cores) threads = cores;
    if (threads > MAX_THREADS_PER_SOCKET) {
      // No processor has this many: a BMC's placeholder (such as 2^32 - 1) for "unknown".
      warnings.push(`cpu: ${pathOf(cpu)} claims ${threads} threads: counted as one`);
      cores = threads = 1;
    }
    const current = count(cpu.OperatingSpeedMHz);
    const coreList: CpuCore[] = [];
    for (let c = 0; c < cores; c++) {
      // Threads spread evenly; the first cores take the remainder (hybrid parts).
      const perCore = Math.floor(threads / cores) + (c < threads % cores ? 1 : 0);
      const core: CpuCore = { core: c, die: 0, threads: [] };
      for (let t = 0; t < perCore; t++) core.threads.push({ id: nextThread++, numa_node: 0, thread: t, online: true, isolated: false });
      if (current) core.frequency = Math.round(current);
      coreList.push(core);
    }
    // LXD's fields: `frequency` is the current speed, `frequency_turbo` the maximum, `frequency_minimum` the lowest allowed.
    const socket = {} as CpuSocket;
    const name = text(cpu.Model);
    const vendor = text(cpu.Manufacturer);
    if (name) socket.name = name;
    if (vendor) socket.vendor = vendor;
    socket.socket = index;
    socket.cores = coreList;
    if (current) socket.frequency = Math.round(current);
    const minimum = count(object(cpu.OperatingSpeedRangeMHz)?.AllowableMin);
    if (minimum) socket.frequency_minimum = Math.round(minimum);
    const maximum = count(cpu.MaxSpeedMHz);
    if (maximum) socket.frequency_turbo = Math.round(maximum);
    return socket;
  });
  return { sockets, total: nextThread };
}

/** A PCI id as LXD writes it (4 hex digits, no 0x), when the value is one. */
function pciId(value: unknown): string | undefined {
  const m = /^(?:0x)?([\da-f]{4})$/i.exec(text(value) ?? '');
  return m ? m[1]!.toLowerCase() : undefined;
}

function gpuCards(processors: readonly Resource[]): GpuCard[] {
  return processors
    .filter((p) => present(p) && text(p.ProcessorType) === 'GPU')
    .map((gpu) => {
      const card = {} as GpuCard;
      card.numa_node = 0;
      const vendor = text(gpu.Manufacturer);
      const vendorId = pciId(object(gpu.ProcessorId)?.VendorId);
      const product = text(gpu.Model);
      const productId = pciId(object(gpu.ProcessorId)?.DeviceId);
      if (vendor) card.vendor = vendor;
      if (vendorId) card.vendor_id = vendorId;
      if (product) card.product = product;
      if (productId) card.product_id = productId;
      return card;
    });
}

// --- memory --------------------------------------------------------------------------------------

function memoryTotal(inventory: RedfishInventory, warnings: string[]): number {
  const dimms = inventory.memory.filter((m) => present(m) && (count(m.CapacityMiB) ?? 0) > 0);
  const summed = dimms.reduce((sum, m) => sum + (count(m.CapacityMiB) ?? 0) * MIB, 0);
  const summaryGib = count(object(inventory.system.MemorySummary)?.TotalSystemMemoryGiB);
  const summary = summaryGib === undefined ? undefined : Math.round(summaryGib * 1024) * MIB;
  if (summed > 0) {
    if (summary !== undefined && summary !== summed) {
      warnings.push(`memory: the DIMMs add up to ${summed / MIB} MiB but MemorySummary says ${summaryGib} GiB: the DIMMs are reported`);
    }
    return summed;
  }
  if (summary !== undefined && summary > 0) return summary;
  warnings.push('memory: neither DIMM capacities nor MemorySummary: memory reported as 0');
  return 0;
}

// --- storage -------------------------------------------------------------------------------------

function diskType(protocol: string | undefined): string {
  if (protocol === 'NVMe') return 'nvme';
  if (protocol === 'USB') return 'usb';
  // As the Linux collector does: a SATA disk is "sata" (MAAS tags it so); SAS disks and FC/iSCSI
  // LUNs are SCSI disks.
  if (protocol === 'SATA') return 'sata';
  if (protocol && ['SAS', 'SCSI', 'FC', 'FCoE', 'iSCSI'].includes(protocol)) return 'scsi';
  return '';
}

function diskRpm(drive: Resource, what: string, warnings: string[]): number {
  const rpm = count(drive.RotationSpeedRPM);
  if (rpm !== undefined && rpm > 0) return Math.round(rpm);
  const media = text(drive.MediaType);
  if (media === undefined) warnings.push(`storage: ${what} gives no media type: reported as not rotating (MAAS tags it ssd)`);
  // Like the kernel's queue/rotational: 1 means "spins, speed unknown" (MAAS tags it 1rpm).
  return media === 'HDD' ? 1 : 0;
}

/** Capacity in bytes as a JSON number; warns when the double cannot print the exact value. */
function capacity(value: unknown, what: string, warnings: string[]): number {
  if (typeof value === 'bigint') {
    const rounded = Number(value);
    if (BigInt(String(rounded)) !== value) warnings.push(`storage: ${what}: ${value} bytes is reported as ${rounded} (beyond exact JSON numbers)`);
    return rounded;
  }
  const size = count(value);
  if (size === undefined) {
    warnings.push(`storage: ${what} gives no CapacityBytes: reported as 0 bytes, which MAAS skips`);
    return 0;
  }
  return size;
}

function blankDisk(id: string): Disk {
  // `type` is always written, even empty: MAAS reads it without a default.
  return { id, device: '', type: '', read_only: false, mounted: false, size: 0, removable: false, numa_node: 0, block_size: 0, rpm: 0, device_id: '', partitions: [], device_fs_uuid: '' };
}

function disks(inventory: RedfishInventory, warnings: string[]): Disk[] {
  const drives = inventory.drives.filter(present);
  if (drives.length > 0) {
    const names = uniqueNames(drives.map((d) => ({ path: pathOf(d), label: lastSegment(pathOf(d)) })));
    return drives.map((drive, i) => {
      const disk = blankDisk(names[i]!);
      const model = text(drive.Model);
      if (model) disk.model = model;
      disk.type = diskType(text(drive.Protocol));
      disk.size = capacity(drive.CapacityBytes, pathOf(drive), warnings);
      disk.block_size = count(drive.BlockSizeBytes) ?? 0;
      const firmware = text(drive.Revision) ?? text(drive.FirmwareVersion);
      if (firmware) disk.firmware_version = firmware;
      disk.rpm = diskRpm(drive, pathOf(drive), warnings);
      const serial = text(drive.SerialNumber);
      if (serial) disk.serial = serial;
      return orderDisk(disk);
    });
  }
  // Older BMCs: SimpleStorage devices are inline, so their key is storage path + index.
  const devices = inventory.simpleStorage.flatMap((storage) =>
    list(storage.Devices)
      .map((d, index) => ({ device: object(d), index, storage }))
      .filter((e): e is { device: Resource; index: number; storage: Resource } => e.device !== undefined && present(e.device)),
  );
  const names = uniqueNames(
    devices.map(({ device, index, storage }) => ({ path: `${pathOf(storage)}/Devices/${index}`, label: text(device.Name) ?? `${lastSegment(pathOf(storage))}-${index}` })),
  );
  return devices.map(({ device, index, storage }, i) => {
    const disk = blankDisk(names[i]!);
    const model = text(device.Model);
    if (model) disk.model = model;
    disk.size = capacity(device.CapacityBytes, `${pathOf(storage)} device ${index}`, warnings);
    disk.rpm = diskRpm(device, `${pathOf(storage)} device ${index}`, warnings);
    return orderDisk(disk);
  });
}

/** The disk's keys in Go's declaration order, so the document prints like machine-resources'. */
function orderDisk(d: Disk): Disk {
  const keys: (keyof Disk)[] = ['id', 'device', 'model', 'type', 'read_only', 'mounted', 'size', 'removable', 'wwn', 'numa_node', 'device_path', 'block_size', 'firmware_version', 'rpm', 'serial', 'device_id', 'partitions', 'pci_address', 'usb_address', 'device_fs_uuid', 'used_by'];
  return Object.fromEntries(keys.filter((k) => d[k] !== undefined).map((k) => [k, d[k]])) as unknown as Disk;
}

// --- network -------------------------------------------------------------------------------------

/** A MAC in lower-case colon form ("AA-BB-…" and "aabb.ccdd.eeff" accepted), else undefined. */
function mac(value: unknown): string | undefined {
  const raw = text(value)?.toLowerCase();
  if (raw === undefined) return undefined;
  const hex = raw.replace(/[^\da-f]/g, '');
  if (hex.length !== 12) return undefined;
  const formatted = hex.match(/../g)!.join(':');
  return formatted !== '00:00:00:00:00:00' ? formatted : undefined;
}

function prefixOfMask(mask: string | undefined): number | undefined {
  const parts = (mask ?? '').split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  const bits = parts.map((p) => p.toString(2).padStart(8, '0')).join('');
  return /^1*0*$/.test(bits) ? bits.indexOf('0') === -1 ? 32 : bits.indexOf('0') : undefined;
}

function addressesOf(nic: Resource): NetworkAddress[] {
  const result: NetworkAddress[] = [];
  for (const entry of list(nic.IPv4Addresses)) {
    const a = object(entry);
    const address = text(a?.Address);
    const prefix = prefixOfMask(text(a?.SubnetMask));
    if (!address || address === '0.0.0.0' || prefix === undefined) continue;
    result.push({ family: 'inet', address, netmask: String(prefix), scope: addressScope(address) });
  }
  for (const entry of list(nic.IPv6Addresses)) {
    const a = object(entry);
    const address = text(a?.Address)?.toLowerCase();
    const prefix = count(a?.PrefixLength);
    if (!address || address === '::' || prefix === undefined) continue;
    result.push({ family: 'inet6', address, netmask: String(prefix), scope: addressScope(address) });
  }
  return result;
}

/** One host port, before naming: from an EthernetInterface, an adapter function, or both. */
interface HostPort {
  mac: string;
  /** The current MAC (the kernel's `address`), when it differs from the permanent one. */
  currentMac: string;
  key: { path: string; label: string };
  nic: Resource | undefined;
  fn: Resource | undefined;
  adapterPath: string | undefined;
}

function isHostNic(nic: Resource): boolean {
  const type = text(nic.EthernetInterfaceType);
  // The host side of the BMC's host interface (in-band Redfish) is no NIC of the machine's own.
  const hostInterface = object(nic.Links)?.HostInterface !== undefined;
  return (type === undefined || type === 'Physical') && !hostInterface && present(nic);
}

function adapterOf(fnPath: string): string | undefined {
  const at = fnPath.lastIndexOf('/NetworkDeviceFunctions/');
  return at > 0 ? fnPath.slice(0, at) : undefined;
}

/** The machine's physical ports, EthernetInterfaces and adapter functions matched by permanent MAC. */
function hostPorts(inventory: RedfishInventory): HostPort[] {
  const ports: HostPort[] = [];
  const byMac = new Map<string, HostPort>();
  for (const nic of inventory.ethernetInterfaces.filter(isHostNic)) {
    const permanent = mac(nic.PermanentMACAddress) ?? mac(nic.MACAddress);
    if (!permanent || byMac.has(permanent)) continue;
    const port: HostPort = { mac: permanent, currentMac: mac(nic.MACAddress) ?? permanent, key: { path: pathOf(nic), label: lastSegment(pathOf(nic)) }, nic, fn: undefined, adapterPath: undefined };
    ports.push(port);
    byMac.set(permanent, port);
  }
  for (const fn of inventory.networkFunctions) {
    const ethernet = object(fn.Ethernet);
    const permanent = mac(ethernet?.PermanentMACAddress) ?? mac(ethernet?.MACAddress);
    if (!permanent || fn.DeviceEnabled === false || (text(fn.NetDevFuncType) ?? 'Ethernet') !== 'Ethernet') continue;
    const adapterPath = adapterOf(pathOf(fn));
    const known = byMac.get(permanent);
    if (known) {
      // The same port seen from both sides: the EthernetInterface names it, the adapter describes the card.
      known.fn = fn;
      known.adapterPath = adapterPath;
      continue;
    }
    const label = `${adapterPath ? lastSegment(adapterPath) : 'adapter'}-${lastSegment(pathOf(fn))}`;
    const port: HostPort = { mac: permanent, currentMac: mac(ethernet?.MACAddress) ?? permanent, key: { path: pathOf(fn), label }, nic: undefined, fn, adapterPath };
    ports.push(port);
    byMac.set(permanent, port);
  }
  return ports;
}

function linkState(port: HostPort, physical: Resource | undefined): { detected: boolean; speedMbps: number | undefined } {
  if (port.nic) {
    const status = text(port.nic.LinkStatus);
    const speed = count(port.nic.SpeedMbps);
    // Without LinkStatus a negotiated speed is the best sign of a link.
    const detected = status !== undefined ? status === 'LinkUp' : (speed ?? 0) > 0;
    return { detected, speedMbps: speed };
  }
  const status = text(physical?.LinkStatus);
  const gbps = count(physical?.CurrentSpeedGbps);
  const speed = gbps === undefined ? undefined : Math.round(gbps * 1000);
  return { detected: status !== undefined ? status === 'LinkUp' : (speed ?? 0) > 0, speedMbps: speed };
}

function network(inventory: RedfishInventory): { cards: NetworkCard[]; networks: Record<string, NetworkState> } {
  const ports = hostPorts(inventory);
  const names = uniqueNames(ports.map((p) => p.key));
  const adapters = new Map((inventory.networkAdapters ?? []).map((a) => [pathOf(a), a]));
  const physicalPorts = new Map((inventory.networkPorts ?? []).map((p) => [pathOf(p), p]));
  const cards: NetworkCard[] = [];
  const cardOfAdapter = new Map<string, NetworkCard>();
  const networks: Record<string, NetworkState> = {};
  const nameByNicPath = new Map<string, string>();

  ports.forEach((hostPort, i) => {
    const name = names[i]!;
    if (hostPort.nic) nameByNicPath.set(pathOf(hostPort.nic), name);
    const physicalPath = linkPath(object(hostPort.fn?.Links)?.PhysicalNetworkPortAssignment) ?? linkPath(object(hostPort.fn?.Links)?.PhysicalPortAssignment);
    const link = linkState(hostPort, physicalPath ? physicalPorts.get(physicalPath) : undefined);
    const port = {} as NetworkPort;
    port.id = name;
    port.address = hostPort.mac;
    port.port = 0;
    port.protocol = 'ethernet';
    port.auto_negotiation = hostPort.nic?.AutoNeg === true;
    port.link_detected = link.detected;
    if (link.detected && link.speedMbps) port.link_speed = link.speedMbps;
    if (link.detected && typeof hostPort.nic?.FullDuplex === 'boolean') port.link_duplex = hostPort.nic.FullDuplex ? 'full' : 'half';

    let card = hostPort.adapterPath ? cardOfAdapter.get(hostPort.adapterPath) : undefined;
    if (card) {
      port.port = card.ports?.length ?? 0;
      card.ports = [...(card.ports ?? []), port];
    } else {
      card = adapterCard(hostPort.adapterPath ? adapters.get(hostPort.adapterPath) : undefined, hostPort.fn);
      card.ports = [port];
      cards.push(card);
      if (hostPort.adapterPath) cardOfAdapter.set(hostPort.adapterPath, card);
    }
    networks[name] = networkState(hostPort.currentMac, hostPort.nic, hostPort.fn, null);
  });

  // VLAN interfaces the BMC reports (virtual EthernetInterfaces tagged on a host NIC): not ports,
  // but interfaces with addresses of their own, as `ip link add … type vlan` would give.
  for (const nic of inventory.ethernetInterfaces) {
    const vlan = object(nic.VLAN);
    const vid = count(vlan?.VLANId);
    if (text(nic.EthernetInterfaceType) !== 'Virtual' || vlan?.VLANEnable === false || vid === undefined || !present(nic)) continue;
    const parentName = linkPaths(object(nic.Links)?.RelatedInterfaces).map((p) => nameByNicPath.get(p)).find((n) => n !== undefined);
    if (parentName === undefined) continue;
    const name = `${parentName}.${vid}`;
    if (networks[name]) continue;
    const parentMac = networks[parentName]!.hwaddr;
    networks[name] = networkState(mac(nic.MACAddress) ?? parentMac, nic, undefined, { lower_device: parentName, vid });
  }
  return { cards: cards.map(orderCard), networks };
}

function adapterCard(adapter: Resource | undefined, fn: Resource | undefined): NetworkCard {
  const card = {} as NetworkCard;
  card.numa_node = 0;
  if (!adapter) return card;
  const vendor = text(adapter.Manufacturer);
  const product = text(adapter.Model);
  if (vendor) card.vendor = vendor;
  if (product) card.product = product;
  const controller = object(list(adapter.Controllers)[0]);
  const firmware = text(controller?.FirmwarePackageVersion);
  if (firmware) card.firmware_version = firmware;
  const maxVfs = count(fn?.MaxVirtualFunctions) ?? count(object(object(object(controller?.ControllerCapabilities)?.VirtualizationOffload)?.VirtualFunction)?.DeviceMaxCount);
  if (maxVfs) card.sriov = { current_vfs: 0, maximum_vfs: maxVfs, vfs: null };
  return card;
}

/** The card's keys in Go's declaration order. */
function orderCard(c: NetworkCard): NetworkCard {
  const keys: (keyof NetworkCard)[] = ['driver', 'driver_version', 'ports', 'sriov', 'vdpa', 'numa_node', 'pci_address', 'vendor', 'vendor_id', 'product', 'product_id', 'firmware_version', 'usb_address'];
  return Object.fromEntries(keys.filter((k) => c[k] !== undefined).map((k) => [k, c[k]])) as unknown as NetworkCard;
}

function networkState(hwaddr: string, nic: Resource | undefined, fn: Resource | undefined, vlan: NetworkState['vlan']): NetworkState {
  const mtu = count(nic?.MTUSize) ?? count(object(fn?.Ethernet)?.MTUSize) ?? 1500;
  return {
    addresses: nic ? addressesOf(nic) : [],
    counters: { bytes_received: 0, bytes_sent: 0, packets_received: 0, packets_sent: 0 },
    hwaddr,
    mtu,
    state: nic?.InterfaceEnabled === false ? 'down' : 'up',
    type: 'broadcast',
    bond: null,
    bridge: null,
    vlan,
    ovn: null,
  };
}

// --- system --------------------------------------------------------------------------------------

// Redfish ChassisType → the SMBIOS names LXD reports; others pass through as Redfish names them.
const CHASSIS_TYPES: Record<string, string> = {
  RackMount: 'Rack Mount Chassis',
  Blade: 'Blade',
  Enclosure: 'Blade Enclosure',
  StandAlone: 'Main Server Chassis',
  Expansion: 'Expansion Chassis',
  Other: 'Other',
  Unknown: 'Unknown',
};

function systemOf(inventory: RedfishInventory): SystemResources {
  const s = inventory.system;
  const chassis =
    inventory.chassis.find((c) => linkPaths(object(c.Links)?.ComputerSystems).includes(inventory.systemPath)) ?? inventory.chassis[0];
  const chassisType = text(chassis?.ChassisType);
  const systemType = text(s.SystemType);
  return {
    uuid: text(s.UUID) ?? '',
    vendor: text(s.Manufacturer) ?? '',
    product: text(s.Model) ?? '',
    family: '',
    version: text(s.SubModel) ?? '',
    sku: text(s.SKU) ?? '',
    serial: text(s.SerialNumber) ?? '',
    type: systemType === 'Virtual' || systemType === 'VirtuallyPartitioned' ? 'virtual-machine' : 'physical',
    // The BIOS version string often carries its date ("P79 v1.45 (12/06/2017)"); it is kept whole.
    firmware: { vendor: '', date: '', version: text(s.BiosVersion) ?? '' },
    chassis: chassis
      ? {
          vendor: text(chassis.Manufacturer) ?? '',
          type: chassisType === undefined ? '' : Object.hasOwn(CHASSIS_TYPES, chassisType) ? CHASSIS_TYPES[chassisType]! : chassisType,
          serial: text(chassis.SerialNumber) ?? '',
          version: '',
        }
      : null,
    motherboard: null,
  };
}

// --- the document --------------------------------------------------------------------------------

/** The machine-resources document MAAS would get from this machine's own collectors, as far as Redfish tells it. Pure. */
export function resourcesFromRedfish(inventory: RedfishInventory): { document: MachineResources; warnings: string[] } {
  const warnings: string[] = [];
  const cpus = presentCpus(inventory);
  const architecture = architectureOf(cpus);
  const kernelArch = architecture === undefined ? '' : (KERNEL_ARCH[architecture] ?? '');
  if (!MAAS_KERNEL_ARCHES.has(kernelArch)) {
    warnings.push(`environment: the processors' architecture ${architecture ? `(${architecture}) is not one MAAS knows` : 'is unknown'}: MAAS will not process this report`);
  }
  const { sockets, total } = cpuSockets(cpus, warnings);
  const gpu = gpuCards(inventory.processors);
  const { cards, networks } = network(inventory);
  const diskList = disks(inventory, warnings);

  const document: MachineResources = {
    resources: {
      cpu: { architecture: kernelArch, sockets, total },
      memory: { hugepages_total: 0, hugepages_used: 0, hugepages_size: 0, used: 0, total: memoryTotal(inventory, warnings) },
      gpu: { cards: gpu, total: gpu.length },
      network: { cards, total: cards.length },
      storage: { disks: diskList, total: diskList.length },
      usb: { devices: [], total: 0 },
      pci: { devices: [], total: 0 },
      system: systemOf(inventory),
    },
    networks,
    // No kernel and no OS: the BMC does not know them, and MAAS keeps the machine's OS when both OS fields are empty.
    environment: {
      kernel: '',
      kernel_architecture: kernelArch,
      kernel_version: '',
      os_name: '',
      os_version: '',
      server: 'redfish',
      server_name: hostnameOf(inventory.system),
      server_version: '',
    },
    api_version: '1.0',
    api_extensions: [...API_EXTENSIONS],
  };
  return { document, warnings };
}
