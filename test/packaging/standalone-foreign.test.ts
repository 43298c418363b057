// The standalone executable for the other architecture (arm64 on an x64 host), built from the
// official Node binary of that architecture, run under qemu-user as a host of that architecture
// would run it, with no node on PATH. Under qemu-user the program sees that architecture (uname)
// but this host's /proc and /sys: the tests check that the executable works, not hardware that
// is not there. Where the emulator or that Node binary cannot be had, they are reported as
// skipped, with the reason.
import { chmodSync, readFileSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureBundle,
  ensureStandalone,
  envWithoutNode,
  FOREIGN_ARCH,
  FOREIGN_STANDALONE,
  foreignRunner,
  hostCpuCount,
  isolatedDir,
  PACKAGE_VERSION,
  readMachineAsAdmin,
  registerThenReport,
  removeDirs,
  startServe,
  stopServe,
  systemIdOf,
} from './packaging-helpers.js';

// What uname says under the emulator, and what MAAS calls that architecture.
const UNAME = FOREIGN_ARCH === 'arm64' ? 'aarch64' : 'x86_64';
const MAAS_ARCH = FOREIGN_ARCH === 'arm64' ? 'arm64/generic' : 'amd64/generic';

const runner = foreignRunner();
const skipReason = 'skip' in runner ? runner.skip : undefined;
if (skipReason) console.log(`note: the linux-${FOREIGN_ARCH} standalone tests are skipped: ${skipReason}`);

describe(`the linux-${FOREIGN_ARCH} standalone executable under qemu-user`, () => {
  const dirs: string[] = [];
  const serves: ResultPromise[] = [];
  afterEach(async () => {
    for (const child of serves.splice(0)) await stopServe(child);
    removeDirs(dirs);
  });
  beforeAll(() => {
    if (!skipReason) ensureBundle();
  });

  // Runs `exe args` the way a host of that architecture would, through the emulator.
  function emulated(exe: string, args: string[], options: { cwd: string; env: Record<string, string> }) {
    if ('skip' in runner) throw new Error(runner.skip);
    return execa(runner.command, [...runner.prefix, exe, ...args], { ...options, extendEnv: false, reject: false, stdin: 'ignore', timeout: 200_000 });
  }

  it.skipIf(skipReason !== undefined)('prints its version and collects, as that architecture, with no node on PATH', { timeout: 240_000 }, async () => {
    const dir = isolatedDir('foreign', dirs);
    const exe = join(dir, basename(FOREIGN_STANDALONE));
    copyFileSync(FOREIGN_STANDALONE, exe);
    const env = envWithoutNode(isolatedDir('path', dirs));

    const version = await emulated(exe, ['--version'], { cwd: dir, env });
    expect([version.exitCode, version.stdout.trim()]).toEqual([0, PACKAGE_VERSION]);
    const collected = await emulated(exe, ['collect'], { cwd: dir, env });
    expect(collected.exitCode, collected.stderr).toBe(0);
    const document = JSON.parse(collected.stdout) as { environment: { kernel_architecture: string }; resources: { cpu: { total: number } } };
    expect(document.environment.kernel_architecture).toBe(UNAME);
    expect(document.resources.cpu.total).toBe(hostCpuCount());
  });

  it.skipIf(skipReason !== undefined)('is offered by serve beside this host’s own, and the download registers and reports under the emulator', { timeout: 300_000 }, async () => {
    const native = ensureStandalone();
    const serverDir = isolatedDir('serve', dirs);
    const cli = join(serverDir, 'maas-run-scripts');
    copyFileSync(ensureBundle(), cli);
    copyFileSync(native, join(serverDir, basename(native)));
    copyFileSync(FOREIGN_STANDALONE, join(serverDir, basename(FOREIGN_STANDALONE)));
    const server = startServe(cli, serverDir);
    serves.push(server.child);
    const { url, adminKey } = await server.ready;

    // Both architectures are there; this host's own as built.
    const own = await fetch(`${url}/${basename(native)}`, { method: 'HEAD' });
    expect([own.status, own.headers.get('content-length')]).toEqual([200, String(statSync(native).size)]);
    const response = await fetch(`${url}/${basename(FOREIGN_STANDALONE)}`);
    expect(response.status).toBe(200);
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.equals(readFileSync(FOREIGN_STANDALONE))).toBe(true);

    const hostDir = isolatedDir('host', dirs);
    const exe = join(hostDir, basename(FOREIGN_STANDALONE));
    writeFileSync(exe, body);
    chmodSync(exe, 0o755);
    const options = { cwd: hostDir, env: envWithoutNode(isolatedDir('path', dirs)) };
    const { creds } = await registerThenReport((args) => emulated(exe, args, options), url, adminKey, hostDir);

    const machine = await readMachineAsAdmin(url, adminKey, systemIdOf(creds));
    expect(machine.status_name).toBe('Deployed');
    expect(machine.architecture).toBe(MAAS_ARCH);
    expect(machine.cpu_count).toBe(hostCpuCount());
  });
});
