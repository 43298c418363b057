// `maas-support-info`: the plain-text support report upstream's script prints, section by
// section between "-----BEGIN X-----" and "-----END X-----" markers. Differences, on purpose:
// - a section whose tool is missing holds a one-line note instead of vanishing;
// - the CPU section is closed by an END marker (upstream repeats BEGIN, a typo nothing parses);
// - CLOUD CONFIG QUERY is never fetched: upstream curls the `cloud-config-url` of the kernel
//   command line, which on a running machine means a network request on the operator's behalf
//   that may return secrets; we only say that such a URL exists;
// - DETAILED BLOCK DEVICE INFO (root only) takes sizes from sysfs instead of `blockdev`,
//   because opening a device node can wake a sleeping or removable drive; `bsz` is "?" as
//   upstream prints when blockdev fails; its list of devices is read from sysfs in the order
//   upstream's `lsblk -n --exclude 1,2,7 --output KNAME` prints them, without running that lsblk.
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir, version as kernelVersion } from 'node:os';
import { join } from 'node:path';
import type { Host } from '../src/host/host.js';
import type { CommandResult } from '../src/host/run-command.js';
import { onInterrupt } from '../src/host/interrupt.js';
import type { DeployInfoCollector } from './types.js';
import { SMBIOS_TABLE } from './dmi.js';
import { dmiKeypairs, parseDmidecode } from './dmidecode.js';
import { lsblkKernelNames } from './lib/block-names.js';
import { byteOrder, formatCounts, readModaliases } from './list-modaliases.js';
import { isPhysicalPort, readSerialPorts } from './serial-ports.js';

/** One report section: its title and body text (already newline-terminated, or empty). */
export interface Section {
  title: string;
  body: string;
}

/** The package that provides each tool, for the "not installed" notes. */
const PACKAGE_OF: Record<string, string> = { lspci: 'pciutils', lsusb: 'usbutils', ip: 'iproute2', lsblk: 'util-linux', dmidecode: 'dmidecode', udevadm: 'udev' };

const COMMAND_TIMEOUT_MS = 60_000;

/** Block device majors upstream leaves out: RAM disks, floppies, loop devices. */
const EXCLUDED_MAJORS = [1, 2, 7];

/** Renders sections as upstream does: markers around each body, a blank line between sections. */
export function formatSections(sections: readonly Section[]): string {
  return sections.map(({ title, body }) => `-----BEGIN ${title}-----\n${withNewline(body)}-----END ${title}-----\n`).join('\n');
}

function withNewline(text: string): string {
  return text === '' || text.endsWith('\n') ? text : `${text}\n`;
}

/** `uname -a` from its parts (GNU coreutils leaves out the "unknown" processor/platform fields). */
export function formatUnameA(u: { sysname: string; nodename: string; release: string; version?: string; machine: string }): string {
  return [u.sysname, u.nodename, u.release, u.version, u.machine, 'GNU/Linux'].filter((p) => p !== undefined && p !== '').join(' ');
}

/** The kernel release and build string ("#1 SMP PREEMPT_DYNAMIC ...") from /proc/version text. Pure. */
export function parseProcVersion(text: string): { release?: string; version?: string } {
  const line = text.trim();
  return { release: /^\S+ version (\S+)/.exec(line)?.[1], version: /\) (#\d+\S* .*)$/.exec(line)?.[1] };
}

/** `grep '^model name' /proc/cpuinfo | cut -d: -f2- | sort | uniq -c`, from cpuinfo text. Pure. */
export function cpuModelCounts(cpuinfo: string): string {
  const models = cpuinfo
    .split('\n')
    .filter((line) => line.startsWith('model name'))
    .map((line) => line.slice(line.indexOf(':') + 1));
  return formatCounts(models);
}

/** The `cloud-config-url=` value of a kernel command line, if any. Pure. */
export function cloudConfigUrl(cmdline: string): string | undefined {
  for (const word of cmdline.split(/\s+/)) {
    if (word.includes('cloud-config-url') && word.includes('http')) return word.slice(word.indexOf('http'));
  }
  return undefined;
}

/** Encodes bytes as `base64` prints them: 76 columns per line. */
export function base64Lines(bytes: Uint8Array): string {
  const text = Buffer.from(bytes).toString('base64');
  let out = '';
  for (let i = 0; i < text.length; i += 76) out += `${text.slice(i, i + 76)}\n`;
  return out;
}

/** A command's section body: its stdout, or a note when it is missing or failed. */
function commandBody(result: CommandResult, notes: string[]): string {
  if (result.notFound) {
    const tool = result.command.split(' ')[0]!;
    const pkg = PACKAGE_OF[tool];
    const why = result.stderr.trim() || `${tool}: command not found`;
    const hint = pkg && why.endsWith('command not found') ? `; install ${pkg} for this section` : '';
    return `(${why}${hint})\n`;
  }
  if (result.stderr.trim()) notes.push(...result.stderr.trimEnd().split('\n').map((l) => `${result.command}: ${l}`));
  if (result.timedOut) return `(${result.command} did not finish in time)\n`;
  return result.stdout;
}

async function kernelInfo(host: Host): Promise<string> {
  const u = await host.uname();
  if (host.root === '/') return `${formatUnameA({ ...u, version: kernelVersion() })}\n`;
  // A captured tree may lack /proc/sys/kernel; /proc/version carries the same two strings.
  const proc = parseProcVersion((await host.readOptional('/proc/version')) ?? '');
  const version = (await host.readOptional('/proc/sys/kernel/version')) ?? proc.version;
  return `${formatUnameA({ ...u, release: u.release || (proc.release ?? ''), version })}\n`;
}

/** DETAILED BLOCK DEVICE INFO: lsblk pairs, each device's udev data and size, /dev/disk links. */
async function detailedBlockDevices(host: Host, notes: string[]): Promise<string> {
  const run = (args: string[]) => host.run('lsblk', args, { timeoutMs: COMMAND_TIMEOUT_MS });
  // Excluding ramdisks (1), floppies (2) and loop devices (7), as upstream does. Upstream takes
  // the device list from a second `lsblk -n --exclude 1,2,7 --output KNAME`; the same names come
  // from sysfs (see block-names.ts), which spares starting one more command.
  const [pairs, devices] = await Promise.all([run(['--exclude', '1,2,7', '-d', '-P', '-x', 'MAJ:MIN']), lsblkKernelNames(host, EXCLUDED_MAJORS)]);
  if (pairs.notFound) return commandBody(pairs, notes);
  let out = `${withNewline(commandBody(pairs, notes))}\n`;
  // A storage server may have hundreds of devices: a few udevadm at a time, not hundreds at once.
  const parts = await mapLimit(
    devices,
    4,
    async (dev) => {
      if (!(await host.exists(`/dev/${dev}`))) return `${dev} device node not found, skipping\n`;
      const [udev, sectors] = await Promise.all([
        host.run('udevadm', ['info', '-q', 'all', '-n', dev], { timeoutMs: COMMAND_TIMEOUT_MS }),
        host.readOptional(`/sys/class/block/${dev}/size`),
      ]);
      // sysfs counts 512-byte sectors whatever the device's own block size.
      const size64 = sectors !== undefined && /^\d+$/.test(sectors) ? String(BigInt(sectors) * 512n) : '?';
      return `${dev}:\n${withNewline(commandBody(udev, notes))}\n    size64: ${size64}\n       bsz: ?\n`;
    },
  );
  out += parts.join('');
  out += '\n';
  out += await diskLinks(host);
  return out;
}

/** Maps `items` through `fn` with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The /dev/disk symlinks as "link -> target", sorted by target like upstream's `sort -k2`. */
async function diskLinks(host: Host): Promise<string> {
  if (!(await host.isDirectory('/dev/disk'))) return '';
  const kinds = await host.list('/dev/disk');
  const links = (
    await Promise.all(
      kinds.map(async (kind) =>
        Promise.all(
          (await host.list(`/dev/disk/${kind}`)).map(async (name) => {
            const path = `/dev/disk/${kind}/${name}`;
            const target = await host.readLink(path);
            return target === undefined ? undefined : { path, target };
          }),
        ),
      ),
    )
  )
    .flat()
    .filter((l): l is { path: string; target: string } => l !== undefined);
  links.sort((a, b) => byteOrder(`-> ${a.target}`, `-> ${b.target}`) || byteOrder(a.path, b.path));
  return links.map((l) => `${l.path} -> ${l.target}\n`).join('');
}

/** DMI DATA and DMI KEYPAIRS: the raw SMBIOS table (base64) and the strings upstream lists. */
async function dmiSections(host: Host, notes: string[]): Promise<{ prefix: string; sections: Section[] }> {
  if (!(await host.exists(SMBIOS_TABLE))) {
    // Without the kernel's copy of the table dmidecode scans physical memory through /dev/mem.
    notes.push(`the kernel exposes no SMBIOS table (${SMBIOS_TABLE}): dmidecode is not run, as it would scan physical memory through /dev/mem`);
    return { prefix: 'Unable to read DMI information.\n\n', sections: [{ title: 'DMI KEYPAIRS', body: dmiKeypairs([]).map(([k, v]) => `${k}=${v}\n`).join('') }] };
  }
  const dir = await mkdtemp(join(tmpdir(), 'maas-run-scripts-dmi-'));
  // Ctrl-C or SIGTERM mid-dump ends the process before `finally`: the dump must not stay behind.
  const forget = onInterrupt(() => rmSync(dir, { recursive: true, force: true }));
  try {
    const file = join(dir, 'dmi.bin');
    const dump = await host.run('dmidecode', ['--dump-bin', file], { timeoutMs: COMMAND_TIMEOUT_MS });
    if (dump.notFound) {
      const note = commandBody(dump, notes);
      return { prefix: '', sections: [{ title: 'DMI DATA', body: note }, { title: 'DMI KEYPAIRS', body: note }] };
    }
    const sections: Section[] = [];
    let prefix = '';
    let bytes: Buffer | undefined;
    if (!dump.failed) bytes = await readFile(file).catch(() => undefined);
    if (bytes && bytes.length > 0) sections.push({ title: 'DMI DATA', body: base64Lines(bytes) });
    else {
      prefix = 'Unable to read DMI information.\n\n';
      if (dump.stderr.trim()) notes.push(...dump.stderr.trimEnd().split('\n').map((l) => `${dump.command}: ${l}`));
    }
    let records: ReturnType<typeof parseDmidecode> = [];
    if (bytes && bytes.length > 0) {
      const decoded = await host.run('dmidecode', ['--from-dump', file], { timeoutMs: COMMAND_TIMEOUT_MS });
      if (!decoded.failed) records = parseDmidecode(decoded.stdout);
    }
    sections.push({ title: 'DMI KEYPAIRS', body: dmiKeypairs(records).map(([k, v]) => `${k}=${v}\n`).join('') });
    return { prefix, sections };
  } finally {
    await rm(dir, { recursive: true, force: true });
    forget();
  }
}

/** Builds the whole report; commands run concurrently, sections come out in upstream's order. */
export async function buildSupportInfo(host: Host): Promise<{ report: string; notes: string[] }> {
  const notes: string[] = [];
  const run = (file: string, args: string[] = []) => host.run(file, args, { timeoutMs: COMMAND_TIMEOUT_MS });
  // The root-only sections start with the others; each keeps its own notes, so the notes come
  // out in section order whichever command ends first.
  const detailedNotes: string[] = [];
  const dmiNotes: string[] = [];
  const rootOnly = host.isRoot ? Promise.all([detailedBlockDevices(host, detailedNotes), dmiSections(host, dmiNotes)]) : undefined;
  rootOnly?.catch(() => {}); // awaited below; if the other sections fail first, its failure is moot
  const [uname, cmdline, cpuinfo, lspci, lsusb, modaliases, ports, links, lsblk] = await Promise.all([
    kernelInfo(host),
    host.readText('/proc/cmdline'),
    host.readText('/proc/cpuinfo'),
    run('lspci', ['-nn']),
    run('lsusb'),
    readModaliases(host),
    readSerialPorts(host),
    run('ip', ['-o', 'link']),
    run('lsblk'),
  ]);
  const sections: Section[] = [
    { title: 'KERNEL INFO', body: uname },
    { title: 'KERNEL COMMAND LINE', body: cmdline ?? '(/proc/cmdline is not readable)\n' },
  ];
  if (cmdline !== undefined && cloudConfigUrl(cmdline)) {
    sections.push({ title: 'CLOUD CONFIG QUERY', body: '(not fetched: maas-run-scripts does not contact the cloud-config-url of the kernel command line)\n' });
  }
  sections.push(
    { title: 'CPU CORE COUNT AND MODEL', body: cpuModelCounts(cpuinfo ?? '') },
    { title: 'PCI INFO', body: commandBody(lspci, notes) },
    // lsusb exits 1 when the machine has no USB bus: an empty section, not a failure.
    { title: 'USB INFO', body: commandBody(lsusb, notes) },
    { title: 'MODALIASES', body: formatCounts(modaliases) },
    { title: 'SERIAL PORTS', body: ports.filter(isPhysicalPort).map((p) => `${p}\n`).join('') },
    { title: 'NETWORK INTERFACES', body: commandBody(links, notes) },
    { title: 'BLOCK DEVICE SUMMARY', body: commandBody(lsblk, notes) },
  );
  let report = formatSections(sections);
  if (!rootOnly) {
    notes.push('not running as root: DETAILED BLOCK DEVICE INFO, DMI DATA and DMI KEYPAIRS are left out');
    return { report, notes };
  }
  const [detailed, dmi] = await rootOnly;
  notes.push(...detailedNotes, ...dmiNotes);
  report += `\n${formatSections([{ title: 'DETAILED BLOCK DEVICE INFO', body: detailed }])}`;
  report += `\n${dmi.prefix}`;
  report += dmi.sections.map((s) => formatSections([s])).join('\n');
  return { report, notes };
}

/** Answers `maas-support-info`; like upstream it always exits 0, with notes on stderr. */
export const supportInfoCollector: DeployInfoCollector = {
  name: 'support-info',
  scripts: ['maas-support-info'],
  timeoutMs: 120_000,
  produce: async (host) => {
    const { report, notes } = await buildSupportInfo(host);
    return { stdout: report, stderr: notes.map((n) => `${n}\n`).join(''), exitCode: 0 };
  },
};
