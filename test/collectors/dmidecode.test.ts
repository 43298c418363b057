import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DMI_KEYWORDS, dmiKeypairs, parseDmidecode, readDmidecode } from '../../collectors/dmidecode.js';
import { ParseError } from '../../src/errors.js';
import { createHost } from '../../src/host/host.js';
import type { RunCommand } from '../../src/host/run-command.js';
import { PROJECT_ROOT } from '../helpers/cli.js';
import { ZOO } from '../helpers/fixtures.js';
import { zooMember } from '../helpers/trees.js';

const MACHINES = ['m1', 'm2', 'm3'] as const;
const zooDmidecode = (m: (typeof MACHINES)[number]) => zooMember(m, 'zoo/cmd/dmidecode.out');
const rackServer = () => readFile(join(PROJECT_ROOT, 'test/fixtures/commands/dmidecode/rack-server.txt'), 'utf8');

describe('parseDmidecode', () => {
  it.each(MACHINES)('finds as many structures as dmidecode announced on zoo machine %s', async (m) => {
    const text = await zooDmidecode(m);
    const announced = Number(/^(\d+) structures occupying/m.exec(text)![1]);
    expect(parseDmidecode(text)).toHaveLength(announced);
  });

  it.each(MACHINES)('reads the system and BIOS strings the zoo machine %s shows in sysfs', async (m) => {
    const expected = JSON.parse(await readFile(join(ZOO, m, 'expected.json'), 'utf8')) as { dmi: Record<string, string> };
    const records = parseDmidecode(await zooDmidecode(m));
    const system = records.find((r) => r.type === 1)!;
    const bios = records.find((r) => r.type === 0)!;
    expect(system.title).toBe('System Information');
    expect(system.fields.Manufacturer).toBe(expected.dmi.sys_vendor);
    expect(system.fields['Product Name']).toBe(expected.dmi.product_name);
    expect(bios.fields.Vendor).toBe(expected.dmi.bios_vendor);
    expect(bios.fields['Release Date']).toBe(expected.dmi.bios_date);
  });

  it('keeps indented list items under their key and plain fields as strings', async () => {
    const records = parseDmidecode(await rackServer());
    const bios = records.find((r) => r.type === 0)!;
    expect(bios.lists.Characteristics).toEqual(['PCI is supported', 'BIOS is upgradeable', 'UEFI is supported']);
    expect(bios.fields['BIOS Revision']).toBe('2.14');
    const board = records.find((r) => r.type === 2)!;
    expect(board.lists.Features).toHaveLength(2);
    expect(board.fields.Type).toBe('Motherboard');
    expect(records.filter((r) => r.type === 4).map((r) => r.handle)).toEqual(['0x0400', '0x0401']);
  });

  it('keeps values that contain colons and equals signs whole', async () => {
    const system = parseDmidecode(await rackServer()).find((r) => r.type === 1)!;
    expect(system.fields['SKU Number']).toBe('SKU=RS2200;ModelName=RS-2200');
    expect(system.fields.UUID).toBe('4c4c4544-0042-3510-8052-b4c04f4a3532');
  });

  it('returns no structures for a machine without an SMBIOS table', () => {
    expect(parseDmidecode('# dmidecode 3.4\n# No SMBIOS nor DMI entry point found, sorry.\n')).toEqual([]);
    expect(parseDmidecode('')).toEqual([]);
  });

  it('rejects text that is not dmidecode output, naming the source', () => {
    expect(() => parseDmidecode('<html>proxy error</html>\n')).toThrow(ParseError);
    expect(() => parseDmidecode('<html>proxy error</html>\n')).toThrow(/dmidecode output/);
  });
});

describe('dmiKeypairs', () => {
  it('gives one value per keyword upstream lists, joining several processors with a space', async () => {
    const pairs = new Map(dmiKeypairs(parseDmidecode(await rackServer())));
    expect([...pairs.keys()]).toEqual(DMI_KEYWORDS.map(([k]) => k));
    expect(pairs.get('system-serial-number')).toBe('EXS-00012345');
    expect(pairs.get('chassis-type')).toBe('Rack Mount Chassis');
    expect(pairs.get('processor-version')).toBe('Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz');
    expect(pairs.get('processor-frequency')).toBe('2000 MHz 2000 MHz');
    expect(pairs.get('baseboard-asset-tag')).toBe('Not Specified');
  });

  it('leaves keywords empty when the table has no structure of that type (no baseboard on qemu)', async () => {
    const pairs = new Map(dmiKeypairs(parseDmidecode(await zooDmidecode('m1'))));
    expect(pairs.get('baseboard-manufacturer')).toBe('');
    expect(pairs.get('system-manufacturer')).toBe('QEMU');
  });
});

describe('readDmidecode', () => {
  it('does not run dmidecode at all when not root', async () => {
    const calls: string[] = [];
    // A recording stand-in: the point is that nothing is run, which a real runner cannot show.
    const run: RunCommand = async (file) => {
      calls.push(file);
      throw new Error('must not run');
    };
    expect(await readDmidecode(createHost({ run, isRoot: false }))).toBeUndefined();
    expect(calls).toEqual([]);
  });

  it('gives undefined when dmidecode is not installed', async () => {
    const { createRunCommand } = await import('../../src/host/run-command.js');
    const host = createHost({ run: createRunCommand({ searchPath: [] }), isRoot: true });
    expect(await readDmidecode(host)).toBeUndefined();
  });
});
