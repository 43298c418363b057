// resources.network: NIC cards and their ports from /sys/class/net and the PCI bus.
//
// LXD fills several port fields through ethtool ioctls, which Node cannot issue. The mapping used
// instead, so each field keeps LXD's meaning:
//   link_detected      sysfs `carrier` == 1 (what ETHTOOL_GLINK reports for nearly every driver)
//   link_speed/duplex  sysfs `speed` (> 0) and `duplex`, only when the link is detected
//   address            the permanent MAC: `bonding_slave/perm_hwaddr` for bond slaves, else the
//                      current address when `addr_assign_type` is 0 (it is the permanent one),
//                      else `ethtool -P` when installed, else the current address
//   supported_modes, supported_ports, port_type, transceiver_type, auto_negotiation
//                      `ethtool IF` when installed; absent otherwise (MAAS then reports speed 0)
//   firmware_version   `ethtool -i` of the card's first port when installed
// Unlike LXD, a port whose ethtool query fails is kept rather than dropped.
import { posix } from 'node:path';
import type { Host } from '../src/host/host.js';
import type { AreaReading, NetworkCard, NetworkPort, NetworkResources } from '../src/resources/types.js';
import { loadIds } from './lib/ids.js';
import { driverOf, hexId, isPciAddress, numaNodeOf, pciAddressOf, readNumber, usbAddressOf } from './lib/sysfs.js';
import { SBP } from './pci.js';

const NET = '/sys/class/net';

/** What plain `ethtool IF` tells about a port. */
export interface EthtoolSettings {
  supportedPorts: string[];
  supportedModes: string[];
  autoNegotiation: boolean;
  port: string;
  transceiver: string;
  speed: number;
  duplex: string;
  linkDetected: boolean | undefined;
}

/** Parses plain `ethtool IF` output (LC_ALL=C). Pure. */
export function parseEthtoolSettings(text: string): EthtoolSettings {
  const fields = new Map<string, string>();
  let last = '';
  for (const line of text.split('\n')) {
    const m = /^\t([^:\t][^:]*):\s*(.*)$/.exec(line);
    if (m) {
      last = m[1]!.trim();
      fields.set(last, m[2]!.trim());
    } else if (/^\t\s+\S/.test(line) && last) {
      fields.set(last, `${fields.get(last) ?? ''} ${line.trim()}`.trim());
    }
  }
  const list = (key: string) => {
    const v = fields.get(key) ?? '';
    return v === '' || v === 'Not reported' ? [] : v.replace(/[[\]]/g, ' ').split(/\s+/).filter(Boolean);
  };
  const PORT_NAMES: Record<string, string> = { TP: 'twisted pair', AUI: 'AUI', BNC: 'BNC', MII: 'MII', FIBRE: 'fibre', Backplane: 'backplane' };
  const speed = /^(\d+)Mb\/s$/.exec(fields.get('Speed') ?? '');
  const duplex = (fields.get('Duplex') ?? '').toLowerCase();
  const link = fields.get('Link detected');
  return {
    supportedPorts: list('Supported ports').map((p) => PORT_NAMES[p] ?? p.toLowerCase()),
    supportedModes: list('Supported link modes'),
    autoNegotiation: fields.get('Auto-negotiation') === 'on',
    port: (fields.get('Port') ?? '').toLowerCase().replace(/^other$/, '').replace(/^none$/, ''),
    transceiver: (fields.get('Transceiver') ?? '').toLowerCase(),
    speed: speed ? Number(speed[1]) : 0,
    duplex: duplex === 'full' || duplex === 'half' ? duplex : '',
    linkDetected: link === undefined ? undefined : link === 'yes',
  };
}

/** `key: value` lines of `ethtool -i` or `ethtool -P`. Pure. */
export function parseEthtoolKeyValues(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) values.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return values;
}

/** LXD's protocol name for an ARPHRD type number. Pure. */
export function protocolOf(type: string | undefined): string {
  return { '1': 'ethernet', '19': 'ATM', '32': 'infiniband' }[type ?? ''] ?? 'unknown';
}

async function ethtool(host: Host, args: string[]): Promise<string | undefined> {
  const result = await host.run('ethtool', args, { timeoutMs: 5_000 });
  return result.failed ? undefined : result.stdout;
}

async function readPort(host: Host, name: string, isVf: boolean): Promise<NetworkPort> {
  const dir = `${NET}/${name}`;
  const [address, assignType, permBond, devPort, type, carrier, speed, duplex] = await Promise.all([
    host.readOptional(`${dir}/address`),
    host.readOptional(`${dir}/addr_assign_type`),
    host.readOptional(`${dir}/bonding_slave/perm_hwaddr`),
    readNumber(host, `${dir}/dev_port`),
    host.readOptional(`${dir}/type`),
    host.readOptional(`${dir}/carrier`),
    readNumber(host, `${dir}/speed`),
    host.readOptional(`${dir}/duplex`),
  ]);
  let permanent = permBond || (assignType === '0' ? address : undefined);
  let settings: EthtoolSettings | undefined;
  if (!isVf) {
    const [plain, perm] = await Promise.all([
      ethtool(host, [name]),
      permanent === undefined ? ethtool(host, ['-P', name]) : Promise.resolve(undefined),
    ]);
    if (plain !== undefined) settings = parseEthtoolSettings(plain);
    const fromTool = perm === undefined ? undefined : parseEthtoolKeyValues(perm).get('Permanent address');
    if (fromTool && fromTool !== '00:00:00:00:00:00') permanent = fromTool;
  }
  const mac = permanent ?? address;
  const linkDetected = carrier === undefined ? (settings?.linkDetected ?? false) : carrier === '1';
  const port = { id: name } as NetworkPort;
  if (mac) port.address = mac.toLowerCase();
  port.port = devPort ?? 0;
  port.protocol = protocolOf(type);
  if (settings?.supportedModes.length) port.supported_modes = settings.supportedModes;
  if (settings?.supportedPorts.length) port.supported_ports = settings.supportedPorts;
  if (settings?.port) port.port_type = settings.port;
  if (settings?.transceiver) port.transceiver_type = settings.transceiver;
  port.auto_negotiation = settings?.autoNegotiation ?? false;
  port.link_detected = linkDetected;
  if (linkDetected) {
    const mbps = speed !== undefined && speed > 0 ? speed : (settings?.speed ?? 0);
    if (mbps > 0) port.link_speed = mbps;
    const dup = duplex === 'full' || duplex === 'half' ? duplex : settings?.duplex;
    if (dup) port.link_duplex = dup;
  }
  return port;
}

interface CardSource {
  /** Resolved sysfs path of the card's device. */
  devicePath: string;
  /** Its interfaces (may be empty for a NIC without a bound driver). */
  ports: string[];
}

async function readCard(host: Host, source: CardSource, release: string, isVf: boolean): Promise<NetworkCard> {
  const { devicePath } = source;
  const pci = pciAddressOf(devicePath);
  const pciDir = pci ? `${SBP}/${pci}` : undefined;
  const [driver, ports, usb, numa, vendorText, productText, pciIds] = await Promise.all([
    driverOf(host, devicePath, release),
    Promise.all(source.ports.map((p) => readPort(host, p, isVf))),
    usbAddressOf(host, devicePath),
    pciDir ? numaNodeOf(host, pciDir) : Promise.resolve(0),
    pciDir ? host.readOptional(`${pciDir}/vendor`) : Promise.resolve(undefined),
    pciDir ? host.readOptional(`${pciDir}/device`) : Promise.resolve(undefined),
    loadIds(host, 'pci.ids'),
  ]);
  const [numVfs, totalVfs] = pciDir
    ? await Promise.all([host.readOptional(`${pciDir}/sriov_numvfs`), host.readOptional(`${pciDir}/sriov_totalvfs`)])
    : [undefined, undefined];
  let firmware: string | undefined;
  if (!isVf && source.ports[0] !== undefined) {
    const info = await ethtool(host, ['-i', source.ports[0]]);
    if (info !== undefined) firmware = parseEthtoolKeyValues(info).get('firmware-version') || undefined;
  }
  const vendorId = hexId(vendorText);
  const productId = hexId(productText);
  const card = {} as NetworkCard;
  if (driver.driver) card.driver = driver.driver;
  if (driver.version) card.driver_version = driver.version;
  if (ports.length > 0) card.ports = ports;
  if (totalVfs !== undefined && Number(totalVfs) > 0) card.sriov = { current_vfs: Number(numVfs ?? 0), maximum_vfs: Number(totalVfs), vfs: null };
  card.numa_node = numa;
  if (pci) card.pci_address = pci;
  const vendor = vendorId ? pciIds.vendor(vendorId) : '';
  const product = vendorId && productId ? pciIds.product(vendorId, productId) : '';
  if (vendor) card.vendor = vendor;
  if (vendorId) card.vendor_id = vendorId;
  if (product) card.product = product;
  if (productId) card.product_id = productId;
  if (firmware) card.firmware_version = firmware;
  if (usb) card.usb_address = usb;
  return card;
}

/** Reads resources.network: cards with their ports; SR-IOV VFs listed under their parent card. */
export async function readNetwork(host: Host): Promise<AreaReading<NetworkResources>> {
  const [names, pciAddresses, uname] = await Promise.all([host.list(NET), host.list(SBP), host.uname()]);
  // Interfaces with a `device` link are hardware ports; group them by device.
  const devicePaths = await Promise.all(names.map((n) => host.resolve(`${NET}/${n}/device`)));
  const sources = new Map<string, CardSource>();
  for (const [i, name] of names.entries()) {
    const devicePath = devicePaths[i];
    if (devicePath === undefined) continue;
    const source = sources.get(devicePath) ?? { devicePath, ports: [] };
    source.ports.push(name);
    sources.set(devicePath, source);
  }
  // Then Ethernet-class PCI functions without an interface (no driver bound, or VFs given to VMs).
  const claimed = new Set([...sources.keys()].map((p) => pciAddressOf(p)));
  const classes = await Promise.all(pciAddresses.map((a) => host.readOptional(`${SBP}/${a}/class`)));
  for (const [i, address] of pciAddresses.entries()) {
    if (!isPciAddress(address) || claimed.has(address) || !(classes[i] ?? '').startsWith('0x02')) continue;
    const devicePath = await host.resolve(`${SBP}/${address}`);
    if (devicePath) sources.set(devicePath, { devicePath, ports: [] });
  }
  const list = [...sources.values()];
  const parents = await Promise.all(list.map(async (s) => {
    const pci = pciAddressOf(s.devicePath);
    const link = pci ? await host.readLink(`${SBP}/${pci}/physfn`) : undefined;
    return link === undefined ? undefined : posix.basename(link);
  }));
  const cards = await Promise.all(list.map((s, i) => readCard(host, s, uname.release, parents[i] !== undefined)));
  const top: NetworkCard[] = [];
  const byAddress = new Map<string, NetworkCard>();
  for (const [i, card] of cards.entries()) if (parents[i] === undefined) {
    top.push(card);
    if (card.pci_address) byAddress.set(card.pci_address, card);
  }
  let total = top.length;
  for (const [i, card] of cards.entries()) {
    const parent = parents[i];
    if (parent === undefined) continue;
    const owner = byAddress.get(parent);
    if (owner?.sriov) {
      owner.sriov.vfs = [...(owner.sriov.vfs ?? []), card];
    } else top.push(card);
    total += 1;
  }
  return { value: { cards: top, total }, warnings: [] };
}
