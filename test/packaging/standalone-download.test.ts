// The standalone executable as an operator gets it: `serve` offers it at
// /MAAS/maas-run-scripts-linux-<arch>; a host with no Node downloads it, makes it executable,
// registers and reports itself, and the server then shows that host's hardware, the same as a
// registration made with the single file under Node.
import { chmodSync, copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MachineJson } from '../../src/maas/types.js';
import {
  cleanEnv,
  credsFileIn,
  ensureBundle,
  ensureStandalone,
  envWithoutNode,
  FOREIGN_ARCH,
  hostCpuCount,
  isolatedDir,
  isThisHostsMemory,
  PACKAGE_VERSION,
  readMachineAsAdmin,
  registerThenReport,
  removeDirs,
  startServe,
  stopServe,
  systemIdOf,
} from './packaging-helpers.js';


// The hardware MAAS derived from a machine's reports, without what differs between two
// registrations of the same host (ids, names, times, addresses handed out).
function hardwareOf(machine: MachineJson) {
  return {
    architecture: machine.architecture,
    cpu_count: machine.cpu_count,
    cpu_speed: machine.cpu_speed,
    memory: machine.memory,
    storage: machine.storage,
    hardware_uuid: machine.hardware_uuid,
    hardware_info: machine.hardware_info,
    disks: machine.physicalblockdevice_set.map((disk) => [disk.name, disk.size, disk.model, disk.serial]),
    interfaces: machine.interface_set.map((nic) => [nic.name, nic.type, nic.mac_address]),
    numa: machine.numanode_set.map((node) => [node.index, node.cores, node.memory]),
    tags: [...machine.tag_names].sort(),
  };
}

describe('serving and downloading the standalone executable', () => {
  const dirs: string[] = [];
  const serves: ResultPromise[] = [];
  let standalone: string;
  let bundle: string;
  let name: string;
  beforeAll(() => {
    standalone = ensureStandalone();
    bundle = ensureBundle();
    name = basename(standalone);
  });
  afterEach(async () => {
    for (const child of serves.splice(0)) await stopServe(child);
    removeDirs(dirs);
  });

  it('a host without Node downloads it from serve run as the standalone, registers and reports, and MAAS shows the same hardware as from the single file', { timeout: 240_000 }, async () => {
    const noNode = envWithoutNode(isolatedDir('path', dirs));

    // The server: the standalone alone in a directory, started with no node on PATH.
    const serverDir = isolatedDir('serve', dirs);
    const served = join(serverDir, name);
    copyFileSync(standalone, served);
    const server = startServe(served, serverDir, noNode);
    serves.push(server.child);
    const { url, adminKey } = await server.ready;

    // wget http://HOST:PORT/MAAS/maas-run-scripts-linux-<arch> && chmod 755 …
    const response = await fetch(`${url}/${name}`);
    expect([response.status, response.headers.get('content-type')]).toEqual([200, 'application/octet-stream']);
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.equals(readFileSync(standalone))).toBe(true);
    const hostDir = isolatedDir('host', dirs);
    const exe = join(hostDir, name);
    writeFileSync(exe, body);
    chmodSync(exe, 0o755);
    const options = { cwd: hostDir, env: noNode, extendEnv: false, reject: false, stdin: 'ignore', timeout: 120_000 } as const;

    expect((await execa(exe, ['--version'], options)).stdout.trim()).toBe(PACKAGE_VERSION);
    const { creds } = await registerThenReport((args) => execa(exe, args, options), url, adminKey, hostDir);

    const machine = await readMachineAsAdmin(url, adminKey, systemIdOf(creds));
    expect(machine.hostname).toBe(hostname().split('.')[0]);
    expect(machine.status_name).toBe('Deployed');
    expect(machine.cpu_count).toBe(hostCpuCount());
    expect(isThisHostsMemory(machine.memory), `${machine.memory} MiB`).toBe(true);
    expect(machine.interface_set.length).toBeGreaterThan(0);

    // The same host registered with the single file under Node, on a server of its own.
    const nodeServerDir = isolatedDir('serve-node', dirs);
    const nodeServed = join(nodeServerDir, 'maas-run-scripts');
    copyFileSync(bundle, nodeServed);
    const nodeServer = startServe(nodeServed, nodeServerDir);
    serves.push(nodeServer.child);
    const viaNode = await nodeServer.ready;
    const nodeHostDir = isolatedDir('host-node', dirs);
    const cli = join(nodeHostDir, 'maas-run-scripts');
    writeFileSync(cli, Buffer.from(await (await fetch(`${viaNode.url}/maas-run-scripts`)).arrayBuffer()));
    chmodSync(cli, 0o755);
    const nodeOptions = { ...options, cwd: nodeHostDir, env: cleanEnv() };
    const nodeRegistered = await execa(cli, ['register-machine', viaNode.url, viaNode.adminKey, '--dir', nodeHostDir, '--state-dir', join(nodeHostDir, 'state')], nodeOptions);
    expect(nodeRegistered.exitCode, nodeRegistered.stderr).toBe(0);
    const nodeMachine = await readMachineAsAdmin(viaNode.url, viaNode.adminKey, systemIdOf(credsFileIn(nodeHostDir)));
    expect(hardwareOf(machine)).toEqual(hardwareOf(nodeMachine));

    server.child.kill('SIGTERM');
    expect((await server.child).exitCode).toBe(0);
  });

  it('serve run as the standalone offers itself and says where the single file is not', async () => {
    const serverDir = isolatedDir('serve', dirs);
    const served = join(serverDir, name);
    copyFileSync(standalone, served);
    const server = startServe(served, serverDir, envWithoutNode(isolatedDir('path', dirs)));
    serves.push(server.child);
    const { url } = await server.ready;

    const head = await fetch(`${url}/${name}`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length')]).toEqual([200, String(statSync(standalone).size)]);
    const single = await fetch(`${url}/maas-run-scripts`);
    expect(single.status).toBe(404);
    expect(await single.text()).toContain(`/MAAS/${name}`);

    // With the single file put beside it, that is served too.
    copyFileSync(bundle, join(serverDir, 'maas-run-scripts'));
    const nowThere = await fetch(`${url}/maas-run-scripts`);
    expect(nowThere.status).toBe(200);
    expect(Buffer.from(await nowThere.arrayBuffer()).equals(readFileSync(bundle))).toBe(true);
  });

  it('installed under the single file’s name, the standalone offers itself only as the standalone', async () => {
    const serverDir = isolatedDir('serve', dirs);
    const installed = join(serverDir, 'maas-run-scripts');
    copyFileSync(standalone, installed);
    const server = startServe(installed, serverDir, envWithoutNode(isolatedDir('path', dirs)));
    serves.push(server.child);
    const { url } = await server.ready;

    const own = await fetch(`${url}/${name}`);
    expect(own.status).toBe(200);
    expect(Buffer.from(await own.arrayBuffer()).equals(readFileSync(standalone))).toBe(true);
    const single = await fetch(`${url}/maas-run-scripts`);
    expect(single.status).toBe(404);
    expect(await single.text()).toContain('runs as the standalone executable');
  });

  it('serve run from the single file offers the standalone beside it; other names are 404 with what there is', async () => {
    const serverDir = isolatedDir('serve', dirs);
    const cli = join(serverDir, 'maas-run-scripts');
    copyFileSync(bundle, cli);
    copyFileSync(standalone, join(serverDir, name));
    const server = startServe(cli, serverDir);
    serves.push(server.child);
    const { url } = await server.ready;

    const download = await fetch(`${url}/${name}`);
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(readFileSync(standalone))).toBe(true);
    expect(Buffer.from(await (await fetch(`${url}/maas-run-scripts`)).arrayBuffer()).equals(readFileSync(bundle))).toBe(true);

    const unknown = await fetch(`${url}/maas-run-scripts-linux-mips`);
    expect(unknown.status).toBe(404);
    const unknownText = await unknown.text();
    expect(unknownText).toContain('linux-mips');
    expect(unknownText).toContain(`/MAAS/${name}`);
    const notBuilt = await fetch(`${url}/maas-run-scripts-linux-${FOREIGN_ARCH}`);
    expect(notBuilt.status).toBe(404);
    expect(await notBuilt.text()).toContain(`maas-run-scripts-linux-${FOREIGN_ARCH} has not been built on this server`);
    const post = await fetch(`${url}/${name}`, { method: 'POST' });
    expect(post.status).toBe(405);
  });
});
