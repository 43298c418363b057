// Network interfaces MAAS derives from `networks` and `resources.network` (docs/protocol.md §7.5).
import type { HardwareInterface, HardwareLink, IdAllocator } from './hardware.js';
import { networkContains, networkOf, parseIp } from './ip.js';
import {
  HookError,
  optionalCount,
  optionalList,
  optionalNumber,
  optionalObject,
  optionalString,
  requireBoolean,
  requireCount,
  requireKnownNuma,
  requireObject,
  requireString,
  type JsonObject,
} from './validate.js';

// All OpenBMC interfaces of switches share this hard-coded MAC; MAAS never models them.
const OPENBMC_MAC = '02:00:00:00:00:02';
const MAC = /^[\da-f]{2}(:[\da-f]{2}){5}$/;

/** One entry of `networks`, typed. */
export interface NetworkEntry {
  name: string;
  type: string;
  hwaddr: string;
  up: boolean;
  addresses: { family: 'inet' | 'inet6'; address: string; netmask: string; scope: string }[];
  vlan: { lowerDevice: string; vid: number } | null;
  bond: { lowerDevices: string[] } | null;
  bridge: { upperDevices: string[] } | null;
}

/** Card details of one port, keyed in `CardPorts.details` by MAC (MAAS's parse_interfaces). */
export interface PortDetails {
  name: string;
  linkConnected: boolean;
  interfaceSpeed: number;
  linkSpeed: number;
  numaNode: number;
  vendor: string | null;
  product: string | null;
  firmwareVersion: string | null;
  sriovMaxVf: number;
  pciAddress: string | null;
  usbAddress: string | null;
}

/** What `resources.network.cards` yields. */
export interface CardPorts {
  /** Port name → {MAC, link detected} for ports of top-level cards (never VFs). */
  ports: Map<string, { address: string | undefined; linkDetected: boolean }>;
  /** MAC → details, for ports of cards, and of their VFs unless the machine is deployed. */
  details: Map<string, PortDetails>;
  /** Names and MACs of SR-IOV virtual function ports. */
  vfNames: Set<string>;
  vfMacs: Set<string>;
}

/** Reads `networks` into typed entries (the fields MAAS requires must be there). */
export function parseNetworks(document: JsonObject): NetworkEntry[] {
  const networks = requireObject(document.networks, 'networks');
  return Object.entries(networks).map(([name, value]) => {
    const path = `networks.${name}`;
    const net = requireObject(value, path);
    for (const key of ['bond', 'bridge', 'vlan']) {
      if (!(key in net)) throw new HookError(`${path}.${key} is missing (it must be present, null when unused)`);
    }
    const vlan = optionalObject(net.vlan, `${path}.vlan`);
    const bond = optionalObject(net.bond, `${path}.bond`);
    const bridge = optionalObject(net.bridge, `${path}.bridge`);
    const names = (list: unknown, where: string): string[] => optionalList(list, where).map((n, i) => requireString(n, `${where}[${i}]`));
    return {
      name,
      type: requireString(net.type, `${path}.type`),
      hwaddr: requireString(net.hwaddr, `${path}.hwaddr`).toLowerCase(),
      up: requireString(net.state, `${path}.state`) === 'up',
      addresses: optionalList(net.addresses, `${path}.addresses`).map((a, i) => {
        const where = `${path}.addresses[${i}]`;
        const address = requireObject(a, where);
        const family = optionalString(address.family, `${where}.family`);
        return {
          family: family === 'inet6' ? 'inet6' : 'inet',
          address: requireString(address.address, `${where}.address`),
          netmask: requireString(address.netmask, `${where}.netmask`),
          scope: requireString(address.scope, `${where}.scope`),
        };
      }),
      vlan: vlan ? { lowerDevice: requireString(vlan.lower_device, `${path}.vlan.lower_device`), vid: requireCount(vlan.vid, `${path}.vlan.vid`) } : null,
      bond: bond ? { lowerDevices: names(bond.lower_devices, `${path}.bond.lower_devices`) } : null,
      bridge: bridge ? { upperDevices: names(bridge.upper_devices, `${path}.bridge.upper_devices`) } : null,
    };
  });
}

function highestSpeed(modes: string[]): number {
  let best = 0;
  for (const mode of modes) {
    const speed = Number.parseInt(mode.split('base')[0] ?? '', 10);
    if (!Number.isFinite(speed)) throw new HookError(`supported mode '${mode}' does not start with a speed`);
    best = Math.max(best, speed);
  }
  return best;
}

/** Reads the ports of `resources.network.cards`. VFs count only for machines not deployed. */
export function parseCards(resources: JsonObject, deployed: boolean): CardPorts {
  const network = optionalObject(resources.network, 'resources.network') ?? {};
  const result: CardPorts = { ports: new Map(), details: new Map(), vfNames: new Set(), vfMacs: new Set() };
  const readCard = (card: JsonObject, path: string, isVf: boolean): void => {
    const sriov = optionalObject(card.sriov, `${path}.sriov`);
    optionalList(card.ports, `${path}.ports`).forEach((value, p) => {
      const where = `${path}.ports[${p}]`;
      const port = requireObject(value, where);
      const name = requireString(port.id, `${where}.id`);
      const address = optionalString(port.address, `${where}.address`)?.toLowerCase();
      const linkDetected = requireBoolean(port.link_detected, `${where}.link_detected`);
      if (isVf) {
        result.vfNames.add(name);
        if (address) result.vfMacs.add(address);
      } else {
        result.ports.set(name, { address, linkDetected });
      }
      if (isVf && deployed) return;
      // IPoIB hardware addresses (20 bytes) are not MACs MAAS can model.
      if (address === undefined || address.length > 17) return;
      const modes = optionalList(port.supported_modes, `${where}.supported_modes`).map((m, i) => requireString(m, `${where}.supported_modes[${i}]`));
      result.details.set(address, {
        name,
        linkConnected: linkDetected,
        interfaceSpeed: port.supported_modes === undefined || port.supported_modes === null ? 0 : highestSpeed(modes),
        linkSpeed: optionalCount(port.link_speed, `${where}.link_speed`) ?? 0,
        numaNode: optionalCount(card.numa_node, `${path}.numa_node`) ?? 0,
        vendor: optionalString(card.vendor, `${path}.vendor`) ?? null,
        product: optionalString(card.product, `${path}.product`) ?? null,
        firmwareVersion: optionalString(card.firmware_version, `${path}.firmware_version`) ?? null,
        sriovMaxVf: optionalNumber(sriov?.maximum_vfs, `${path}.sriov.maximum_vfs`) ?? 0,
        pciAddress: optionalString(card.pci_address, `${path}.pci_address`) ?? null,
        usbAddress: optionalString(card.usb_address, `${path}.usb_address`) ?? null,
      });
    });
    if (!isVf) {
      optionalList(sriov?.vfs, `${path}.sriov.vfs`).forEach((vf, v) => readCard(requireObject(vf, `${path}.sriov.vfs[${v}]`), `${path}.sriov.vfs[${v}]`, true));
    }
  };
  optionalList(network.cards, 'resources.network.cards').forEach((card, c) => readCard(requireObject(card, `resources.network.cards[${c}]`), `resources.network.cards[${c}]`, false));
  return result;
}

/** Interface names in processing order: parents before children, alphabetical within a level. */
export function processingOrder(entries: readonly NetworkEntry[]): string[] {
  const known = new Set(entries.map((e) => e.name));
  const waitingFor = new Map<string, number>();
  const children = new Map<string, string[]>();
  for (const e of entries) {
    const parents = e.bridge ? e.bridge.upperDevices : e.bond ? e.bond.lowerDevices : e.vlan ? [e.vlan.lowerDevice] : [];
    // Parents the report does not describe (not networks of their own) impose no order.
    const relevant = new Set(parents.filter((p) => known.has(p) && p !== e.name));
    waitingFor.set(e.name, relevant.size);
    for (const p of relevant) children.set(p, [...(children.get(p) ?? []), e.name]);
  }
  const order: string[] = [];
  let level = [...waitingFor].filter(([, n]) => n === 0).map(([name]) => name);
  while (level.length > 0) {
    level.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    order.push(...level);
    const next: string[] = [];
    for (const name of level) {
      for (const child of children.get(name) ?? []) {
        const left = (waitingFor.get(child) ?? 0) - 1;
        waitingFor.set(child, left);
        if (left === 0) next.push(child);
      }
    }
    level = next;
  }
  if (order.length < waitingFor.size) {
    const stuck = [...waitingFor].filter(([, n]) => n > 0).map(([name]) => name);
    throw new HookError(`interfaces ${stuck.sort().join(', ')} are each other's parents`);
  }
  return order;
}

/** Global-scope addresses as links; a /32 or /128 takes the prefix of another link containing it. */
export function linksOf(entry: NetworkEntry): Omit<HardwareLink, 'id'>[] {
  const links = entry.addresses
    .filter((a) => a.scope === 'global')
    .map((a) => {
      const ip = parseIp(a.address);
      const prefix = Number(a.netmask);
      const cidr = /^\d+$/.test(a.netmask) ? networkOf(a.address, prefix) : undefined;
      if (!ip || cidr === undefined) throw new HookError(`networks.${entry.name}: '${a.address}/${a.netmask}' is not an IP address with a prefix length`);
      return { address: a.address, family: ip.family, netmask: a.netmask, cidr, single: prefix === ip.bits };
    });
  const wider = links.filter((l) => !l.single);
  return links.map(({ single, ...link }) => {
    if (!single) return link;
    const enclosing = wider.find((w) => w.family === link.family && networkContains(w.cidr, link.address));
    if (!enclosing) return link;
    return { ...link, netmask: enclosing.netmask, cidr: networkOf(link.address, Number(enclosing.netmask)) ?? link.cidr };
  });
}

/** The result of updating the interfaces: the new list and bus address → interface id. */
export interface InterfaceUpdate {
  interfaces: HardwareInterface[];
  /** pci_address or usb_address → id of the interface there, for node devices. */
  byAddress: Map<string, number>;
}

/** An interface with nothing known but its name, type and MAC; `acquired` ones go on release. */
export function blankInterface(id: number, name: string, type: HardwareInterface['type'], mac: string, acquired: boolean): HardwareInterface {
  return {
    id,
    name,
    type,
    mac,
    parents: [],
    vid: null,
    enabled: true,
    linkConnected: true,
    vendor: null,
    product: null,
    firmwareVersion: null,
    linkSpeed: null,
    interfaceSpeed: null,
    sriovMaxVf: null,
    numaNode: null,
    tags: [],
    backedByCard: false,
    sriovVf: false,
    acquired,
    links: [],
  };
}

/**
 * Updates the machine's interfaces from a report, parents first. Physical interfaces are matched
 * by MAC (a renamed NIC keeps its id; another MAC under the same name replaces it), VLANs by name,
 * parent and VID, bonds and bridges by name. Interfaces the report no longer has are dropped.
 * Moving a MAC away from another machine is the caller's job (see `hardwareMacs`).
 */
export function updateInterfaces(
  previous: readonly HardwareInterface[],
  entries: readonly NetworkEntry[],
  cards: CardPorts,
  knownNuma: ReadonlySet<number>,
  deployed: boolean,
  nextId: IdAllocator,
): InterfaceUpdate {
  let working = previous.map((i) => ({ ...i, parents: [...i.parents], tags: [...i.tags], links: i.links.map((l) => ({ ...l })) }));
  const touched = new Set<number>();
  const byName = new Map(entries.map((e) => [e.name, e]));

  const setLinks = (iface: HardwareInterface, links: Omit<HardwareLink, 'id'>[]): void => {
    iface.links = links.map((link) => ({ id: iface.links.find((old) => old.address === link.address)?.id ?? nextId(), ...link }));
  };

  for (const name of processingOrder(entries)) {
    const entry = byName.get(name);
    if (!entry || entry.type !== 'broadcast' || entry.hwaddr === OPENBMC_MAC) continue;
    const links = linksOf(entry);
    let iface: HardwareInterface | undefined;
    if (entry.vlan) {
      const { lowerDevice, vid } = entry.vlan;
      const parent = working.find((i) => i.name === lowerDevice);
      if (!parent) throw new HookError(`VLAN interface ${name}: its parent ${lowerDevice} is not an interface of this machine`);
      iface = working.find((i) => i.type === 'vlan' && i.name === name && i.vid === vid && i.parents.includes(parent.id));
      if (!iface) {
        iface = { ...blankInterface(nextId(), name, 'vlan', parent.mac, true), parents: [parent.id], vid };
        working.push(iface);
      }
      iface.mac = parent.mac;
    } else if (entry.bond || entry.bridge) {
      const type = entry.bridge ? 'bridge' : 'bond';
      const wanted = entry.bridge ? entry.bridge.upperDevices : (entry.bond?.lowerDevices ?? []);
      const parents = wanted.map((p) => working.find((i) => i.name === p)).filter((p): p is HardwareInterface => p !== undefined);
      // A bond without known parents cannot be placed on a fabric; bridges may be parentless.
      if (parents.length === 0 && type === 'bond') continue;
      iface = working.find((i) => i.type === type && i.name === name);
      if (!iface) {
        iface = blankInterface(nextId(), name, type, entry.hwaddr, true);
        working.push(iface);
      }
      iface.mac = checkedMac(entry.hwaddr, name);
      iface.parents = parents.map((p) => p.id);
    } else {
      const port = cards.ports.get(name);
      if (port && port.address === undefined) throw new HookError(`the card port ${name} has no address`);
      const mac = port?.address ?? entry.hwaddr;
      if (mac.length > 17) continue; // IPoIB
      checkedMac(mac, name);
      const connected = entry.up && (port ? port.linkDetected : true);
      working = working.filter((i) => !(i.type === 'physical' && i.name === name && i.mac !== mac));
      iface = working.find((i) => i.type === 'physical' && i.mac === mac);
      if (!iface) {
        iface = blankInterface(nextId(), name, 'physical', mac, deployed);
        working.push(iface);
      }
      iface.name = name;
      iface.linkConnected = connected;
      iface.sriovVf = cards.vfNames.has(name) || cards.vfMacs.has(mac);
      const details = cards.details.get(mac);
      if (details) applyDetails(iface, details);
    }
    setLinks(iface, links);
    touched.add(iface.id);
  }

  // Interfaces not reported any more go; children forget parents that went.
  const kept = working.filter((i) => touched.has(i.id));
  const keptIds = new Set(kept.map((i) => i.id));
  for (const iface of kept) iface.parents = iface.parents.filter((p) => keptIds.has(p));

  const byAddress = new Map<string, number>();
  for (const [mac, details] of cards.details) {
    const iface = kept.find((i) => i.type === 'physical' && i.mac === mac);
    if (!iface) continue;
    iface.numaNode = requireKnownNuma(knownNuma, details.numaNode, `network card of ${details.name}`);
    if (details.sriovMaxVf && !iface.tags.includes('sriov')) iface.tags.push('sriov');
    if (details.pciAddress) byAddress.set(details.pciAddress, iface.id);
    else if (details.usbAddress) byAddress.set(details.usbAddress, iface.id);
  }
  return { interfaces: kept, byAddress };
}

function applyDetails(iface: HardwareInterface, details: PortDetails): void {
  iface.backedByCard = true;
  iface.name = details.name;
  iface.vendor = details.vendor;
  iface.product = details.product;
  iface.firmwareVersion = details.firmwareVersion;
  iface.linkSpeed = details.linkSpeed;
  iface.interfaceSpeed = details.interfaceSpeed;
  iface.sriovMaxVf = details.sriovMaxVf;
}

function checkedMac(mac: string, name: string): string {
  if (!MAC.test(mac)) throw new HookError(`interface ${name}: '${mac}' is not a MAC address`);
  return mac;
}
