// resources.gpu from a BMC's Processors of type GPU (docs/protocol.md §6.6): vendor and product with
// their PCI ids when the BMC gives them, on NUMA node 0, without bus addresses. Pure.
import type { AreaReading, GpuCard, GpuResources } from '../resources/types.js';
import { object, present, text, type Resource } from './fields.js';
import type { RedfishInventory } from './inventory.js';

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

/** resources.gpu: one card per present GPU. */
export function gpuFromRedfish(inventory: RedfishInventory): AreaReading<GpuResources> {
  const cards = gpuCards(inventory.processors);
  return { value: { cards, total: cards.length }, warnings: [] };
}
