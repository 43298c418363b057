import { describe, expect, it } from 'vitest';
import { formatBytes, formatMachineSummary, formatMiB } from '../../src/cli/machine-summary.js';
import type { BlockDeviceJson, InterfaceJson, MachineJson } from '../../src/maas/types.js';

function machine(overrides: Partial<MachineJson>): MachineJson {
  return {
    system_id: 'x7ghqk', hostname: 'web01', fqdn: 'web01.maas', owner: 'admin', locked: false, status: 6, status_name: 'Deployed',
    architecture: 'amd64/generic', osystem: 'ubuntu', distro_series: 'jammy', cpu_count: 8, cpu_speed: 2100, memory: 16384,
    interface_set: [], physicalblockdevice_set: [], blockdevice_set: [], numanode_set: [],
    hardware_info: { cpu_model: 'Intel(R) Xeon(R) CPU E5-2620 v4' },
    ...overrides,
  } as MachineJson;
}

describe('formatMachineSummary', () => {
  it('names the machine, its status and its CPU and memory', () => {
    const text = formatMachineSummary(machine({}), '/tmp/web01-creds.yaml');
    expect(text).toContain('Machine web01 (system_id x7ghqk)');
    expect(text).toMatch(/status: +Deployed, owner admin/);
    expect(text).toMatch(/CPU: +8 threads at 2100 MHz \(Intel\(R\) Xeon\(R\) CPU E5-2620 v4\)/);
    expect(text).toMatch(/memory: +16\.0 GiB/);
    expect(text).toMatch(/creds: +\/tmp\/web01-creds\.yaml/);
  });

  it('lists every disk with its size and every NIC with its MAC and addresses', () => {
    const disk = { name: 'nvme0n1', size: 500_107_862_016, model: 'Samsung SSD', serial: 'S4EW', tags: ['ssd'] } as unknown as BlockDeviceJson;
    const nic = {
      name: 'eth0', type: 'physical', mac_address: '52:54:00:12:34:56', parents: [],
      links: [{ id: 1, mode: 'static', ip_address: '10.0.0.50' }],
    } as unknown as InterfaceJson;
    const bond = { name: 'bond0', type: 'bond', mac_address: '52:54:00:12:34:57', parents: ['eth1', 'eth2'], links: [] } as unknown as InterfaceJson;
    const text = formatMachineSummary(machine({ physicalblockdevice_set: [disk], interface_set: [nic, bond] }));
    expect(text).toMatch(/nvme0n1 +500\.1 GB +Samsung SSD S4EW \[ssd\]/);
    expect(text).toMatch(/eth0 +52:54:00:12:34:56 +10\.0\.0\.50/);
    expect(text).toMatch(/bond0 +52:54:00:12:34:57 bond of eth1\+eth2/);
    expect(text).not.toContain('creds:');
  });

  it('says so when nothing has been reported yet', () => {
    const text = formatMachineSummary(machine({ cpu_count: 0, cpu_speed: 0, memory: 0, hardware_info: { cpu_model: 'Unknown' } as MachineJson['hardware_info'] }));
    expect(text).toMatch(/disks: +none reported/);
    expect(text).toMatch(/NICs: +none reported/);
    expect(text).toMatch(/CPU: +0 threads\n/);
  });
});

describe('unit formatting', () => {
  it('uses GiB from 1024 MiB and decimal units for disks', () => {
    expect(formatMiB(512)).toBe('512 MiB');
    expect(formatMiB(2048)).toBe('2.0 GiB');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(21_474_836_480)).toBe('21.5 GB');
  });
});
