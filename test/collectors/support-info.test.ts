import { execa } from 'execa';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  base64Lines,
  buildSupportInfo,
  cloudConfigUrl,
  cpuModelCounts,
  formatSections,
  mapLimit,
  parseProcVersion,
  supportInfoCollector,
} from '../../collectors/support-info.js';
import { DMI_KEYWORDS } from '../../collectors/dmidecode.js';
import { createHost } from '../../src/host/host.js';
import { createRunCommand, type RunCommand } from '../../src/host/run-command.js';
import { PROJECT_ROOT } from '../helpers/cli.js';
import { eventually, installed, removeTree, tempDir, unpackZoo, ZOO_SUBSETS, zooMember } from '../helpers/trees.js';
import { link, makeRoot } from '../helpers/make-root.js';

const hasLspci = await installed('lspci');
let m1: string;
const trees: string[] = [];
beforeAll(async () => {
  m1 = await unpackZoo('m1', [...ZOO_SUBSETS.proc, ...ZOO_SUBSETS.tty, ...ZOO_SUBSETS.modalias]);
});
afterAll(() => removeTree(m1));
afterEach(async () => {
  await Promise.all(trees.splice(0).map(removeTree));
});

/** No external tool can be found: every command-backed section must degrade to a note. */
const noTools = createRunCommand({ searchPath: [] });

/** The body between a section's markers, or undefined when the section is missing. */
function section(report: string, title: string): string | undefined {
  const match = new RegExp(`-----BEGIN ${title}-----\\n([\\s\\S]*?)-----END ${title}-----\\n`).exec(report);
  return match?.[1];
}

const titles = (report: string) => [...report.matchAll(/^-----BEGIN (.+)-----$/gm)].map((m) => m[1]);

async function sh(script: string, root: string): Promise<string> {
  const { stdout } = await execa('sh', ['-c', script, 'sh', root], { env: { LC_ALL: 'C' }, stripFinalNewline: false });
  return stdout;
}

describe('maas-support-info on a real machine tree without tools, not root', () => {
  const tree = () => createHost({ root: m1, run: noTools, isRoot: false, uname: { nodename: 'zoo-m1', machine: 'x86_64' } });

  it('has upstream sections in upstream order, each closed by its END marker', async () => {
    const { stdout, exitCode } = await supportInfoCollector.produce(tree());
    expect(exitCode).toBe(0);
    const expected = ['KERNEL INFO', 'KERNEL COMMAND LINE', 'CPU CORE COUNT AND MODEL', 'PCI INFO', 'USB INFO', 'MODALIASES', 'SERIAL PORTS', 'NETWORK INTERFACES', 'BLOCK DEVICE SUMMARY'];
    expect(titles(stdout)).toEqual(expected);
    for (const title of expected) expect(section(stdout, title)).toBeDefined();
  });

  it('prints the uname -a line the machine itself printed', async () => {
    const { stdout } = await supportInfoCollector.produce(tree());
    expect(section(stdout, 'KERNEL INFO')).toBe(await zooMember('m1', 'zoo/cmd/uname-a.out'));
  });

  it('counts CPU models, modaliases and lists serial ports exactly as upstream pipelines do', async () => {
    const { stdout } = await supportInfoCollector.produce(tree());
    expect(section(stdout, 'KERNEL COMMAND LINE')).toBe(await sh('cat "$1/proc/cmdline"', m1));
    expect(section(stdout, 'CPU CORE COUNT AND MODEL')).toBe(await sh(`grep '^model name' "$1/proc/cpuinfo" | cut -d: -f 2- | sort | uniq -c`, m1));
    expect(section(stdout, 'CPU CORE COUNT AND MODEL')).toMatch(/^\s+8 {2}Intel/);
    expect(section(stdout, 'MODALIASES')).toBe(await sh('find "$1/sys/devices/" -name modalias -print0 | xargs -0 cat | sort | uniq -c', m1));
    expect(section(stdout, 'SERIAL PORTS')).toBe(
      await sh(`find "$1/sys/class/tty/" ! -type d -print0 | xargs -0 readlink -f | sed "s|^$1||" | sort -u | grep -Ev 'devices/virtual|devices/platform'`, m1),
    );
  });

  it('turns each section whose tool is missing into a note naming the tool and its package', async () => {
    const { stdout } = await supportInfoCollector.produce(tree());
    expect(section(stdout, 'PCI INFO')).toBe('(lspci: command not found; install pciutils for this section)\n');
    expect(section(stdout, 'USB INFO')).toMatch(/lsusb: command not found; install usbutils/);
    expect(section(stdout, 'NETWORK INTERFACES')).toMatch(/ip: command not found; install iproute2/);
    expect(section(stdout, 'BLOCK DEVICE SUMMARY')).toMatch(/lsblk: command not found; install util-linux/);
  });

  it('leaves out the root-only sections and says so on stderr', async () => {
    const { stdout, stderr } = await supportInfoCollector.produce(tree());
    expect(stdout).not.toMatch(/DMI|DETAILED BLOCK DEVICE/);
    expect(stderr).toMatch(/not running as root: DETAILED BLOCK DEVICE INFO, DMI DATA and DMI KEYPAIRS are left out/);
  });
});

describe('maas-support-info on this machine', () => {
  it.skipIf(process.getuid?.() !== 0)('adds DETAILED BLOCK DEVICE INFO and DMI KEYPAIRS as root, removing its temporary dump', async () => {
    const tmp = await tempDir('mrs-tmpdir-');
    trees.push(tmp);
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp; // os.tmpdir() follows TMPDIR: the dump must land (and vanish) here
    let report: string;
    try {
      ({ report } = await buildSupportInfo(createHost({ isRoot: true })));
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    expect(titles(report)).toContain('DETAILED BLOCK DEVICE INFO');
    const keypairs = section(report, 'DMI KEYPAIRS') ?? '';
    if (await installed('dmidecode')) {
      expect(keypairs.split('\n').filter(Boolean).map((l) => l.split('=')[0])).toEqual(DMI_KEYWORDS.map(([k]) => k));
      // Either the table was dumped, or upstream's own words for a machine without one.
      expect(section(report, 'DMI DATA') !== undefined || report.includes('Unable to read DMI information.\n')).toBe(true);
    } else {
      expect(keypairs).toMatch(/dmidecode: command not found/);
    }
    expect(await readdir(tmp)).toEqual([]);
  });

  it.skipIf(!hasLspci)('reports PCI devices exactly as `lspci -nn` prints them', async () => {
    const { stdout } = await supportInfoCollector.produce(createHost());
    const { stdout: lspci } = await execa('lspci', ['-nn'], { env: { LC_ALL: 'C' }, stripFinalNewline: false });
    expect(section(stdout, 'PCI INFO')).toBe(lspci);
  });

  it('prints the same uname -a line as the uname command', async () => {
    const { stdout } = await supportInfoCollector.produce(createHost());
    const { stdout: uname } = await execa('uname', ['-a'], { stripFinalNewline: false });
    expect(section(stdout, 'KERNEL INFO')).toBe(uname);
  });
});

describe('DMI sections as root', () => {
  /** Records every command and answers as if none were installed: nothing real must run here. */
  const recording = (ran: string[]): RunCommand => async (file, args) => {
    ran.push([file, ...args].join(' '));
    return noTools(file, args);
  };

  it('does not run dmidecode when the kernel exposes no SMBIOS table (it would scan /dev/mem), and says so', async () => {
    const root = await makeRoot({ 'proc/cmdline': 'quiet\n' });
    const ran: string[] = [];
    const { report, notes } = await buildSupportInfo(createHost({ root, run: recording(ran), isRoot: true }));
    expect(ran.filter((c) => c.startsWith('dmidecode'))).toEqual([]);
    expect(report).toContain('Unable to read DMI information.\n');
    expect(section(report, 'DMI DATA')).toBeUndefined();
    expect((section(report, 'DMI KEYPAIRS') ?? '').split('\n').filter(Boolean)).toEqual(DMI_KEYWORDS.map(([k]) => `${k}=`));
    expect(notes.join('\n')).toMatch(/no SMBIOS table.*\/dev\/mem/);
  });

  it('leaves no dump behind when the run is interrupted while dmidecode writes it', async () => {
    const tmp = await tempDir();
    trees.push(tmp);
    const root = await makeRoot({
      'proc/cmdline': 'quiet\n',
      'sys/firmware/dmi/tables/DMI': 'table',
      // Writes part of the dump, says it started, then hangs like a slow dmidecode.
      'bin/dmidecode': { exec: '#!/bin/sh\nprintf partial > "$2"\necho $$ > "$DUMP_STARTED.tmp" && mv "$DUMP_STARTED.tmp" "$DUMP_STARTED"\nexec sleep 30\n' },
    });
    const started = join(root, 'started');
    const url = (p: string) => JSON.stringify(pathToFileURL(join(PROJECT_ROOT, p)).href);
    const script = [
      `import { buildSupportInfo } from ${url('dist/collectors/support-info.js')};`,
      `import { createHost } from ${url('dist/src/host/host.js')};`,
      `import { createRunCommand } from ${url('dist/src/host/run-command.js')};`,
      `await buildSupportInfo(createHost({ root: ${JSON.stringify(root)}, isRoot: true, run: createRunCommand({ searchPath: [${JSON.stringify(join(root, 'bin'))}] }) }));`,
    ].join('\n');
    const child = execa('node', ['--input-type=module', '-e', script], { env: { TMPDIR: tmp, DUMP_STARTED: started }, reject: false });
    expect(await eventually(async () => (await readdir(root)).includes('started'), 10_000)).toBe(true);
    const dumper = Number((await readFile(started, 'utf8')).trim());
    child.kill('SIGINT');
    const { signal } = await child;
    process.kill(dumper, 'SIGKILL'); // the fake dmidecode runs in its own process group
    expect(signal).toBe('SIGINT');
    expect(await readdir(tmp)).toEqual([]);
  });

  it('keeps its notes in section order, whichever command ends first', async () => {
    const root = await makeRoot({ 'proc/cmdline': 'quiet\n', 'sys/firmware/dmi/tables/DMI': 'table' });
    // The DMI dump ends first, then the detailed lsblk, then the summary's lspci: each waits
    // for the one before it, the reverse of the order their sections come in.
    const ended: Record<string, () => void> = {};
    const endedPromise = (tool: string) => new Promise<void>((resolve) => (ended[tool] = resolve));
    const after: Record<string, Promise<void> | undefined> = { dmidecode: undefined, lsblk: endedPromise('dmidecode'), lspci: endedPromise('lsblk') };
    const run: RunCommand = async (file, args) => {
      if (!(file in after) || (file === 'lsblk' && !args.includes('-P')) || (file === 'dmidecode' && !args.includes('--dump-bin'))) return noTools(file, args);
      await after[file];
      ended[file]?.();
      const command = [file, ...args].join(' ');
      return { command, exitCode: 1, stdout: '', stderr: `${file} complains\n`, timedOut: false, notFound: false, failed: true };
    };
    const { notes } = await buildSupportInfo(createHost({ root, run, isRoot: true }));
    const where = (tool: string) => notes.findIndex((n) => n.startsWith(tool) && n.endsWith(`${tool} complains`));
    expect(where('lspci')).toBeGreaterThanOrEqual(0);
    expect(where('lspci')).toBeLessThan(where('lsblk'));
    expect(where('lsblk')).toBeLessThan(where('dmidecode'));
  });

  it('dumps the table with dmidecode when the kernel exposes it', async () => {
    const root = await makeRoot({ 'proc/cmdline': 'quiet\n', 'sys/firmware/dmi/tables/DMI': 'table' });
    const ran: string[] = [];
    await buildSupportInfo(createHost({ root, run: recording(ran), isRoot: true }));
    expect(ran.some((c) => c.startsWith('dmidecode --dump-bin'))).toBe(true);
  });
});

describe('DETAILED BLOCK DEVICE INFO as root', () => {
  it('describes the devices lsblk would list, read from sysfs, with lsblk started only for its pairs', async () => {
    const disk = 'sys/devices/pci0000:00/0000:00:04.0/virtio1/block/vda';
    const root = await makeRoot({
      'proc/cmdline': 'quiet\n',
      [`${disk}/dev`]: '254:0\n',
      [`${disk}/size`]: '2048\n',
      [`${disk}/vda1/dev`]: '254:1\n',
      [`${disk}/vda1/size`]: '1024\n',
      [`${disk}/vda1/partition`]: '1\n',
      'sys/block/vda': link(`/${disk}`),
      'sys/block/loop0': link('/sys/devices/virtual/block/loop0'),
      'sys/devices/virtual/block/loop0/dev': '7:0\n',
      'sys/dev/block/254:0': link(`/${disk}`),
      'sys/dev/block/254:1': link(`/${disk}/vda1`),
      'sys/class/block/vda': link(`/${disk}`),
      'sys/class/block/vda1': link(`/${disk}/vda1`),
      'dev/vda': '',
      'dev/vda1': '',
    });
    const ran: string[] = [];
    const run: RunCommand = async (file, args) => {
      ran.push([file, ...args].join(' '));
      if (file !== 'lsblk' || !args.includes('-P')) return noTools(file, args);
      const stdout = 'NAME="vda" MAJ:MIN="254:0" RM="0" SIZE="1M" RO="0" TYPE="disk" MOUNTPOINTS=""\n';
      return { command: ran.at(-1)!, exitCode: 0, stdout, stderr: '', timedOut: false, notFound: false, failed: false };
    };
    const { report } = await buildSupportInfo(createHost({ root, run, isRoot: true }));
    const detailed = section(report, 'DETAILED BLOCK DEVICE INFO') ?? '';
    expect([...detailed.matchAll(/^(\S+):$/gm)].map((m) => m[1])).toEqual(['vda', 'vda1']);
    expect(detailed).toContain('vda1:\n');
    expect(detailed).toMatch(/vda1:\n[\s\S]*size64: 524288\n/);
    expect(ran.filter((c) => c.startsWith('lsblk')).sort()).toEqual(['lsblk', 'lsblk --exclude 1,2,7 -d -P -x MAJ:MIN']);
  });
});

describe('cloud-config-url on the kernel command line', () => {
  it('is noted but never fetched', async () => {
    let requests = 0;
    const server = createServer((_req, res) => {
      requests += 1;
      res.end('token_secret: abcdefghijklmnop\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cloud-config`;
      const root = await makeRoot({ 'proc/cmdline': `ro quiet cloud-config-url=${url}\n` });
      const { report } = await buildSupportInfo(createHost({ root, run: noTools, isRoot: false }));
      expect(section(report, 'CLOUD CONFIG QUERY')).toMatch(/not fetched/);
      expect(report).not.toContain('abcdefghijklmnop');
      expect(requests).toBe(0);
    } finally {
      server.close();
    }
  });
});

describe('pure helpers', () => {
  it('wraps base64 at 76 columns like coreutils base64', async () => {
    const bytes = Buffer.from(Array.from({ length: 301 }, (_, i) => (i * 37) % 256));
    const { stdout } = await execa('base64', [], { input: bytes, stripFinalNewline: false });
    expect(base64Lines(bytes)).toBe(stdout);
  });

  it('finds the kernel release and build string in /proc/version', () => {
    const text = 'Linux version 6.8.0-45-generic (buildd@lcy02-amd64-115) (x86_64-linux-gnu-gcc-13 (Ubuntu 13.2.0-23ubuntu4) 13.2.0, GNU ld (GNU Binutils for Ubuntu) 2.42) #45-Ubuntu SMP PREEMPT_DYNAMIC Fri Aug 30 12:02:04 UTC 2024\n';
    expect(parseProcVersion(text)).toEqual({ release: '6.8.0-45-generic', version: '#45-Ubuntu SMP PREEMPT_DYNAMIC Fri Aug 30 12:02:04 UTC 2024' });
    expect(parseProcVersion('garbage')).toEqual({ release: undefined, version: undefined });
  });

  it('gives an empty CPU section on machines whose cpuinfo has no "model name" (e.g. some arm64)', () => {
    expect(cpuModelCounts('processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n')).toBe('');
  });

  it('finds the cloud-config-url among kernel parameters', () => {
    expect(cloudConfigUrl('ro cloud-config-url=http://10.0.0.2:5248/MAAS/metadata/latest/enlist-preseed/?op=get_enlist_preseed quiet')).toBe(
      'http://10.0.0.2:5248/MAAS/metadata/latest/enlist-preseed/?op=get_enlist_preseed',
    );
    expect(cloudConfigUrl('ro quiet')).toBeUndefined();
  });

  it('separates sections by one blank line and keeps empty bodies empty', () => {
    expect(formatSections([{ title: 'A', body: 'x' }, { title: 'B', body: '' }])).toBe('-----BEGIN A-----\nx\n-----END A-----\n\n-----BEGIN B-----\n-----END B-----\n');
  });
});

describe('mapLimit', () => {
  it('never has more than the limit in flight and keeps the input order', async () => {
    let inFlight = 0;
    let most = 0;
    const gates: (() => void)[] = [];
    const running = mapLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise<void>((resolve) => gates.push(resolve));
      inFlight -= 1;
      return n * 10;
    });
    // Release the waiting calls one by one until all have run.
    while (gates.length > 0 || inFlight > 0) {
      await new Promise((r) => setImmediate(r));
      gates.shift()?.();
    }
    expect(await running).toEqual([10, 20, 30, 40, 50, 60, 70]);
    expect(most).toBe(3);
  });
});
