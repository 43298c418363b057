import { execa } from 'execa';
import { readdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { findExecutable, SEARCH_PATH_ENV } from '../../src/host/run-command.js';
import { DEPLOY_INFO_SCRIPTS } from '../../src/resources/types.js';
import { runCli } from '../helpers/cli.js';
import { removeTree, tempDir, unpackZoo, ZOO_SUBSETS } from '../helpers/trees.js';
import { makeRoot } from '../helpers/make-root.js';

/** Tools the collectors may run; the test search path links those installed here, minus lshw. */
const TOOLS = ['ionice', 'ip', 'ethtool', 'systemd-detect-virt', 'lspci', 'lsusb', 'lsblk', 'udevadm', 'dmidecode'];

let m1: string;
let withoutLshw: string;
const dirs: string[] = [];

beforeAll(async () => {
  m1 = await unpackZoo('m1', [...ZOO_SUBSETS.tty]);
  withoutLshw = await tempDir('mrs-bin-');
  for (const tool of TOOLS) {
    const path = await findExecutable(tool);
    if (path) await symlink(path, join(withoutLshw, tool));
  }
});
afterAll(async () => {
  await Promise.all([m1, withoutLshw, ...dirs].map(removeTree));
});

async function scratch(): Promise<string> {
  const dir = await tempDir('mrs-collect-');
  dirs.push(dir);
  return dir;
}

describe('maas-run-scripts collect', () => {
  it('prints the machine-resources JSON of this machine by default', async () => {
    const run = await runCli(['collect']);
    expect(run.exitCode).toBe(0);
    const doc = JSON.parse(run.stdout) as { api_version: string; resources: { cpu: { total: number }; memory: { total: number } } };
    expect(doc.api_version).toBe('1.0');
    expect(doc.resources.cpu.total).toBeGreaterThan(0);
    expect(doc.resources.memory.total).toBeGreaterThan(0);
  });

  it('prints the same document as YAML with --format yaml', async () => {
    const run = await runCli(['collect', '--format', 'yaml']);
    expect(run.exitCode).toBe(0);
    expect(run.stdout.trimStart().startsWith('{')).toBe(false);
    const doc = parseYaml(run.stdout) as { api_version: string; resources: { cpu: { total: number } } };
    expect(doc.api_version).toBe('1.0');
    expect(doc.resources.cpu.total).toBeGreaterThan(0);
  });

  it('prints exactly what the upstream script prints for a single --only collector', async () => {
    const run = await runCli(['collect', '--only', 'serial-ports', '--root', m1], { stripFinalNewline: false });
    expect(run.exitCode).toBe(0);
    const { stdout: upstream } = await execa('sh', ['-c', 'find "$1/sys/class/tty/" ! -type d -print0 | xargs -0 readlink -f | sed "s|^$1||" | sort -u', 'sh', m1], {
      env: { LC_ALL: 'C' },
      stripFinalNewline: false,
    });
    expect(run.stdout).toBe(upstream);
  });

  it('exits 2 and lists the valid names for an unknown --only name', async () => {
    const run = await runCli(['collect', '--only', 'resources,lshww']);
    expect(run.exitCode).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/unknown collector "lshww"; valid names: resources, modaliases, lshw, serial-ports, support-info/);
  });

  it('exits 2 when several collectors would have to share stdout', async () => {
    const run = await runCli(['collect', '--only', 'lshw,serial-ports']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/--output DIR/);
  });

  it('exits 2 for --format yaml on anything but the resources document', async () => {
    const run = await runCli(['collect', '--only', 'modaliases', '--format', 'yaml']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/--format yaml applies only/);
  });

  it('exits 2 for a --root that does not exist, without a stack trace', async () => {
    const run = await runCli(['collect', '--root', '/nonexistent/tree']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/^--root \/nonexistent\/tree: no such directory/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 1 with one summary line when lshw is not installed', async () => {
    const run = await runCli(['collect', '--only', 'lshw'], { env: { [SEARCH_PATH_ENV]: withoutLshw }, stripFinalNewline: false });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('collector "lshw" failed with exit status 127: lshw is not available (lshw: command not found): install the lshw package to report the hardware tree\n');
  });

  it('writes the .out, .err and combined file of all six scripts into --output, and names each failure', async () => {
    const out = await scratch();
    const target = join(out, 'results');
    const run = await runCli(['collect', '--output', target], { env: { [SEARCH_PATH_ENV]: withoutLshw } });
    expect(run.exitCode).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^collector "lshw" failed with exit status 127: .*install the lshw package/)]);

    const expected = DEPLOY_INFO_SCRIPTS.flatMap((s) => [s, `${s}.err`, `${s}.out`]).sort();
    expect((await readdir(target)).sort()).toEqual(expected);
    const read = (name: string) => readFile(join(target, name), 'utf8');
    for (const script of DEPLOY_INFO_SCRIPTS) {
      expect(await read(script)).toBe((await read(`${script}.out`)) + (await read(`${script}.err`)));
    }
    // One document answers both resources scripts.
    const resources = await read('20-maas-03-machine-resources.out');
    expect(JSON.parse(resources).api_version).toBe('1.0');
    expect(await read('50-maas-01-commissioning.out')).toBe(resources);
    expect(await read('maas-lshw.out')).toBe('');
    expect(await read('maas-lshw.err')).toMatch(/install the lshw package/);
    expect(await read('maas-support-info.out')).toMatch(/^-----BEGIN KERNEL INFO-----\n/);
    const { stdout: modaliases } = await execa('sh', ['-c', 'find /sys/devices/ -name modalias -print0 | xargs -0 cat | sort -u'], { env: { LC_ALL: 'C' }, stripFinalNewline: false });
    expect(await read('maas-list-modaliases.out')).toBe(modaliases);
    // The listing on stdout names every file written.
    expect(run.stdout.trim().split('\n').sort()).toEqual(expected.map((f) => join(target, f)).sort());
  });

  it('exits 2 when --output names a file, and writes nothing', async () => {
    const dir = await makeRoot({ occupied: 'x\n' });
    const run = await runCli(['collect', '--output', join(dir, 'occupied')]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/exists and is not a directory/);
    expect(await readdir(dir)).toEqual(['occupied']);
  });
});
