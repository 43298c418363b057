// Renders a machine as MAAS sees it, as a short readable summary for a terminal.
import type { MachineJson } from '../maas/types.js';

/** One screen about a machine: identity, status, CPU, memory, disks, NICs and the creds file. */
export function formatMachineSummary(machine: MachineJson, credsPath?: string): string {
  const lines: string[] = [];
  const cpuModel = machine.hardware_info?.cpu_model;
  lines.push(`Machine ${machine.hostname} (system_id ${machine.system_id})`);
  lines.push(`  status:   ${machine.status_name}${machine.locked ? ' (locked)' : ''}${machine.owner ? `, owner ${machine.owner}` : ''}`);
  lines.push(`  arch/os:  ${machine.architecture || 'unknown'}${machine.osystem ? `, ${machine.osystem} ${machine.distro_series}` : ''}`);
  lines.push(
    `  CPU:      ${machine.cpu_count} thread${machine.cpu_count === 1 ? '' : 's'}` +
      (machine.cpu_speed ? ` at ${machine.cpu_speed} MHz` : '') +
      (cpuModel && cpuModel !== 'Unknown' ? ` (${cpuModel})` : ''),
  );
  lines.push(`  memory:   ${formatMiB(machine.memory)}`);
  const numa = machine.numanode_set ?? [];
  if (numa.length > 1) lines.push(`  NUMA:     ${numa.map((n) => `node ${n.index}: ${n.cores.length} cpus, ${formatMiB(n.memory)}`).join('; ')}`);
  const disks = machine.physicalblockdevice_set ?? [];
  lines.push(`  disks:    ${disks.length === 0 ? 'none reported' : ''}`.trimEnd());
  for (const d of disks) {
    const tags = d.tags.length ? ` [${d.tags.join(', ')}]` : '';
    lines.push(`    ${d.name.padEnd(10)} ${formatBytes(d.size).padStart(10)}  ${[d.model, d.serial].filter(Boolean).join(' ')}${tags}`);
  }
  const nics = machine.interface_set ?? [];
  lines.push(`  NICs:     ${nics.length === 0 ? 'none reported' : ''}`.trimEnd());
  for (const nic of nics) {
    const addresses = nic.links.map((l) => l.ip_address).filter(Boolean);
    const kind = nic.type === 'physical' ? '' : ` ${nic.type}${nic.parents.length ? ` of ${nic.parents.join('+')}` : ''}`;
    lines.push(`    ${nic.name.padEnd(10)} ${nic.mac_address}${kind}${addresses.length ? `  ${addresses.join(', ')}` : ''}`);
  }
  if (credsPath) lines.push(`  creds:    ${credsPath}`);
  return `${lines.join('\n')}\n`;
}

/** "2.0 GiB" style text for a MiB count. */
export function formatMiB(mib: number): string {
  return mib >= 1024 ? `${(mib / 1024).toFixed(1)} GiB` : `${mib} MiB`;
}

/** "500.1 GB" style text (decimal units, as disk vendors and MAAS's UI use). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
