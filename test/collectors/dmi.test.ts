import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dmiInfoFromRecords, readDmi } from '../../collectors/dmi.js';
import { parseDmidecode } from '../../collectors/dmidecode.js';
import { createHost } from '../../src/host/host.js';
import type { RunCommand } from '../../src/host/run-command.js';
import { PROJECT_ROOT } from '../helpers/cli.js';
import { ZOO } from '../helpers/fixtures.js';
import { removeTree, unpackZoo, ZOO_SUBSETS } from '../helpers/trees.js';
import { makeRoot } from '../helpers/make-root.js';

let m1: string;
beforeAll(async () => {
  m1 = await unpackZoo('m1', [...ZOO_SUBSETS.dmi]);
});
afterAll(() => removeTree(m1));

describe('readDmi', () => {
  it('reads the strings of a real machine from /sys/class/dmi/id', async () => {
    const expected = JSON.parse(await readFile(join(ZOO, 'm1', 'expected.json'), 'utf8')) as { dmi: Record<string, string> };
    const dmi = await readDmi(createHost({ root: m1 }));
    expect(dmi.source).toBe('sysfs');
    expect(dmi.system.vendor).toBe(expected.dmi.sys_vendor);
    expect(dmi.system.product).toBe(expected.dmi.product_name);
    expect(dmi.system.version).toBe(expected.dmi.product_version);
    expect(dmi.bios).toMatchObject({ vendor: expected.dmi.bios_vendor, version: expected.dmi.bios_version, date: expected.dmi.bios_date });
    expect(dmi.chassis.type).toBe(Number(expected.dmi.chassis_type));
  });

  it('leaves empty strings and root-only files that could not be read undefined', async () => {
    // m1's product_serial is empty and product_uuid is absent (root-only, left out of the capture).
    const dmi = await readDmi(createHost({ root: m1 }));
    expect(dmi.system.serial).toBeUndefined();
    expect(dmi.system.uuid).toBeUndefined();
    expect(dmi.board).toEqual({});
  });

  it('reports no DMI at all, without running dmidecode, on a machine without the directory when not root', async () => {
    const root = await makeRoot({ 'proc/cmdline': 'quiet\n' });
    const ran: string[] = [];
    // Records calls only: what matters is that nothing runs.
    const run: RunCommand = async (file) => {
      ran.push(file);
      throw new Error('unexpected');
    };
    const dmi = await readDmi(createHost({ root, run, isRoot: false }));
    expect(dmi).toEqual({ source: 'none', bios: {}, system: {}, board: {}, chassis: {} });
    expect(ran).toEqual([]);
  });

  it('does not run dmidecode when the kernel exposes no SMBIOS table (it would scan /dev/mem)', async () => {
    const root = await makeRoot({ 'proc/cmdline': 'quiet\n' });
    const ran: string[] = [];
    const run: RunCommand = async (file) => {
      ran.push(file);
      throw new Error('unexpected');
    };
    const dmi = await readDmi(createHost({ root, run, isRoot: true }));
    expect(dmi.source).toBe('none');
    expect(ran).toEqual([]);
  });

  it('falls back to dmidecode as root when the kernel exposes the SMBIOS table but no DMI directory', async () => {
    const root = await makeRoot({ 'proc/cmdline': 'quiet\n', 'sys/firmware/dmi/tables/DMI': 'table' });
    const text = await readFile(join(PROJECT_ROOT, 'test/fixtures/commands/dmidecode/rack-server.txt'), 'utf8');
    // This machine has no SMBIOS table, so real dmidecode cannot show the fallback: replay a capture.
    const run: RunCommand = async (file, args) => ({ command: [file, ...args].join(' '), exitCode: 0, stdout: text, stderr: '', timedOut: false, notFound: false, failed: false });
    const dmi = await readDmi(createHost({ root, run, isRoot: true }));
    expect(dmi.source).toBe('dmidecode');
    expect(dmi.system).toMatchObject({ vendor: 'Example Systems', serial: 'EXS-00012345', family: 'RS Servers' });
    expect(dmi.chassis.type).toBe(23);
  });
});

describe('dmiInfoFromRecords', () => {
  it('drops dmidecode placeholders such as "Not Specified"', async () => {
    const text = await readFile(join(PROJECT_ROOT, 'test/fixtures/commands/dmidecode/rack-server.txt'), 'utf8');
    const dmi = dmiInfoFromRecords(parseDmidecode(text));
    expect(dmi.system.version).toBeUndefined();
    expect(dmi.board.assetTag).toBeUndefined();
    expect(dmi.chassis.assetTag).toBe('rack-12-u07');
  });
});
