// `maas-lshw`: the hardware tree as `lshw -xml` prints it. Run without root, lshw still works but
// leaves out what only root may read (serial numbers, some firmware data): we say so on stderr.
// Without the kernel's SMBIOS table, lshw's DMI scan reads physical memory through /dev/mem: it is
// disabled then, as dmidecode is not run (dmi.ts), and the output has no DMI-derived strings.
import type { Host } from '../src/host/host.js';
import { TIMEOUT_EXIT_STATUS } from '../src/host/run-command.js';
import { SMBIOS_TABLE } from './dmi.js';
import type { DeployInfoCollector, DeployInfoOutput } from './types.js';

/** Exit code for "the tool is not installed", as a shell reports it. */
export const EXIT_NOT_FOUND = 127;

/** Runs `lshw -xml` and turns a missing tool or a failure into a clear, non-zero output. */
export async function runLshw(host: Host, timeoutMs: number): Promise<DeployInfoOutput> {
  const noSmbios = !(await host.exists(SMBIOS_TABLE));
  const result = await host.run('lshw', noSmbios ? ['-xml', '-disable', 'dmi'] : ['-xml'], { timeoutMs });
  if (result.notFound) {
    const why = result.stderr.trim() || 'lshw: command not found';
    return { stdout: '', stderr: `lshw is not available (${why}): install the lshw package to report the hardware tree\n`, exitCode: EXIT_NOT_FOUND };
  }
  const notes: string[] = [];
  if (!host.isRoot) notes.push('not running as root: lshw output is partial (serial numbers and some firmware data need root)');
  if (noSmbios) notes.push(`the kernel exposes no SMBIOS table (${SMBIOS_TABLE}): lshw's DMI scan is disabled, as it would read physical memory through /dev/mem`);
  if (result.timedOut) notes.push(`lshw did not finish within ${Math.round(timeoutMs / 1000)} s and was stopped`);
  else if (result.exitCode !== 0) notes.push(`${result.command} exited with status ${result.exitCode ?? 'unknown'}`);
  const stderr = [result.stderr.trimEnd(), ...notes].filter(Boolean).map((line) => `${line}\n`).join('');
  const exitCode = result.timedOut ? TIMEOUT_EXIT_STATUS : (result.exitCode ?? 1);
  return { stdout: result.stdout, stderr, exitCode };
}

/** Answers `maas-lshw`. Upstream allows it 5 minutes; a healthy lshw takes seconds. */
export const lshwCollector: DeployInfoCollector = {
  name: 'lshw',
  scripts: ['maas-lshw'],
  timeoutMs: 180_000,
  startFirst: true, // the slowest collector, and all of it is lshw's own run
  produce: (host) => runLshw(host, 170_000),
};
