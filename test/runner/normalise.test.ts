import { describe, expect, it } from 'vitest';
import { collectMachineResources, formatResources } from '../../collectors/resources.js';
import type { MachineResources } from '../../src/resources/types.js';
import { normaliseLshw, normaliseResources, normaliserFor, normaliseSupportInfo } from '../../src/runner/normalise.js';
import { useZoo } from '../helpers/zoo.js';

const [m1, m2] = await Promise.all([useZoo('m1'), useZoo('m2')]);
const documentOf = async (zoo: typeof m1) => (await collectMachineResources(zoo.host())).document;

/** A deep copy of `document` changed by `change`, printed as the collector prints it. */
function variant(document: MachineResources, change: (d: MachineResources) => void): string {
  const copy = structuredClone(document);
  change(copy);
  return formatResources(copy);
}

describe('normaliseResources', () => {
  it('gives the same text for two readings of a real machine that differ only in traffic, memory in use, current clock and mounts', async () => {
    const document = await documentOf(m1);
    const sockets = document.resources.cpu.sockets ?? [];
    const disks = document.resources.storage.disks ?? [];
    // The capture must carry the values this test moves, or it would prove nothing.
    expect(Object.keys(document.networks).length).toBeGreaterThan(0);
    expect(disks.length).toBeGreaterThan(0);
    expect(sockets.length).toBeGreaterThan(0);

    const later = variant(document, (d) => {
      for (const state of Object.values(d.networks)) state.counters = { bytes_received: 9e9, bytes_sent: 8e9, packets_received: 7e6, packets_sent: 6e6 };
      d.resources.memory.used += 123_456_789;
      d.resources.memory.hugepages_used += 2_097_152;
      for (const node of d.resources.memory.nodes ?? []) {
        node.used += 1_000_000;
        node.hugepages_used += 2_097_152;
      }
      for (const socket of d.resources.cpu.sockets ?? []) {
        socket.frequency = 3210;
        for (const core of socket.cores) core.frequency = 3333;
      }
      for (const disk of d.resources.storage.disks ?? []) {
        disk.mounted = !disk.mounted;
        for (const partition of disk.partitions ?? []) partition.mounted = !partition.mounted;
      }
    });
    expect(later).not.toBe(formatResources(document));
    expect(normaliseResources(later)).toBe(normaliseResources(formatResources(document)));
  });

  it('tells apart readings whose hardware differs: a disk added, a disk resized, more memory, another turbo clock, another MAC', async () => {
    const document = await documentOf(m1);
    const base = normaliseResources(formatResources(document));
    const firstDisk = document.resources.storage.disks![0]!;
    const changes: ((d: MachineResources) => void)[] = [
      (d) => d.resources.storage.disks!.push({ ...structuredClone(firstDisk), id: 'sdz', device: '8:240' }),
      (d) => (d.resources.storage.disks![0]!.size += 4096),
      (d) => (d.resources.memory.total += 1024 ** 3),
      (d) => {
        const socket = d.resources.cpu.sockets![0]!;
        socket.frequency_turbo = (socket.frequency_turbo ?? 0) + 100;
      },
      (d) => {
        const [name] = Object.keys(d.networks);
        d.networks[name!]!.hwaddr = '52:54:00:ff:ff:ff';
      },
    ];
    for (const change of changes) expect(normaliseResources(variant(document, change))).not.toBe(base);
  });

  it('tells apart two different machines', async () => {
    const [one, two] = await Promise.all([documentOf(m1), documentOf(m2)]);
    expect(normaliseResources(formatResources(one))).not.toBe(normaliseResources(formatResources(two)));
  });

  it('leaves text that is not a JSON object as it is (a failed run has no document)', () => {
    expect(normaliseResources('')).toBe('');
    expect(normaliseResources('ERROR: failed retrieving CPU information\n')).toBe('ERROR: failed retrieving CPU information\n');
    expect(normaliseResources('[1, 2]')).toBe('[1, 2]');
  });
});

// Laid out as `lshw -xml` prints it: one element per line, nested nodes indented.
function lshwXml(o: { cpuHz: number; cpuMaxHz: number; modified: string; mounted: string; volumeSize: number; memory: number }): string {
  return [
    '<?xml version="1.0" standalone="yes" ?>',
    '<node id="host" claimed="true" class="system" handle="DMI:0001">',
    ' <description>Computer</description>',
    '  <node id="core" claimed="true" class="bus" handle="">',
    '    <node id="memory" claimed="true" class="memory" handle="">',
    `     <size units="bytes">${o.memory}</size>`,
    '    </node>',
    '    <node id="cpu:0" claimed="true" class="processor" handle="CPU:0">',
    '     <product>Example CPU</product>',
    `     <size units="Hz">${o.cpuHz}</size>`,
    `     <capacity units="Hz">${o.cpuMaxHz}</capacity>`,
    '    </node>',
    '    <node id="volume:1" claimed="true" class="volume" handle="">',
    `     <size units="bytes">${o.volumeSize}</size>`,
    '     <configuration>',
    '      <setting id="created" value="2023-11-14 22:13:20" />',
    '      <setting id="filesystem" value="ext4" />',
    `      <setting id="modified" value="${o.modified}" />`,
    `      <setting id="mounted" value="${o.mounted}" />`,
    '     </configuration>',
    '    </node>',
    '  </node>',
    '</node>',
    '',
  ].join('\n');
}

describe('normaliseLshw', () => {
  const base = { cpuHz: 1_800_000_000, cpuMaxHz: 3_500_000_000, modified: '2026-01-01 10:00:00', mounted: '2026-01-01 09:00:00', volumeSize: 2_011_168_768, memory: 8 * 1024 ** 3 };

  it("ignores a processor's current clock and a file system's last write and mount times", () => {
    const later = lshwXml({ ...base, cpuHz: 2_400_000_000, modified: '2026-02-03 04:05:06', mounted: '2026-02-01 00:00:00' });
    expect(normaliseLshw(later)).toBe(normaliseLshw(lshwXml(base)));
  });

  it('sees a change of maximum clock, memory size or volume size', () => {
    const normal = normaliseLshw(lshwXml(base));
    expect(normaliseLshw(lshwXml({ ...base, cpuMaxHz: 3_600_000_000 }))).not.toBe(normal);
    expect(normaliseLshw(lshwXml({ ...base, memory: 16 * 1024 ** 3 }))).not.toBe(normal);
    expect(normaliseLshw(lshwXml({ ...base, volumeSize: 4_000_000_000 }))).not.toBe(normal);
  });
});

describe('normaliseSupportInfo', () => {
  it('ignores the random name of the directory the DMI table is dumped into', () => {
    const note = (dir: string) => `dmidecode --dump-bin /tmp/maas-run-scripts-dmi-${dir}/dmi.bin: /dev/mem: No such file or directory\n`;
    expect(normaliseSupportInfo(note('ok5HYJ'))).toBe(normaliseSupportInfo(note('PWPGYV')));
    expect(normaliseSupportInfo('-----BEGIN PCI INFO-----\n00:02.0 VGA\n')).not.toBe(normaliseSupportInfo('-----BEGIN PCI INFO-----\n00:03.0 VGA\n'));
  });
});

describe('normaliserFor', () => {
  it('applies the resources rules to the stdout of both scripts the resources document answers, and nothing to other files', () => {
    const a = JSON.stringify({ resources: { memory: { used: 1, total: 8 } } });
    const b = JSON.stringify({ resources: { memory: { used: 2, total: 8 } } });
    for (const script of ['20-maas-03-machine-resources', '50-maas-01-commissioning']) {
      expect(normaliserFor(script, `${script}.out`)(a)).toBe(normaliserFor(script, `${script}.out`)(b));
      expect(normaliserFor(script, script)(a)).not.toBe(normaliserFor(script, script)(b));
    }
    expect(normaliserFor('maas-list-modaliases', 'maas-list-modaliases.out')('pci:v1\n')).toBe('pci:v1\n');
    expect(normaliserFor('90-custom', '90-custom.out')(a)).toBe(a);
  });
});
