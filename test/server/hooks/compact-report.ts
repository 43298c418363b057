// Builds small machine-resources documents for hook tests: the minimal report of
// docs/protocol.md §7.11 (one virtio NIC, one virtio disk, two threads) plus targeted overrides.

type Json = Record<string, unknown>;

/** The minimal report of docs/protocol.md §7.11; every call returns a fresh copy to modify. */
export function compactReport(): Json {
  return {
    api_version: '1.0',
    api_extensions: ['resources', 'resources_v2', 'api_os', 'resources_system', 'resources_usb_pci'],
    environment: {
      kernel: 'Linux',
      kernel_architecture: 'x86_64',
      kernel_version: '5.15.0-91-generic',
      os_name: 'ubuntu',
      os_version: '22.04',
      server: 'maas-machine-resources',
      server_name: 'web01',
      server_version: '6.9',
    },
    resources: {
      cpu: {
        architecture: 'x86_64',
        total: 2,
        sockets: [
          {
            socket: 0,
            name: 'Intel(R) Xeon(R) CPU E5-2620 v4 @ 2.10GHz',
            cores: [
              { core: 0, die: 0, frequency: 1500, threads: [{ id: 0, thread: 0, online: true, numa_node: 0 }] },
              { core: 1, die: 0, frequency: 1500, threads: [{ id: 1, thread: 0, online: true, numa_node: 0 }] },
            ],
          },
        ],
      },
      memory: { hugepages_total: 0, hugepages_used: 0, hugepages_size: 2097152, used: 644245094, total: 2147483648 },
      gpu: { cards: [], total: 0 },
      network: {
        cards: [
          {
            pci_address: '0000:00:03.0',
            vendor: 'Red Hat, Inc.',
            vendor_id: '1af4',
            product: 'Virtio network device',
            product_id: '1000',
            numa_node: 0,
            driver: 'virtio_net',
            driver_version: '1.0.0',
            ports: [{ id: 'ens3', address: '52:54:00:12:34:56', port: 0, protocol: 'ethernet', auto_negotiation: false, link_detected: true }],
          },
        ],
        total: 1,
      },
      storage: {
        disks: [
          {
            id: 'vda',
            device: '252:0',
            type: 'virtio',
            read_only: false,
            mounted: true,
            size: 21474836480,
            removable: false,
            numa_node: 0,
            block_size: 512,
            rpm: 0,
            device_id: '',
            partitions: [],
            device_fs_uuid: '',
            pci_address: '0000:00:04.0',
          },
        ],
        total: 1,
      },
      usb: { devices: [], total: 0 },
      pci: { devices: [], total: 0 },
      system: {
        uuid: '1c4d5e6f-0a1b-4c2d-8e3f-405162738495',
        vendor: 'QEMU',
        product: 'Standard PC (Q35 + ICH9, 2009)',
        family: '',
        version: 'pc-q35-6.2',
        sku: '',
        serial: '',
        type: 'virtual-machine',
        firmware: { vendor: 'SeaBIOS', date: '04/01/2014', version: '1.15.0-1' },
        chassis: { vendor: 'QEMU', type: 'Other', serial: '', version: 'pc-q35-6.2' },
        motherboard: { vendor: '', product: '', serial: '', version: '' },
      },
    },
    networks: {
      ens3: network('52:54:00:12:34:56', [
        { family: 'inet', address: '10.0.0.50', netmask: '24', scope: 'global' },
        { family: 'inet6', address: 'fe80::5054:ff:fe12:3456', netmask: '64', scope: 'link' },
      ]),
      lo: { ...network('', [{ family: 'inet', address: '127.0.0.1', netmask: '8', scope: 'local' }]), type: 'loopback', mtu: 65536 },
    },
  };
}

/** A `networks` entry: up, broadcast, no bond/bridge/vlan unless `extra` says so. */
export function network(hwaddr: string, addresses: Json[] = [], extra: Json = {}): Json {
  return {
    addresses,
    counters: { bytes_received: 0, bytes_sent: 0, packets_received: 0, packets_sent: 0 },
    hwaddr,
    mtu: 1500,
    state: 'up',
    type: 'broadcast',
    bond: null,
    bridge: null,
    vlan: null,
    ovn: null,
    ...extra,
  };
}

/** A disk entry of `resources.storage.disks` with sensible defaults. */
export function disk(id: string, extra: Json = {}): Json {
  return {
    id,
    device: '8:0',
    type: 'scsi',
    read_only: false,
    mounted: false,
    size: 100 * 1024 ** 3,
    removable: false,
    numa_node: 0,
    block_size: 4096,
    rpm: 0,
    device_id: '',
    partitions: [],
    device_fs_uuid: '',
    ...extra,
  };
}

/** The `resources` object of a document (typed for edits). */
export function resourcesOf(doc: Json): Json & { storage: { disks: Json[] }; network: { cards: Json[] }; cpu: Json; memory: Json; system: Json } {
  return doc.resources as never;
}

/** The `networks` object of a document (typed for edits). */
export function networksOf(doc: Json): Record<string, Json> {
  return doc.networks as never;
}
