// resources.usb: non-hub devices under /sys/bus/usb/devices, with names from usb.ids.
import type { Host } from '../src/host/host.js';
import type { AreaReading, UsbDevice, UsbInterface, UsbResources } from '../src/resources/types.js';
import { loadIds } from './lib/ids.js';
import { driverOf, hexId, readNumber } from './lib/sysfs.js';

const USB = '/sys/bus/usb/devices';

/** Interface directory names of a device ("1-1:1.0" for device "1-1"). Pure. */
export function interfaceDirs(device: string, entries: readonly string[]): string[] {
  return entries.filter((e) => e.startsWith(`${device}:`) && /:\d+\.\d+$/.test(e));
}

async function readInterface(host: Host, dir: string, release: string): Promise<UsbInterface> {
  const [ids, cls, sub, num, driver] = await Promise.all([
    loadIds(host, 'usb.ids'),
    host.readOptional(`${dir}/bInterfaceClass`),
    host.readOptional(`${dir}/bInterfaceSubClass`),
    host.readOptional(`${dir}/bInterfaceNumber`),
    driverOf(host, dir, release),
  ]);
  const classHex = hexId(cls);
  const subHex = hexId(sub);
  return {
    class: classHex ? ids.usbClass(classHex) : '',
    class_id: parseInt(classHex || '0', 16),
    driver: driver.driver,
    driver_version: driver.version,
    number: parseInt(hexId(num) || '0', 16),
    subclass: classHex && subHex ? ids.usbClass(classHex, subHex) : '',
    subclass_id: parseInt(subHex || '0', 16),
  };
}

/** Reads resources.usb. */
export async function readUsb(host: Host): Promise<AreaReading<UsbResources>> {
  const [entries, uname] = await Promise.all([host.list(USB), host.uname()]);
  const devices = (
    await Promise.all(
      entries.map(async (name): Promise<UsbDevice | undefined> => {
        const dir = `${USB}/${name}`;
        const [bus, dev, deviceClass] = await Promise.all([readNumber(host, `${dir}/busnum`), readNumber(host, `${dir}/devnum`), host.readOptional(`${dir}/bDeviceClass`)]);
        if (bus === undefined || dev === undefined || deviceClass === '09') return undefined;
        const [ids, vendorText, productText, productName, serial, speed, interfaces] = await Promise.all([
          loadIds(host, 'usb.ids'),
          host.readOptional(`${dir}/idVendor`),
          host.readOptional(`${dir}/idProduct`),
          host.readOptional(`${dir}/product`),
          // LXD reads "iSerial", which does not exist in sysfs; "serial" is the real file.
          host.readOptional(`${dir}/serial`),
          host.readOptional(`${dir}/speed`),
          Promise.all(interfaceDirs(name, entries).map((i) => readInterface(host, `${USB}/${i}`, uname.release))),
        ]);
        const vendorId = hexId(vendorText);
        const productId = hexId(productText);
        return {
          bus_address: bus,
          device_address: dev,
          serial: serial ?? '',
          interfaces: interfaces.length > 0 ? interfaces : null,
          vendor: ids.vendor(vendorId),
          vendor_id: vendorId,
          product: productName || ids.product(vendorId, productId),
          product_id: productId,
          speed: speed ? Number(speed) || 0 : 0,
        };
      }),
    )
  ).filter((d): d is UsbDevice => d !== undefined);
  return { value: { devices, total: devices.length }, warnings: [] };
}
