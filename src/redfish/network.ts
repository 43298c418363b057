// resources.network and the top-level `networks` from a BMC (docs/protocol.md §6.6): the machine's
// physical ports from its EthernetInterfaces and network adapters, matched by permanent MAC, one
// card per adapter, and the VLAN interfaces the BMC reports. Names come from the Redfish paths.
// Pure.
import { addressScope } from '../../collectors/networks.js';
import type { AreaReading, NetworkAddress, NetworkCard, NetworkPort, NetworkResources, NetworkState } from '../resources/types.js';
import { count, list, object, pathOf, present, text, uniqueNames, type Resource } from './fields.js';
import { lastSegment, linkPath, linkPaths, type RedfishInventory } from './inventory.js';

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
export function hostPorts(inventory: RedfishInventory): HostPort[] {
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

/** resources.network (one card per adapter, or per port without one) and `networks` (one state per interface). */
export function networkFromRedfish(inventory: RedfishInventory): AreaReading<{ network: NetworkResources; networks: Record<string, NetworkState> }> {
  const { cards, networks } = network(inventory);
  return { value: { network: { cards, total: cards.length }, networks }, warnings: [] };
}
