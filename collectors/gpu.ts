// resources.gpu: display controllers (PCI class 0x03) and their DRM nodes.
import type { Host } from '../src/host/host.js';
import type { AreaReading, GpuCard, GpuResources } from '../src/resources/types.js';
import { readPciDevice, SBP } from './pci.js';
import { isPciAddress, usbAddressOf } from './lib/sysfs.js';

/** The drm object of a card from its device/drm entries and their `dev` numbers. Pure. */
export function buildDrm(entries: ReadonlyMap<string, string | undefined>): Record<string, unknown> | undefined {
  const card = [...entries.keys()].find((e) => /^card\d+$/.test(e));
  if (card === undefined) return undefined;
  const drm: Record<string, unknown> = { id: Number(card.slice(4)), card_name: card, card_device: entries.get(card) ?? '' };
  const control = [...entries.keys()].find((e) => e.startsWith('controlD'));
  if (control) Object.assign(drm, { control_name: control, control_device: entries.get(control) ?? '' });
  const render = [...entries.keys()].find((e) => e.startsWith('renderD'));
  if (render) Object.assign(drm, { render_name: render, render_device: entries.get(render) ?? '' });
  return drm;
}

async function readCard(host: Host, address: string, release: string): Promise<GpuCard> {
  const dir = `${SBP}/${address}`;
  const [pci, drmNames, numVfs, totalVfs, resolved] = await Promise.all([
    readPciDevice(host, address, release),
    host.list(`${dir}/drm`),
    host.readOptional(`${dir}/sriov_numvfs`),
    host.readOptional(`${dir}/sriov_totalvfs`),
    host.resolve(dir),
  ]);
  const drmEntries = new Map(await Promise.all(drmNames.map(async (n) => [n, await host.readOptional(`${dir}/drm/${n}/dev`)] as const)));
  const usb = resolved ? await usbAddressOf(host, resolved) : undefined;
  const card = {} as GpuCard;
  if (pci.driver) card.driver = pci.driver;
  if (pci.driver_version) card.driver_version = pci.driver_version;
  const drm = buildDrm(drmEntries);
  if (drm) card.drm = drm;
  if (totalVfs !== undefined && Number(totalVfs) > 0) card.sriov = { current_vfs: Number(numVfs ?? 0), maximum_vfs: Number(totalVfs), vfs: null };
  card.numa_node = pci.numa_node;
  card.pci_address = address;
  if (pci.vendor) card.vendor = pci.vendor;
  if (pci.vendor_id) card.vendor_id = pci.vendor_id;
  if (pci.product) card.product = pci.product;
  if (pci.product_id) card.product_id = pci.product_id;
  if (usb) card.usb_address = usb;
  return card;
}

/** Reads resources.gpu: every PCI display device, SR-IOV VFs attached to their parent. */
export async function readGpu(host: Host): Promise<AreaReading<GpuResources>> {
  const [addresses, uname] = await Promise.all([host.list(SBP), host.uname()]);
  const classes = await Promise.all(addresses.map((a) => host.readOptional(`${SBP}/${a}/class`)));
  const gpus = addresses.filter((a, i) => isPciAddress(a) && (classes[i] ?? '').startsWith('0x03'));
  const parents = await Promise.all(gpus.map((a) => host.readLink(`${SBP}/${a}/physfn`)));
  const cards = new Map<string, GpuCard>();
  const vfs: [string, GpuCard][] = [];
  for (const [i, address] of gpus.entries()) {
    const card = await readCard(host, address, uname.release);
    const parent = parents[i];
    if (parent !== undefined) vfs.push([parent.split('/').pop()!, card]);
    else cards.set(address, card);
  }
  let total = cards.size;
  for (const [parent, vf] of vfs) {
    const owner = cards.get(parent);
    if (owner?.sriov) owner.sriov.vfs = [...(owner.sriov.vfs ?? []), vf];
    else cards.set(vf.pci_address!, vf);
    total += 1;
  }
  return { value: { cards: [...cards.values()], total }, warnings: [] };
}
