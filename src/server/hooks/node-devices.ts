// PCI and USB devices ("node devices") MAAS derives from `resources.pci`/`usb`
// (docs/protocol.md §7.7).
import { HardwareType, type HardwareNodeDevice } from './hardware.js';
import { optionalCount, optionalList, optionalObject, optionalString, requireCount, requireKnownNuma, requireObject, requireString, type JsonObject } from './validate.js';

/** Bus addresses of the machine's interfaces, disks and GPUs, to type the devices found there. */
export interface DeviceLinks {
  interfaces: ReadonlyMap<string, number>;
  disks: ReadonlyMap<string, number>;
}

function gpuAddresses(resources: JsonObject): Set<string> {
  const gpu = optionalObject(resources.gpu, 'resources.gpu') ?? {};
  const addresses = new Set<string>();
  optionalList(gpu.cards, 'resources.gpu.cards').forEach((value, i) => {
    const card = requireObject(value, `resources.gpu.cards[${i}]`);
    const address = optionalString(card.pci_address, `resources.gpu.cards[${i}].pci_address`) ?? optionalString(card.usb_address, `resources.gpu.cards[${i}].usb_address`);
    if (address) addresses.add(address);
  });
  return addresses;
}

/**
 * The machine's node devices after a report: one per PCI device and per USB device, typed
 * NETWORK/STORAGE when an interface/disk sits at its address, GPU when a GPU card does, else NODE.
 */
export function deriveNodeDevices(resources: JsonObject, links: DeviceLinks, knownNuma: ReadonlySet<number>): HardwareNodeDevice[] {
  const gpus = gpuAddresses(resources);
  const devices: HardwareNodeDevice[] = [];
  const add = (device: JsonObject, path: string, common: Omit<HardwareNodeDevice, 'hardwareType' | 'interfaceId' | 'diskId' | 'numaNode' | 'vendorName' | 'productName' | 'vpd'>, address: string): void => {
    const interfaceId = links.interfaces.get(address) ?? null;
    const diskId = links.disks.get(address) ?? null;
    const hardwareType = interfaceId !== null ? HardwareType.NETWORK : diskId !== null ? HardwareType.STORAGE : gpus.has(address) ? HardwareType.GPU : HardwareType.NODE;
    // LXD maps USB devices to no NUMA node: MAAS puts them on node 0.
    const numa = optionalCount(device.numa_node, `${path}.numa_node`) ?? 0;
    const vpdEntries = optionalObject(optionalObject(device.vpd, `${path}.vpd`)?.entries, `${path}.vpd.entries`) ?? {};
    // fromEntries defines own keys, so a "__proto__" VPD key stays plain data.
    const vpd = Object.fromEntries(Object.entries(vpdEntries).map(([key, value]) => [key, requireString(value, `${path}.vpd.entries.${key}`)]));
    devices.push({
      ...common,
      hardwareType,
      interfaceId,
      diskId,
      numaNode: requireKnownNuma(knownNuma, numa, `device ${address}`),
      vendorName: optionalString(device.vendor, `${path}.vendor`) ?? null,
      productName: optionalString(device.product, `${path}.product`) ?? null,
      vpd,
    });
  };

  const pci = optionalObject(resources.pci, 'resources.pci') ?? {};
  optionalList(pci.devices, 'resources.pci.devices').forEach((value, i) => {
    const path = `resources.pci.devices[${i}]`;
    const device = requireObject(value, path);
    const pciAddress = requireString(device.pci_address, `${path}.pci_address`);
    add(
      device,
      path,
      {
        bus: 'pcie',
        vendorId: requireString(device.vendor_id, `${path}.vendor_id`),
        productId: requireString(device.product_id, `${path}.product_id`),
        commissioningDriver: optionalString(device.driver, `${path}.driver`) ?? null,
        pciAddress,
        busNumber: null,
        deviceNumber: null,
      },
      pciAddress,
    );
  });

  const usb = optionalObject(resources.usb, 'resources.usb') ?? {};
  optionalList(usb.devices, 'resources.usb.devices').forEach((value, i) => {
    const path = `resources.usb.devices[${i}]`;
    const device = requireObject(value, path);
    const busNumber = requireCount(device.bus_address, `${path}.bus_address`);
    const deviceNumber = requireCount(device.device_address, `${path}.device_address`);
    // A USB device can have one driver per function (a webcam: video and audio).
    const drivers = new Set<string>();
    optionalList(device.interfaces, `${path}.interfaces`).forEach((iface, j) => {
      const driver = optionalString(requireObject(iface, `${path}.interfaces[${j}]`).driver, `${path}.interfaces[${j}].driver`);
      if (driver !== undefined) drivers.add(driver);
    });
    add(
      device,
      path,
      {
        bus: 'usb',
        vendorId: requireString(device.vendor_id, `${path}.vendor_id`),
        productId: requireString(device.product_id, `${path}.product_id`),
        commissioningDriver: [...drivers].join(', '),
        pciAddress: null,
        busNumber,
        deviceNumber,
      },
      `${busNumber}:${deviceNumber}`,
    );
  });
  return devices;
}
