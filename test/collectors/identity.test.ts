import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { debianArchitecture, parseBondingPermanentMacs, physicalMacs } from '../../collectors/identity.js';
import { createHost } from '../../src/host/host.js';
import { ZOO } from '../helpers/fixtures.js';
import { removeTree, unpackZoo } from '../helpers/trees.js';
import { makeRoot } from '../helpers/make-root.js';

const NET_MEMBERS = ['./sys/class/net/*', '*/net/*']; // the second also brings /proc/net/bonding
const trees: string[] = [];
afterAll(async () => {
  await Promise.all(trees.map(removeTree));
});

async function zooNicMacs(machine: 'm1' | 'm2' | 'm3'): Promise<string[]> {
  const expected = JSON.parse(await readFile(join(ZOO, machine, 'expected.json'), 'utf8')) as { nics: { mac: string }[] };
  return expected.nics.map((nic) => nic.mac.toLowerCase()).sort();
}

describe('physicalMacs', () => {
  it.each(['m1', 'm2', 'm3'] as const)('finds exactly the NICs qemu gave zoo machine %s', async (machine) => {
    const root = await unpackZoo(machine, NET_MEMBERS);
    trees.push(root);
    expect(await physicalMacs(createHost({ root }))).toEqual(await zooNicMacs(machine));
  });

  it("uses a bond slave's permanent MAC, not the bond's address it carries", async () => {
    const root = await unpackZoo('m2', NET_MEMBERS);
    trees.push(root);
    const host = createHost({ root });
    const carried = await host.readOptional('/sys/class/net/ens3/address');
    const macs = await physicalMacs(host);
    expect(macs).toContain('52:54:00:12:02:01');
    expect(macs).not.toContain(carried);
  });

  it('falls back to bonding_slave/perm_hwaddr without /proc/net/bonding, and skips VFs, non-Ethernet links and virtual devices', async () => {
    const root = await makeRoot({
      'sys/devices/pci0/a/net/eth0/address': 'aa:aa:aa:aa:aa:aa\n',
      'sys/devices/pci0/a/net/eth0/type': '1\n',
      'sys/devices/pci0/a/net/eth0/bonding_slave/perm_hwaddr': '52:54:00:00:00:0A\n',
      'sys/devices/pci0/a/net/eth0/device': { link: '../../../a' },
      'sys/devices/pci0/a/net/eth0/master': { link: '../../../../virtual/net/bond0' },
      'sys/devices/pci0/b/net/eth1/address': '52:54:00:00:00:0b\n',
      'sys/devices/pci0/b/net/eth1/type': '1\n',
      'sys/devices/pci0/b/net/eth1/device': { link: '../../../b' },
      'sys/devices/pci0/b/physfn': { link: '../a' },
      'sys/devices/pci0/c/net/ib0/address': '80:00:02:08:fe:80:00:00:00:00:00:00:00:00:00:00:00:00:00:01\n',
      'sys/devices/pci0/c/net/ib0/type': '32\n',
      'sys/devices/pci0/c/net/ib0/device': { link: '../../../c' },
      'sys/devices/virtual/net/bond0/address': 'aa:aa:aa:aa:aa:aa\n',
      'sys/devices/virtual/net/lo/address': '00:00:00:00:00:00\n',
      'sys/class/net/eth0': { link: '../../devices/pci0/a/net/eth0' },
      'sys/class/net/eth1': { link: '../../devices/pci0/b/net/eth1' },
      'sys/class/net/ib0': { link: '../../devices/pci0/c/net/ib0' },
      'sys/class/net/bond0': { link: '../../devices/virtual/net/bond0' },
      'sys/class/net/lo': { link: '../../devices/virtual/net/lo' },
    });
    expect(await physicalMacs(createHost({ root }))).toEqual(['52:54:00:00:00:0a']);
  });

  it('returns nothing for a host without physical NICs (a container)', async () => {
    const root = await makeRoot({ 'sys/devices/virtual/net/lo/address': '00:00:00:00:00:00\n', 'sys/class/net/lo': { link: '../../devices/virtual/net/lo' } });
    expect(await physicalMacs(createHost({ root }))).toEqual([]);
  });
});

describe('parseBondingPermanentMacs', () => {
  it('maps each slave interface to its permanent address', () => {
    const text = 'Bonding Mode: active-backup\n\nSlave Interface: ens3\nMII Status: up\nPermanent HW addr: 52:54:00:12:02:01\n\nSlave Interface: ens4\nPermanent HW addr: 52:54:00:12:02:02\n';
    expect([...parseBondingPermanentMacs(text)]).toEqual([
      ['ens3', '52:54:00:12:02:01'],
      ['ens4', '52:54:00:12:02:02'],
    ]);
  });
});

describe('debianArchitecture', () => {
  it.each([
    ['x86_64', 'amd64'],
    ['aarch64', 'arm64'],
    ['i686', 'i386'],
    ['ppc64le', 'ppc64el'],
    ['s390x', 's390x'],
    ['riscv64', 'riscv64'],
    ['armv7l', 'armhf'],
  ])('maps uname machine %s to %s', (machine, debian) => {
    expect(debianArchitecture(machine)).toBe(debian);
  });

  it('gives undefined for a machine it does not know', () => {
    expect(debianArchitecture('vax')).toBeUndefined();
  });
});
