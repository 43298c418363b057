// Each DMTF mockup read through the Redfish client and mapped to the machine-resources document,
// checked against the ground-truth tables of the fixtures' README, then processed by the bundled
// server's hook (docs/protocol.md §7) to see the machine MAAS would show.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatResources } from '../../collectors/resources.js';
import { CliError } from '../../src/errors.js';
import type { MachineResources } from '../../src/resources/types.js';
import { RedfishClient } from '../../src/redfish/client.js';
import { readInventory, type RedfishInventory } from '../../src/redfish/inventory.js';
import { identityFromRedfish } from '../../src/redfish/identity.js';
import { resourcesFromRedfish } from '../../src/redfish/resources.js';
import { deriveHardware, emptyHardware, renderHardware } from '../../src/server/hooks/process-resources.js';
import { startRedfishMock, type RedfishMockup } from '../helpers/redfish-mock.js';

const GIB = 1024 ** 3;

interface Mapped {
  inventory: RedfishInventory;
  document: MachineResources;
  warnings: string[];
  identity: ReturnType<typeof identityFromRedfish>;
  /** The machine JSON fields the server derives from the document, for a machine registered with the identity. */
  machine: ReturnType<typeof renderHardware>;
}

async function mapMockup(mockup: RedfishMockup): Promise<Mapped> {
  const bmc = await startRedfishMock(mockup, { user: 'admin', password: 'secret' });
  try {
    const inventory = await readInventory(new RedfishClient({ url: bmc.url, user: 'admin', password: 'secret' }));
    const { document, warnings } = resourcesFromRedfish(inventory);
    const identity = identityFromRedfish(inventory);
    // As the server receives it: the printed document, processed for a Deployed machine.
    const previous = emptyHardware({ architecture: `${identity.architecture}/generic`, macAddresses: identity.macs });
    const hardware = deriveHardware({ document: Buffer.from(formatResources(document)), previous, deployed: true });
    return { inventory, document, warnings, identity, machine: renderHardware(hardware, 'abc123') };
  } finally {
    await bmc.close();
  }
}

const threadsPerSocket = (doc: MachineResources) => (doc.resources.cpu.sockets ?? []).map((s) => s.cores.reduce((n, c) => n + c.threads.length, 0));

describe('public-rackmount1', () => {
  let m: Mapped;
  beforeAll(async () => {
    m = await mapMockup('public-rackmount1');
  });

  it('names the machine web483, amd64, by its two physical NICs', () => {
    expect(m.identity).toEqual({ hostname: 'web483', macs: ['12:44:6a:3b:04:11', '12:44:6a:3b:88:90'], architecture: 'amd64' });
  });

  it('has one socket of 8 cores and 16 threads: CPU2 is absent and the FPGA is no CPU', () => {
    const [socket, ...others] = m.document.resources.cpu.sockets ?? [];
    expect(others).toEqual([]);
    expect(socket).toMatchObject({ name: 'Multi-Core Intel(R) Xeon(R) processor 7xxx Series', vendor: 'Intel(R) Corporation', frequency: 2333, frequency_turbo: 3700 });
    expect(socket?.cores).toHaveLength(8);
    expect(threadsPerSocket(m.document)).toEqual([16]);
    expect(m.document.resources.cpu.total).toBe(16);
    expect(m.document.resources.gpu).toEqual({ cards: [], total: 0 });
  });

  it('sums the three present DIMMs to 96 GiB', () => {
    expect(m.document.resources.memory.total).toBe(96 * GIB);
  });

  it('reports the two present SimpleStorage devices', () => {
    expect(m.document.resources.storage.disks?.map((d) => [d.id, d.size, d.model, d.serial])).toEqual([
      ['SATA_Bay_1', 8_000_000_000_000, '3000GT8', undefined],
      ['SATA_Bay_2', 4_000_000_000_000, '3000GT7', undefined],
    ]);
  });

  it('has one card per physical NIC with its permanent MAC; the VLAN and the host interface are no ports', () => {
    const ports = (m.document.resources.network.cards ?? []).flatMap((c) => c.ports ?? []);
    expect(ports.map((p) => [p.id, p.address, p.link_detected, p.link_speed])).toEqual([
      ['12446A3B0411', '12:44:6a:3b:04:11', true, 1000],
      ['12446A3B8890', '12:44:6a:3b:88:90', true, 1000],
    ]);
    expect(Object.keys(m.document.networks).sort()).toEqual(['12446A3B0411', '12446A3B0411.1000', '12446A3B8890']);
    expect(m.document.networks['12446A3B8890']?.hwaddr).toBe('aa:bb:cc:dd:ee:00');
    expect(m.document.networks['12446A3B0411.1000']?.vlan).toEqual({ lower_device: '12446A3B0411', vid: 1000 });
    expect(JSON.stringify(m.document)).not.toMatch(/aa:bb:cc:dd:ee:fe/i);
  });

  it('gives the server a Deployed machine with that hardware', () => {
    expect(m.machine).toMatchObject({ architecture: 'amd64/generic', cpu_count: 16, cpu_speed: 3700, memory: 96 * 1024 });
    expect(m.machine.hardware_info).toMatchObject({
      system_vendor: 'Contoso',
      system_product: '3500',
      system_serial: '437XR1138R2',
      mainboard_firmware_version: 'P79 v1.45 (12/06/2017)',
      chassis_type: 'Rack Mount Chassis',
      cpu_model: 'Multi-Core Intel(R) Xeon(R) processor 7xxx Series',
    });
    expect(m.machine.hardware_uuid).toBe('38947555-7742-3448-3784-823347823834');
    expect(m.machine.physicalblockdevice_set?.map((d) => [d.name, d.size, d.model])).toEqual([
      ['SATA_Bay_1', 8_000_000_000_000, '3000GT8'],
      ['SATA_Bay_2', 4_000_000_000_000, '3000GT7'],
    ]);
    const interfaces = m.machine.interface_set ?? [];
    expect(interfaces.filter((i) => i.type === 'physical').map((i) => [i.name, i.mac_address, i.link_speed])).toEqual([
      ['12446A3B0411', '12:44:6a:3b:04:11', 1000],
      ['12446A3B8890', '12:44:6a:3b:88:90', 1000],
    ]);
    expect(interfaces.find((i) => i.type === 'vlan')?.links.map((l) => l.ip_address)).toEqual(['192.168.150.236']);
    expect(m.machine.tag_names).not.toContain('virtual');
  });
});

describe('public-tower', () => {
  let m: Mapped;
  beforeAll(async () => {
    m = await mapMockup('public-tower');
  });

  it('has 8 sockets of 16 cores and 32 threads, and the two GPUs as GPU cards', () => {
    expect(m.document.resources.cpu.sockets).toHaveLength(8);
    expect(m.document.resources.cpu.sockets?.every((s) => s.cores.length === 16 && s.name === 'Intel(R) Xeon(R) Gold 5218 2.3GHz')).toBe(true);
    expect(threadsPerSocket(m.document)).toEqual(Array(8).fill(32));
    expect(m.document.resources.cpu.total).toBe(256);
    expect(m.document.resources.gpu.cards?.map((c) => [c.vendor, c.product])).toEqual([
      ['Nvidia(R) Corporation', 'Nvidia(R) TU102'],
      ['Nvidia(R) Corporation', 'Nvidia(R) TU102'],
    ]);
  });

  it('counts 1024 GiB in the 8 DIMMs that have capacity', () => {
    expect(m.document.resources.memory.total).toBe(1024 * GIB);
  });

  it('reports the 10 present drives once each, named after their links, with sizes beyond 2^53 printed exactly', () => {
    const disks = m.document.resources.storage.disks ?? [];
    expect(disks.map((d) => d.id).sort()).toEqual(['Disk-1-0', 'Disk-1-1', 'Disk-1-2', 'Disk-1-3', 'Disk-2-0', 'Disk-2-1', 'Disk-2-2', 'Disk-2-3', 'M.2-1', 'M.2-2']);
    const byId = new Map(disks.map((d) => [d.id, d]));
    expect(byId.get('M.2-1')).toMatchObject({ size: 2 ** 50, model: 'NVMe 1000', type: 'nvme', rpm: 0 });
    expect(byId.get('Disk-1-0')).toMatchObject({ size: 20266198323167230, model: 'SAS 18000', type: 'scsi', rpm: 1 });
    expect(byId.get('Disk-2-3')).toMatchObject({ size: 2 ** 50, model: 'NVMe 1000', type: 'nvme' });
    expect(disks.every((d) => d.serial === undefined)).toBe(true);
    // Printed exactly, although the value is beyond 2^53.
    expect(formatResources(m.document)).toContain('"size": 20266198323167230,');
  });

  it('has the two EthernetInterfaces and the adapter card with its two functions', () => {
    expect(m.identity.hostname).toBe('devrender2');
    expect(m.identity.macs).toEqual(['fb:aa:1d:4e:d0:7a', 'fb:aa:1d:4e:d0:7c', '00:0c:29:9a:98:ed', '00:0c:29:9a:98:ef']);
    const adapter = m.document.resources.network.cards?.find((c) => c.product === 'SuperNIC 2000');
    expect(adapter).toMatchObject({ vendor: 'Contoso', firmware_version: '7.4.10' });
    expect(adapter?.ports?.map((p) => [p.address, p.port, p.link_speed])).toEqual([
      ['00:0c:29:9a:98:ed', 0, 10000],
      ['00:0c:29:9a:98:ef', 1, 10000],
    ]);
    expect(m.document.networks.Network1?.addresses.map((a) => `${a.address}/${a.netmask}`)).toEqual(['10.0.0.50/24']);
  });

  it('gives the server that hardware', () => {
    expect(m.machine).toMatchObject({ cpu_count: 256, cpu_speed: 2300, memory: 1024 * 1024 });
    expect(m.machine.physicalblockdevice_set).toHaveLength(10);
    expect(m.machine.physicalblockdevice_set?.find((d) => d.name === 'Disk-1-0')?.tags).toEqual(['rotary', '1rpm']);
    expect((m.machine.interface_set ?? []).map((i) => i.mac_address).sort()).toEqual(['00:0c:29:9a:98:ed', '00:0c:29:9a:98:ef', 'fb:aa:1d:4e:d0:7a', 'fb:aa:1d:4e:d0:7c']);
    expect(m.machine.hardware_info).toMatchObject({ system_serial: '437XR1238R2', chassis_type: 'Main Server Chassis' });
  });
});

describe('public-localstorage', () => {
  let m: Mapped;
  beforeAll(async () => {
    m = await mapMockup('public-localstorage');
  });

  it('has one socket of 8 cores and 16 threads and 96 GiB', () => {
    expect(threadsPerSocket(m.document)).toEqual([16]);
    expect(m.document.resources.cpu.sockets?.[0]?.cores).toHaveLength(8);
    expect(m.document.resources.memory.total).toBe(96 * GIB);
    expect(m.identity).toEqual({ hostname: 'web483', macs: ['12:44:6a:3b:04:11', '12:44:6a:3b:88:90'], architecture: 'amd64' });
  });

  it('reports the four SAS drives with serials, 15000 rpm, and not the volumes', () => {
    const disks = m.document.resources.storage.disks ?? [];
    expect(disks.map((d) => [d.id, d.serial, d.size, d.model, d.rpm, d.firmware_version, d.block_size]).sort()).toEqual([
      ['32ADF365C6C1B7BD', '1234570', 899527000064, 'C123', 15000, '100A', 512],
      ['35D38F11ACEF7BD3', '1234567', 899527000064, 'C123', 15000, '100A', 512],
      ['3D58ECBC375FD9F2', '1234568', 899527000064, 'C123', 15000, '100A', 512],
      ['3F5A8C54207B7233', '1234569', 899527000064, 'C123', 15000, '100A', 512],
    ]);
  });

  it('gives the server four rotary 15000 rpm disks with their serials, and two NICs', () => {
    const devices = m.machine.physicalblockdevice_set ?? [];
    expect(devices.map((d) => [d.serial, d.tags]).sort()).toEqual([
      ['1234567', ['rotary', '15000rpm']],
      ['1234568', ['rotary', '15000rpm']],
      ['1234569', ['rotary', '15000rpm']],
      ['1234570', ['rotary', '15000rpm']],
    ]);
    expect((m.machine.interface_set ?? []).map((i) => [i.name, i.mac_address])).toEqual([
      ['12446A3B0411', '12:44:6a:3b:04:11'],
      ['12446A3B8890', '12:44:6a:3b:88:90'],
    ]);
    expect(m.warnings).toEqual([]);
  });
});

describe('choosing the system', () => {
  let bmc: Awaited<ReturnType<typeof startRedfishMock>>;
  beforeAll(async () => {
    bmc = await startRedfishMock('public-localstorage');
  });
  afterAll(() => bmc.close());

  it('takes a system by id and lists the ids when the id is unknown', async () => {
    const client = new RedfishClient({ url: bmc.url });
    expect((await readInventory(client, '437XR1138R2')).systemPath).toBe('/redfish/v1/Systems/437XR1138R2');
    await expect(readInventory(client, 'other')).rejects.toThrow("the BMC has no system 'other' (it has 437XR1138R2): pass one of those as --bmc-system");
  });

  it('asks for --bmc-system when the BMC has several systems', async () => {
    const systems = { Members: [{ '@odata.id': '/redfish/v1/Systems/A' }, { '@odata.id': '/redfish/v1/Systems/B' }] };
    const fake = { get: async (path: string) => (path === '/redfish/v1/' ? { Systems: { '@odata.id': '/redfish/v1/Systems' } } : systems) } as unknown as RedfishClient;
    const error = await readInventory(fake).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as Error).message).toBe('the BMC has 2 systems (A, B): pass --bmc-system with one of them');
  });
});

describe('the mapping on its own', () => {
  const base: RedfishInventory = {
    system: { HostName: 'db1.example.com', Name: 'Server', MemorySummary: { TotalSystemMemoryGiB: 8 } },
    systemPath: '/redfish/v1/Systems/1',
    processors: [{ '@odata.id': '/redfish/v1/Systems/1/Processors/0', ProcessorType: 'CPU', InstructionSet: 'ARM-A64', TotalCores: 3, TotalThreads: 4 }],
    memory: [],
    ethernetInterfaces: [
      { '@odata.id': '/redfish/v1/Systems/1/EthernetInterfaces/Host', MACAddress: '02:00:00:00:00:09', Links: { HostInterface: { '@odata.id': '/redfish/v1/Managers/1/HostInterfaces/1' } } },
    ],
    drives: [],
    simpleStorage: [],
    networkFunctions: [],
    chassis: [],
    networkAdapters: [],
    networkPorts: [],
  };

  it('falls back to MemorySummary, spreads threads over cores, and knows arm64', () => {
    const { document, warnings } = resourcesFromRedfish(base);
    expect(document.resources.memory.total).toBe(8 * GIB);
    expect(document.resources.cpu.sockets?.[0]?.cores.map((c) => c.threads.length)).toEqual([2, 1, 1]);
    expect(document.environment.kernel_architecture).toBe('aarch64');
    expect(warnings).toEqual([]);
    expect(identityFromRedfish(base)).toEqual({ hostname: 'db1', macs: [], architecture: 'arm64' });
  });

  it('leaves out the host side of a host interface the BMC links to itself', () => {
    expect(resourcesFromRedfish(base).document.networks).toEqual({});
  });

  it('names a machine without HostName after its serial number, never after a display name shared by a product line', () => {
    const unnamed = { ...base, system: { Name: 'System', Id: 'System.Embedded.1', SerialNumber: 'CN7016 3A', MemorySummary: { TotalSystemMemoryGiB: 8 } } };
    expect(identityFromRedfish(unnamed).hostname).toBe('bmc-cn7016-3a');
    expect(identityFromRedfish({ ...base, system: { Name: 'System' } }).hostname).toBe('');
  });

  it('counts a placeholder thread count as one thread instead of building billions of them', () => {
    const { document, warnings } = resourcesFromRedfish({ ...base, processors: [{ ...base.processors[0]!, TotalCores: 4294967295, TotalThreads: 4294967295 }] });
    expect(document.resources.cpu.total).toBe(1);
    expect(warnings.join('\n')).toMatch(/claims 4294967295 threads/);
  });

  it('types SATA drives "sata", as the Linux collector does, so MAAS tags them', () => {
    const drive = { '@odata.id': '/redfish/v1/Chassis/1/Drives/0', Protocol: 'SATA', MediaType: 'HDD', CapacityBytes: 1_000_000_000_000 };
    const { document } = resourcesFromRedfish({ ...base, drives: [drive] });
    expect(document.resources.storage.disks?.map((d) => [d.type, d.rpm])).toEqual([['sata', 1]]);
  });

  it('warns when the architecture is unknown, as MAAS would refuse the report', () => {
    const { document, warnings } = resourcesFromRedfish({ ...base, processors: [{ ProcessorType: 'CPU', TotalCores: 1 }] });
    expect(document.environment.kernel_architecture).toBe('');
    expect(warnings).toEqual(['environment: the processors\' architecture is unknown: MAAS will not process this report']);
  });
});

describe('readInventory on BMC data the mockups do not have', () => {
  /** A BMC answering from a map of paths (a fake: the mock server serves only DMTF's folders). */
  function bmcOf(resources: Record<string, Record<string, unknown>>): { client: RedfishClient; asked: string[] } {
    const asked: string[] = [];
    const client = {
      get: async (path: string) => {
        asked.push(path);
        const found = resources[path.split('#', 1)[0]!];
        if (!found) throw new Error(`unexpected request for ${path}`);
        return found;
      },
    } as unknown as RedfishClient;
    return { client, asked };
  }
  const ref = (path: string) => ({ '@odata.id': path });

  it('follows paged members with an absolute next link, and takes no drives or adapters from a chassis shared by several systems', async () => {
    const { client, asked } = bmcOf({
      '/redfish/v1/': { Systems: ref('/redfish/v1/Systems') },
      '/redfish/v1/Systems': { Members: [ref('/redfish/v1/Systems/node%1')] },
      '/redfish/v1/Systems/node%1': {
        HostName: 'node1',
        Memory: ref('/redfish/v1/Systems/node%1/Memory'),
        Links: { Chassis: [ref('/redfish/v1/Chassis/Enclosure')] },
      },
      '/redfish/v1/Systems/node%1/Memory': { Members: [ref('/redfish/v1/Systems/node%1/Memory/A')], 'Members@odata.nextLink': 'https://10.0.0.5/redfish/v1/Systems/node%1/Memory?$skip=1' },
      '/redfish/v1/Systems/node%1/Memory?$skip=1': { Members: [ref('/redfish/v1/Systems/node%1/Memory/B')] },
      '/redfish/v1/Systems/node%1/Memory/A': { CapacityMiB: 16384 },
      '/redfish/v1/Systems/node%1/Memory/B': { CapacityMiB: 16384 },
      '/redfish/v1/Chassis/Enclosure': {
        Links: { ComputerSystems: [ref('/redfish/v1/Systems/node%1'), ref('/redfish/v1/Systems/node2')], Drives: [ref('/redfish/v1/Chassis/Enclosure/Drives/0')] },
        NetworkAdapters: ref('/redfish/v1/Chassis/Enclosure/NetworkAdapters'),
      },
    });
    const inventory = await readInventory(client);
    expect(inventory.memory).toHaveLength(2);
    expect(resourcesFromRedfish(inventory).document.resources.memory.total).toBe(32 * GIB);
    expect(inventory.drives).toEqual([]);
    expect(inventory.networkAdapters).toEqual([]);
    expect(asked).not.toContain('/redfish/v1/Chassis/Enclosure/Drives/0');
    // A member path that does not percent-decode keeps its name as written.
    await expect(readInventory(client, 'node%1')).resolves.toMatchObject({ systemPath: '/redfish/v1/Systems/node%1' });
  });
});
