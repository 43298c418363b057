import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chassisTypeName, readSystem, virtType } from '../../collectors/system.js';
import { createHost } from '../../src/host/host.js';
import { PROJECT_ROOT } from '../helpers/cli.js';
import { cannedCommands, makeRoot, noCommands } from '../helpers/make-root.js';
import { edgeMachine } from './edge-machine.js';

describe('system parsers', () => {
  it('names SMBIOS chassis types and leaves unknown numbers empty', () => {
    expect([chassisTypeName('1'), chassisTypeName('17'), chassisTypeName('23'), chassisTypeName('99'), chassisTypeName(undefined)]).toEqual(['Other', 'Main Server Chassis', 'Rack Mount Chassis', '', '']);
  });

  it('tells containers, virtual machines, bare metal and a missing tool apart', () => {
    const r = (stdout: string, notFound = false) => virtType({ stdout, notFound });
    expect([r('lxc\n'), r('kvm\n'), r('none\n'), r('', true)]).toEqual(['container', 'virtual-machine', 'physical', 'unknown']);
  });
});

describe('readSystem', () => {
  it('copies every DMI string as root, with the chassis type named', async () => {
    const host = createHost({ root: await makeRoot(edgeMachine()), run: cannedCommands({ 'systemd-detect-virt': 'none\n' }), isRoot: true });
    const { value: system, warnings } = await readSystem(host);
    expect(system).toEqual({
      uuid: '4c4c4544-0031-3510-8047-b4c04f4d4732', vendor: 'Dell Inc.', product: 'PowerEdge R640', family: 'PowerEdge', version: '', sku: 'SKU=0716',
      serial: 'CN7016XYZ', type: 'physical',
      firmware: { vendor: 'Dell Inc.', date: '07/15/2022', version: '2.15.1' },
      chassis: { vendor: 'Dell Inc.', type: 'Rack Mount Chassis', serial: 'CHS123', version: '' },
      motherboard: { vendor: 'Dell Inc.', product: '0W23H8', serial: '.CN7016XYZ.', version: 'A06' },
    });
    expect(warnings).toEqual([]);
  });

  it('leaves serials and the UUID empty when not root, and says the data is partial', async () => {
    const host = createHost({ root: await makeRoot(edgeMachine()), run: noCommands, isRoot: false });
    const { value: system, warnings } = await readSystem(host);
    expect([system.uuid, system.serial, system.chassis?.serial, system.motherboard?.serial]).toEqual(['', '', '', '']);
    expect(system.vendor).toBe('Dell Inc.');
    expect(system.type).toBe('unknown');
    expect(warnings.join('\n')).toMatch(/not running as root.*partial/);
  });

  it('answers "container" from a container manager’s marker file without running systemd-detect-virt', async () => {
    const root = await makeRoot({ ...edgeMachine(), 'run/systemd/container': 'lxc\n' });
    // The tool would say otherwise: the marker file must win.
    const { value: system } = await readSystem(createHost({ root, run: cannedCommands({ 'systemd-detect-virt': 'kvm\n' }), isRoot: true }));
    expect(system.type).toBe('container');
  });

  it('reads DMI strings with dmidecode as root when the kernel exposes its SMBIOS table but no /sys/class/dmi/id', async () => {
    const dump = readFileSync(join(PROJECT_ROOT, 'test/fixtures/commands/dmidecode/rack-server.txt'), 'utf8');
    const run = cannedCommands({ dmidecode: dump, 'systemd-detect-virt': 'none\n' });
    const tree = { ...edgeMachine({ noDmi: true }), 'sys/firmware/dmi/tables/DMI': 'table' };
    const { value: system, warnings } = await readSystem(createHost({ root: await makeRoot(tree), run, isRoot: true }));
    expect(system).toMatchObject({
      vendor: 'Example Systems', product: 'RS-2200 Gen3', family: 'RS Servers', version: '', serial: 'EXS-00012345',
      uuid: '4c4c4544-0042-3510-8052-b4c04f4a3532', firmware: { vendor: 'Example Firmware Inc.', version: '2.14.1', date: '03/12/2024' },
      motherboard: { vendor: 'Example Systems', product: '0X1234', serial: '.7XYZ123.CNCMS0012.', version: 'A03' },
      chassis: { type: 'Rack Mount Chassis' },
    });
    expect(warnings.join('\n')).toMatch(/read with dmidecode/);
  });

  it('reports null firmware, chassis and board when the machine has no DMI', async () => {
    const host = createHost({ root: await makeRoot(edgeMachine({ noDmi: true })), run: cannedCommands({ 'systemd-detect-virt': 'kvm\n' }), isRoot: true });
    const { value: system, warnings } = await readSystem(host);
    expect(system).toMatchObject({ vendor: '', product: '', type: 'virtual-machine', firmware: null, chassis: null, motherboard: null });
    expect(warnings.join('\n')).toMatch(/no DMI/);
  });
});
