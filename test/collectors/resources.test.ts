// The whole machine-resources document: on this machine (MAAS's acceptance preconditions,
// docs/protocol.md §7.1, and the machine the bundled server makes of it), as the collector's
// output, and on edge trees.
import { networkInterfaces, totalmem, cpus } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectMachineResources, resourcesCollector } from '../../collectors/resources.js';
import { createHost } from '../../src/host/host.js';
import { API_EXTENSIONS, REQUIRED_API_EXTENSIONS, type MachineResources } from '../../src/resources/types.js';
import { cannedCommands, makeRoot, noCommands } from '../helpers/make-root.js';
import { createDeployed, readMachine, signal, startHarness, type Harness } from '../server/server-harness.js';
import { EDGE_COMMANDS, edgeMachine } from './edge-machine.js';

const MAAS_ARCHITECTURES = ['x86_64', 'i686', 'aarch64', 'ppc64le', 's390x', 'mips', 'mips64'];

type Check = [path: string, value: unknown, type: 'string' | 'number' | 'boolean' | 'object' | 'array' | 'nullable-object'];

/** Every field MAAS reads without a default (docs/protocol.md §6.4), with its JSON type. */
function requiredFields(doc: MachineResources): Check[] {
  const r = doc.resources;
  const checks: Check[] = [
    ['api_version', doc.api_version, 'string'],
    ['environment.kernel_architecture', doc.environment.kernel_architecture, 'string'],
    ['resources.cpu.total', r.cpu.total, 'number'],
    ['resources.memory.total', r.memory.total, 'number'],
  ];
  for (const s of r.cpu.sockets ?? []) for (const c of s.cores) for (const t of c.threads) checks.push([`thread ${t.id}.id`, t.id, 'number'], [`thread ${t.id}.numa_node`, t.numa_node, 'number']);
  for (const n of r.memory.nodes ?? []) checks.push([`memory node.numa_node`, n.numa_node, 'number']);
  for (const c of r.network.cards ?? []) for (const p of c.ports ?? []) checks.push([`port ${p.id}.id`, p.id, 'string'], [`port ${p.id}.link_detected`, p.link_detected, 'boolean']);
  for (const d of r.storage.disks ?? []) {
    for (const key of ['id', 'type'] as const) checks.push([`disk ${d.id}.${key}`, d[key], 'string']);
    for (const key of ['read_only', 'removable'] as const) checks.push([`disk ${d.id}.${key}`, d[key], 'boolean']);
    for (const key of ['rpm', 'numa_node', 'size'] as const) checks.push([`disk ${d.id}.${key}`, d[key], 'number']);
  }
  for (const u of r.usb.devices ?? []) checks.push(['usb.bus_address', u.bus_address, 'number'], ['usb.device_address', u.device_address, 'number'], ['usb.vendor_id', u.vendor_id, 'string'], ['usb.product_id', u.product_id, 'string']);
  for (const p of r.pci.devices ?? []) checks.push([`pci ${p.pci_address}`, p.pci_address, 'string'], ['pci.vendor_id', p.vendor_id, 'string'], ['pci.product_id', p.product_id, 'string']);
  for (const [name, n] of Object.entries(doc.networks)) {
    checks.push([`${name}.addresses`, n.addresses, 'array'], [`${name}.hwaddr`, n.hwaddr, 'string'], [`${name}.state`, n.state, 'string'], [`${name}.type`, n.type, 'string']);
    for (const key of ['bond', 'bridge', 'vlan'] as const) checks.push([`${name}.${key}`, n[key], 'nullable-object']);
    for (const a of n.addresses) for (const key of ['address', 'netmask', 'scope'] as const) checks.push([`${name} address.${key}`, a[key], 'string']);
  }
  return checks;
}

function typeOf(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  return value === null ? 'null' : typeof value;
}

function expectAcceptable(doc: MachineResources): void {
  expect(doc.api_version).toBe('1.0');
  expect(doc.api_extensions).toEqual(expect.arrayContaining([...REQUIRED_API_EXTENSIONS]));
  expect(MAAS_ARCHITECTURES).toContain(doc.environment.kernel_architecture);
  for (const [path, value, type] of requiredFields(doc)) {
    const actual = typeOf(value);
    if (type === 'nullable-object') expect(['null', 'object'], path).toContain(actual);
    else expect(actual, path).toBe(type);
  }
}

describe('the resources document of this machine', () => {
  let doc: MachineResources;
  let stdout: string;
  beforeAll(async () => {
    const output = await resourcesCollector.produce(createHost());
    expect(output.exitCode).toBe(0);
    stdout = output.stdout;
    doc = JSON.parse(stdout) as MachineResources;
  });

  it('passes MAAS’s acceptance preconditions: version, extensions, a mappable architecture, every required field', () => {
    expectAcceptable(doc);
  });

  it('is printed as Go does: 4-space indentation, one trailing newline, fields in declaration order', () => {
    expect(stdout.endsWith('}\n') && !stdout.endsWith('\n\n')).toBe(true);
    expect(stdout.split('\n')[1]).toBe('    "resources": {');
    expect(Object.keys(doc)).toEqual(['resources', 'networks', 'environment', 'api_version', 'api_extensions']);
    expect(Object.keys(doc.resources)).toEqual(['cpu', 'memory', 'gpu', 'network', 'storage', 'usb', 'pci', 'system']);
    expect(doc.api_extensions).toEqual([...API_EXTENSIONS]);
  });

  it('agrees with the kernel on CPUs, memory and the first NIC’s MAC', () => {
    expect(doc.resources.cpu.total).toBeGreaterThanOrEqual(cpus().length);
    // MemTotal excludes what the kernel reserved; the block count includes it.
    expect(doc.resources.memory.total).toBeGreaterThanOrEqual(totalmem());
    expect(doc.resources.memory.total).toBeLessThan(totalmem() * 1.25);
    for (const [name, addresses] of Object.entries(networkInterfaces())) {
      const mac = addresses?.[0]?.mac;
      if (!mac || mac === '00:00:00:00:00:00') continue;
      expect(doc.networks[name]?.hwaddr, name).toBe(mac);
    }
  });
});

describe('the resources document posted to the bundled server', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('memory');
  });
  afterAll(() => h.stop());

  it('gives a deployed machine this host’s CPU count, memory, disks and NICs with MACs and addresses', async () => {
    const output = await resourcesCollector.produce(createHost());
    const doc = JSON.parse(output.stdout) as MachineResources;
    const { systemId, token } = await createDeployed(h, { hostname: 'this-host' });
    const response = await signal(h, token, '50-maas-01-commissioning', { stdout: output.stdout, stderr: output.stderr });
    expect(response.status).toBe(200);
    const machine = await readMachine(h, systemId);

    expect(machine.cpu_count).toBe(doc.resources.cpu.total);
    expect(machine.memory).toBe(Math.floor(doc.resources.memory.total / 1024 ** 2));
    const bigDisks = (doc.resources.storage.disks ?? []).filter((d) => !d.read_only && d.size > 4 * 1024 ** 2 && d.type !== 'cdrom');
    expect(machine.physicalblockdevice_set.map((d) => d.name).sort()).toEqual(bigDisks.map((d) => d.id).sort());
    for (const disk of bigDisks) expect(machine.physicalblockdevice_set.find((d) => d.name === disk.id)?.size).toBe(disk.size);

    for (const port of (doc.resources.network.cards ?? []).flatMap((c) => c.ports ?? [])) {
      const iface = machine.interface_set.find((i) => i.name === port.id);
      expect(iface, port.id).toBeDefined();
      expect(iface!.mac_address).toBe(port.address);
      const global = (doc.networks[port.id]?.addresses ?? []).filter((a) => a.scope === 'global').map((a) => a.address);
      expect(iface!.links.map((l) => l.ip_address).sort()).toEqual(global.sort());
    }
  });
});

describe('collectMachineResources on hand-built trees', () => {
  it('produces an acceptable document for the edge machine and lists nothing as partial as root', async () => {
    const host = createHost({ root: await makeRoot(edgeMachine()), run: cannedCommands({ ...EDGE_COMMANDS, 'systemd-detect-virt': 'none\n' }), isRoot: true, uname: { machine: 'x86_64' } });
    const { document, warnings } = await collectMachineResources(host);
    expectAcceptable(document);
    expect(warnings.filter((w) => !w.startsWith('cpu: offline'))).toEqual([]);
  });

  it('marks the data partial when not root, leaving root-only strings empty', async () => {
    const output = await resourcesCollector.produce(createHost({ root: await makeRoot(edgeMachine()), run: noCommands, isRoot: false }));
    expect(output.exitCode).toBe(0);
    const doc = JSON.parse(output.stdout) as MachineResources;
    expect(doc.resources.system.serial).toBe('');
    expect(doc.resources.system.uuid).toBe('');
    expect(output.stderr).toMatch(/not running as root.*partial/);
  });

  it('keeps the warnings of every area, one line each, in the order of the areas', async () => {
    const tree = edgeMachine();
    for (const key of Object.keys(tree)) if (key.startsWith('run/udev/data/')) delete tree[key];
    const output = await resourcesCollector.produce(createHost({ root: await makeRoot(tree), run: noCommands, isRoot: false }));
    expect(output.exitCode).toBe(0);
    const areas = output.stderr.trim().split('\n').map((line) => line.slice(0, line.indexOf(':')));
    expect(areas).toEqual(['cpu', 'storage', 'system', 'networks']);
  });

  it('fails with one line naming the area when a required source is missing', async () => {
    const tree = edgeMachine();
    delete tree['proc/meminfo'];
    const output = await resourcesCollector.produce(createHost({ root: await makeRoot(tree), run: noCommands }));
    expect(output.exitCode).toBe(1);
    expect(output.stdout).toBe('');
    expect(output.stderr).toMatch(/^ERROR: .*memory information.*\/proc\/meminfo.*\n$/);
    expect(output.stderr.trim().split('\n')).toHaveLength(1);
  });
});
