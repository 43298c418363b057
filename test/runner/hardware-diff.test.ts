// The comparison behind `diff` and report-results' change line, on MAAS's own sample
// machine-resources documents (test/fixtures/maas-samples) and edits of them: each kind of change
// is named once, in words, and the values an idle machine moves are not changes.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { changeSummary, hardwareChanges, parseResources } from '../../src/runner/hardware-diff.js';
import type { MachineResources } from '../../src/resources/types.js';
import { FIXTURES } from '../helpers/fixtures.js';

const SAMPLES = join(FIXTURES, 'maas-samples');
const samples = readdirSync(SAMPLES).filter((f) => f.endsWith('.json'));

/** A sample with disks and NIC ports. */
function sample(): MachineResources {
  for (const name of samples) {
    const doc = parseResources(readFileSync(join(SAMPLES, name), 'utf8'));
    const r = doc?.resources;
    if (doc && (r?.storage?.disks?.length ?? 0) > 0 && (r?.network?.cards ?? []).some((c) => (c.ports?.length ?? 0) > 0)) return doc;
  }
  throw new Error('no sample with disks and NIC ports');
}

const copy = <T>(value: T): T => structuredClone(value);

describe('hardwareChanges', () => {
  it('finds nothing between a document and itself, nor after the values an idle machine moves', () => {
    for (const name of samples) {
      const text = readFileSync(join(SAMPLES, name), 'utf8');
      const doc = parseResources(text);
      if (!doc) continue;
      const later = copy(doc);
      later.resources.memory.used += 12345;
      for (const state of Object.values(later.networks ?? {})) if (state.counters) state.counters.bytes_received += 999;
      for (const socket of later.resources.cpu.sockets ?? []) socket.frequency = (socket.frequency ?? 0) + 100;
      for (const disk of later.resources.storage.disks ?? []) disk.mounted = !disk.mounted;
      expect(hardwareChanges(doc, parseResources(JSON.stringify(later))!), name).toEqual([]);
    }
  });

  it('names a renamed NIC and a disk that moved to another kernel name as changed, not as removed and added', () => {
    const before = sample();
    const after = copy(before);
    const port = after.resources.network.cards!.find((c) => c.ports?.length)!.ports![0]!;
    const oldName = port.id;
    port.id = 'renamed0';
    const disk = after.resources.storage.disks!.find((d) => d.serial || d.wwn);
    const oldDisk = disk?.id;
    if (disk) disk.id = 'sdzz';
    const changes = hardwareChanges(before, after);
    expect(changes.find((c) => c.area === 'nic')).toMatchObject({ change: 'changed', name: 'renamed0', fields: { name: { before: oldName, after: 'renamed0' } } });
    if (disk) expect(changes.find((c) => c.area === 'disk')).toMatchObject({ change: 'changed', name: 'sdzz', fields: { name: { before: oldDisk, after: 'sdzz' } } });
    expect(changes.every((c) => c.change === 'changed')).toBe(true);
  });

  it('counts two identical USB devices as two, and a CPU, firmware or disk size change in words', () => {
    const before = sample();
    // Two more of a stick already there (or of a made-up one on a machine without USB devices).
    before.resources.usb = before.resources.usb ?? { devices: [], total: 0 };
    before.resources.usb.devices ??= [];
    const stick = before.resources.usb.devices[0] ?? { bus_address: 1, device_address: 2, serial: '', interfaces: null, vendor: 'SanDisk Corp.', vendor_id: '0781', product: 'Cruzer Blade', product_id: '5567', speed: 480 };
    const after = copy(before);
    after.resources.usb.devices!.push(copy(stick), copy(stick));
    after.resources.cpu.total += 4;
    if (after.resources.system.firmware) after.resources.system.firmware.version = 'NEW-FW-9.9';
    const disk = after.resources.storage.disks![0]!;
    disk.size = 2_000_000_000_000;
    const changes = hardwareChanges(before, after);
    expect(changes.filter((c) => c.area === 'usb' && c.change === 'added')).toHaveLength(2);
    expect(changes.find((c) => c.area === 'cpu')!.text).toBe(`CPU changed: threads ${before.resources.cpu.total} → ${after.resources.cpu.total}`);
    expect(changes.find((c) => c.area === 'disk')!.text).toMatch(new RegExp(`^disk ${disk.id} changed: size .* → 2 TB$`));
    if (after.resources.system.firmware) expect(changes.find((c) => c.area === 'system')!.text).toMatch(/^system changed: firmware .* → .*NEW-FW-9\.9/);
    // The removal of one of the two copies is one change, and the summary joins them all.
    const fewer = copy(after);
    fewer.resources.usb.devices!.pop();
    expect(hardwareChanges(after, fewer).map((c) => [c.area, c.change])).toEqual([['usb', 'removed']]);
    expect(changeSummary(changes)).toBe(`changes: ${changes.map((c) => c.text).join('; ')}`);
    expect(changeSummary([])).toBe('no hardware changes');
  });

  it('takes text that is not a machine-resources document as no document', () => {
    expect(parseResources('Failed to execute 20-maas-03-machine-resources: 1')).toBeUndefined();
    expect(parseResources('[]')).toBeUndefined();
  });
});
