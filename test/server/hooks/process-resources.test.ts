// The processing of one report as a whole: the minimal report of docs/protocol.md §7.11,
// preconditions, re-reports, release, MAC moves and duplicate UUIDs.
import { describe, expect, it } from 'vitest';
import {
  HookError,
  deriveHardware,
  emptyHardware,
  hardwareMacs,
  hardwareUuid,
  hasHardwareData,
  processResources,
  releaseHardware,
  renderHardware,
  withoutMacs,
  withoutUuid,
  type MachineHardware,
} from '../../../src/server/hooks/process-resources.js';
import { compactReport, disk, network, networksOf, resourcesOf } from './compact-report.js';

const deployed = (document: unknown, previous: MachineHardware = emptyHardware()): MachineHardware => deriveHardware({ document, previous, deployed: true });

function hookFailure(run: () => unknown): HookError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(HookError);
    return error as HookError;
  }
  throw new Error('expected a HookError');
}

describe('the minimal report of docs/protocol.md §7.11', () => {
  const hw = deployed(JSON.stringify(compactReport()));
  const json = renderHardware(hw, 'x7ghqk');

  it('sets architecture, OS, CPU and memory as MAAS would', () => {
    expect(json).toMatchObject({ architecture: 'amd64/generic', osystem: 'ubuntu', distro_series: 'jammy', cpu_count: 2, cpu_speed: 2100, memory: 2048 });
    expect(json.hardware_info?.cpu_model).toBe('Intel(R) Xeon(R) CPU E5-2620 v4');
  });

  it('describes one NUMA node with both threads and all the memory', () => {
    expect(json.numanode_set).toEqual([{ index: 0, cores: [0, 1], memory: 2048, hugepages_set: [{ total: 0, page_size: 2097152 }] }]);
  });

  it('models ens3 with a sticky IP in 10.0.0.0/24 and ignores the loopback and link-local addresses', () => {
    expect(json.interface_set).toHaveLength(1);
    const [ens3] = json.interface_set ?? [];
    expect(ens3).toMatchObject({ name: 'ens3', type: 'physical', mac_address: '52:54:00:12:34:56', link_connected: true, vendor: 'Red Hat, Inc.', numa_node: 0 });
    expect(ens3?.links.map((l) => [l.mode, l.ip_address, l.subnet?.cidr])).toEqual([['static', '10.0.0.50', '10.0.0.0/24']]);
  });

  it('models vda as a 20 GiB ssd found by its device path', () => {
    expect(json.physicalblockdevice_set?.map((d) => [d.name, d.size, d.id_path, d.tags])).toEqual([['vda', 21474836480, '/dev/vda', ['ssd']]]);
    expect(json.storage).toBe(21474.83648);
  });

  it('stores the system metadata and tags the machine virtual', () => {
    expect(json.hardware_info).toMatchObject({ system_vendor: 'QEMU', system_version: 'pc-q35-6.2', chassis_type: 'Other', mainboard_firmware_vendor: 'SeaBIOS', system_family: 'Unknown', mainboard_vendor: 'Unknown' });
    expect(json.tag_names).toEqual(['virtual']);
    expect(json.hardware_uuid).toBe('1c4d5e6f-0a1b-4c2d-8e3f-405162738495');
  });
});

describe('preconditions', () => {
  it('rejects a riscv64 machine, as MAAS knows no such architecture, and logs why', () => {
    const doc = compactReport();
    (doc.environment as Record<string, unknown>).kernel_architecture = 'riscv64';
    const error = hookFailure(() => deployed(doc));
    expect(error.reason).toMatch(/riscv64/);
    expect(error.events.map((e) => e.description)).toEqual([`Failed processing commissioning data: ${error.reason}`]);
  });

  it('rejects a report that lacks a required API extension without logging a processing event', () => {
    const doc = compactReport();
    doc.api_extensions = ['resources', 'resources_v2', 'resources_system', 'resources_usb_pci'];
    const error = hookFailure(() => deployed(doc));
    expect(error.reason).toMatch(/api_os/);
    expect(error.events).toEqual([]);
  });

  it('rejects an api_version other than "1.0"', () => {
    const doc = { ...compactReport(), api_version: '2.0' };
    expect(hookFailure(() => deployed(doc)).reason).toMatch(/api_version must be "1\.0".*"2\.0"/);
  });

  it('rejects bytes that are not UTF-8 JSON and logs "invalid JSON data"', () => {
    const error = hookFailure(() => deployed(new Uint8Array([0x7b, 0xff, 0x7d])));
    expect(error.events.map((e) => e.description)).toEqual(['Failed processing commissioning data: invalid JSON data']);
    expect(hookFailure(() => deployed('{"api_version": ')).reason).toMatch(/not valid UTF-8 JSON/);
  });

  it('names the field when a report has the wrong shape instead of crashing', () => {
    const cases: [string, (doc: Record<string, unknown>) => void, RegExp][] = [
      ['resources is a list', (d) => (d.resources = []), /^resources must be an object, got a list$/],
      ['a thread id is text', (d) => ((resourcesOf(d).cpu as { sockets: { cores: { threads: { id: unknown }[] }[] }[] }).sockets[0]!.cores[0]!.threads[0]!.id = 'zero'), /threads\[0\]\.id must be a non-negative integer/],
      ['a disk lacks read_only', (d) => delete resourcesOf(d).storage.disks[0]!.read_only, /disks\[0\]\.read_only must be true or false, got undefined/],
      ['networks is missing', (d) => delete d.networks, /^networks must be an object/],
      ['an interface lacks its vlan key', (d) => delete networksOf(d).ens3!.vlan, /networks\.ens3\.vlan is missing/],
      ['an address is not an IP', (d) => ((networksOf(d).ens3!.addresses as { address: string }[])[0]!.address = '10.0.0.300'), /not an IP address/],
      ['the system vendor is a number', (d) => (resourcesOf(d).system.vendor = 7), /resources\.system\.vendor must be a string, got number 7/],
    ];
    for (const [what, mutate, reason] of cases) {
      const doc = compactReport();
      mutate(doc);
      expect(hookFailure(() => deployed(doc)).reason, what).toMatch(reason);
    }
    expect(hookFailure(() => deployed([1, 2])).reason).toMatch(/must be a JSON object/);
    expect(hookFailure(() => deployed(null)).reason).toMatch(/must be a JSON object/);
  });

  it('leaves the stored hardware untouched when processing fails halfway', () => {
    const previous = deployed(compactReport());
    const before = JSON.stringify(previous);
    const doc = compactReport();
    resourcesOf(doc).storage.disks.push(disk('sdb', { numa_node: 3 }));
    expect(hookFailure(() => deployed(doc, previous)).reason).toMatch(/disk sdb is on NUMA node 3/);
    expect(JSON.stringify(previous)).toBe(before);
  });
});

describe('a second report of the same machine', () => {
  it('keeps the ids of disks it finds again and updates their fields', () => {
    const first = compactReport();
    resourcesOf(first).storage.disks.push(disk('sdb', { serial: 'S1', device_id: 'wwn-0x1', size: 1e12 }));
    const before = deployed(first);
    const second = compactReport();
    // sdb comes back as sdc (found by serial) and bigger; vda (no serial) is found by id_path.
    resourcesOf(second).storage.disks.push(disk('sdc', { serial: 'S1', device_id: 'wwn-0x1', size: 2e12, rpm: 7200 }));
    const after = deployed(second, before);
    const id = (hw: MachineHardware, serialOrName: string) => hw.disks.find((d) => d.serial === serialOrName || d.name === serialOrName)?.id;
    expect(id(after, 'S1')).toBe(id(before, 'S1'));
    expect(id(after, 'vda')).toBe(id(before, 'vda'));
    expect(after.disks.find((d) => d.serial === 'S1')).toMatchObject({ name: 'sdc', size: 2e12, tags: ['rotary', '7200rpm'] });
  });

  it('drops disks and interfaces that are gone and keeps the id of a renamed NIC', () => {
    const first = compactReport();
    networksOf(first).eth9 = network('52:54:00:00:00:09');
    resourcesOf(first).storage.disks.push(disk('sdb', { serial: 'S1', device_id: 'wwn-0x1' }));
    const before = deployed(first);
    expect(before.interfaces.map((i) => i.name).sort()).toEqual(['ens3', 'eth9']);

    const second = compactReport();
    const nets = networksOf(second);
    nets.enp0s3 = nets.ens3!;
    delete nets.ens3;
    ((resourcesOf(second).network.cards[0] as { ports: { id: string }[] }).ports[0]!).id = 'enp0s3';
    const after = deployed(second, before);
    expect(after.interfaces.map((i) => i.name)).toEqual(['enp0s3']);
    expect(after.interfaces[0]?.id).toBe(before.interfaces.find((i) => i.name === 'ens3')?.id);
    expect(after.disks.map((d) => d.name)).toEqual(['vda']);
  });

  it('replaces an interface whose name now has another MAC', () => {
    const before = deployed(compactReport());
    const second = compactReport();
    ((resourcesOf(second).network.cards[0] as { ports: { address: string }[] }).ports[0]!).address = '52:54:00:aa:bb:cc';
    const after = deployed(second, before);
    expect(after.interfaces.map((i) => [i.name, i.mac])).toEqual([['ens3', '52:54:00:aa:bb:cc']]);
    expect(after.interfaces[0]?.id).not.toBe(before.interfaces[0]?.id);
    expect(new Set([...before.interfaces, ...before.disks].map((x) => x.id)).has(after.interfaces[0]!.id)).toBe(false);
  });

  it('never reuses an id, even for objects created after deletions', () => {
    let hw = deployed(compactReport());
    const seen = new Set<number>();
    for (let round = 0; round < 3; round += 1) {
      const doc = compactReport();
      networksOf(doc)[`eth${round}`] = network(`52:54:00:00:00:0${round}`, [{ family: 'inet', address: `10.1.${round}.1`, netmask: '24', scope: 'global' }]);
      hw = deployed(doc, hw);
      const created = hw.interfaces.filter((i) => i.name === `eth${round}`).flatMap((i) => [i.id, ...i.links.map((l) => l.id)]);
      for (const id of created) {
        expect(seen.has(id)).toBe(false);
        seen.add(id);
      }
    }
  });

  it('takes ids from the allocator when one is given', () => {
    let next = 1000;
    const hw = deriveHardware({ document: compactReport(), previous: emptyHardware(), deployed: true, allocateId: () => next++ });
    expect([...hw.interfaces.map((i) => i.id), ...hw.disks.map((d) => d.id)].every((id) => id >= 1000)).toBe(true);
  });
});

describe('the machine before and after reports', () => {
  it('has no hardware data until a report is processed', () => {
    const empty = emptyHardware();
    expect(hasHardwareData(empty)).toBe(false);
    expect(hasHardwareData(deployed(compactReport()))).toBe(true);
  });

  it('starts with the interfaces of the MACs given at creation, renamed by the first report', () => {
    const created = emptyHardware({ architecture: 'amd64/generic', macAddresses: ['52:54:00:12:34:56', 'AA:BB:CC:DD:EE:FF'] });
    expect(created.interfaces.map((i) => [i.name, i.mac])).toEqual([['eth0', '52:54:00:12:34:56'], ['eth1', 'aa:bb:cc:dd:ee:ff']]);
    const reported = deployed(compactReport(), created);
    expect(reported.interfaces.map((i) => [i.id, i.name])).toEqual([[created.interfaces[0]!.id, 'ens3']]);
    expect(reported.interfaces[0]?.acquired).toBe(false);
  });

  it('keeps a more specific sub-architecture of the same architecture', () => {
    expect(deployed(compactReport(), emptyHardware({ architecture: 'amd64/hwe-22.04' })).architecture).toBe('amd64/hwe-22.04');
    expect(deployed(compactReport(), emptyHardware({ architecture: 'arm64/xgene' })).architecture).toBe('amd64/generic');
  });

  it('takes the OS only for deployed machines, and hugepages too', () => {
    const hw = deriveHardware({ document: compactReport(), previous: emptyHardware(), deployed: false });
    expect([hw.osystem, hw.distroSeries]).toEqual(['', '']);
    expect(hw.numaNodes[0]?.hugepages).toEqual([]);
  });
});

describe('release', () => {
  it('keeps physical interfaces only and clears the OS and hugepages', () => {
    const doc = compactReport();
    const nets = networksOf(doc);
    nets['ens3.100'] = network('52:54:00:12:34:56', [], { vlan: { lower_device: 'ens3', vid: 100 } });
    nets.br0 = network('52:54:00:12:34:57', [], { bridge: { upper_devices: ['ens3'] } });
    nets.bond0 = network('52:54:00:12:34:58', [], { bond: { lower_devices: ['eth5'] } });
    nets.eth5 = network('52:54:00:12:34:59');
    const hw = deployed(doc);
    expect(hw.interfaces.map((i) => i.type).sort()).toEqual(['bond', 'bridge', 'physical', 'physical', 'vlan']);
    const released = releaseHardware(hw);
    expect(released.interfaces.map((i) => [i.name, i.type, i.parents])).toEqual([
      ['ens3', 'physical', []],
      ['eth5', 'physical', []],
    ]);
    expect(released.interfaces.find((i) => i.name === 'ens3')?.links).toHaveLength(1);
    expect([released.osystem, released.distroSeries]).toEqual(['', '']);
    expect(released.numaNodes.flatMap((n) => n.hugepages)).toEqual([]);
    expect(released.cpuCount).toBe(2);
    expect(renderHardware(released, 'x7ghqk').interface_set?.map((i) => i.children)).toEqual([[], []]);
  });

  it('hands the IPs of a bridge to the physical interface below it before dropping the bridge', () => {
    const doc = compactReport();
    const nets = networksOf(doc);
    nets.br0 = network('52:54:00:12:34:99', [{ family: 'inet', address: '192.168.5.5', netmask: '24', scope: 'global' }], { bridge: { upper_devices: ['bond0'] } });
    nets.bond0 = network('52:54:00:12:34:98', [], { bond: { lower_devices: ['ens3'] } });
    const released = releaseHardware(deployed(doc));
    expect(released.interfaces.map((i) => [i.name, i.links.map((l) => `${l.address}/${l.netmask}`)])).toEqual([['ens3', ['10.0.0.50/24', '192.168.5.5/24']]]);
  });

  it('drops interfaces that are SR-IOV virtual functions of a card', () => {
    const doc = compactReport();
    const card = resourcesOf(doc).network.cards[0]!;
    card.sriov = {
      current_vfs: 1,
      maximum_vfs: 7,
      vfs: [{ numa_node: 0, pci_address: '0000:00:03.1', ports: [{ id: 'ens3v0', address: '52:54:00:00:00:f0', port: 0, protocol: 'ethernet', auto_negotiation: false, link_detected: true }] }],
    };
    networksOf(doc).ens3v0 = network('52:54:00:00:00:f0');
    const hw = deployed(doc);
    expect(hw.interfaces.map((i) => i.name).sort()).toEqual(['ens3', 'ens3v0']);
    expect(releaseHardware(hw).interfaces.map((i) => i.name)).toEqual(['ens3']);
  });
});

describe('what other machines are told', () => {
  it('lists the physical MACs so a report can move them away from another machine', () => {
    const doc = compactReport();
    networksOf(doc)['ens3.5'] = network('52:54:00:12:34:56', [], { vlan: { lower_device: 'ens3', vid: 5 } });
    const hw = deployed(doc);
    expect(hardwareMacs(hw)).toEqual(['52:54:00:12:34:56']);
    const moved = withoutMacs(hw, ['52:54:00:12:34:56']);
    expect(moved.interfaces).toEqual([]);
    expect(withoutMacs(hw, ['00:00:00:00:00:01'])).toBe(hw);
  });

  it('clears a hardware UUID that another machine also has', () => {
    const hw = deployed(compactReport());
    expect(hardwareUuid(hw)).toBe('1c4d5e6f-0a1b-4c2d-8e3f-405162738495');
    expect(hardwareUuid(withoutUuid(hw))).toBeNull();
    expect(hardwareUuid(hw)).not.toBeNull();
  });

  it('records no UUID when the system UUID is not shaped like one', () => {
    const doc = compactReport();
    resourcesOf(doc).system.uuid = 'Not Settable';
    expect(hardwareUuid(deployed(doc))).toBeNull();
    resourcesOf(doc).system.uuid = '1C4D5E6F0A1B4C2D8E3F405162738495';
    expect(hardwareUuid(deployed(doc))).toBe('1C4D5E6F0A1B4C2D8E3F405162738495');
  });

  it('survives a JSON round trip, as the SQLite store keeps it', () => {
    const hw = deployed(compactReport());
    const stored = JSON.parse(JSON.stringify(hw)) as MachineHardware;
    expect(stored).toEqual(hw);
    expect(processResources({ document: compactReport(), previous: stored, deployed: true }).hardware.interfaces[0]?.id).toBe(hw.interfaces[0]?.id);
  });
});
