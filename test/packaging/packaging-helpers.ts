// Shared by the packaging tests: the single-file CLI and the standalone executable, isolated temp
// directories, clean environments for running them (with and without Node on PATH), `serve` as a
// subprocess, and what this host's kernel says about its CPUs and memory.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { delimiter, dirname, join, parse } from 'node:path';
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import { expect } from 'vitest';
import { MaasClient } from '../../src/maas/client.js';
import { parseCredentials } from '../../src/maas/credentials.js';
import type { MachineJson } from '../../src/maas/types.js';
import { PROJECT_ROOT } from '../helpers/cli.js';

/** The version in package.json: what every built form of the tool must print for --version. */
export const PACKAGE_VERSION = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** The single-file CLI `npm run build` writes. */
export const BUNDLE = join(PROJECT_ROOT, 'build', 'maas-run-scripts');

/** Builds the single file when it is missing (npm test builds it first; a lone vitest run may not). */
export function ensureBundle(): string {
  if (!existsSync(BUNDLE)) {
    const built = spawnSync(process.execPath, ['scripts/build-bundle.mjs'], { cwd: PROJECT_ROOT, encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`building the single file failed: ${built.stderr}`);
  }
  return BUNDLE;
}

/** The standalone executable (Node inside) `npm run build` writes for this host's architecture. */
export const STANDALONE = join(PROJECT_ROOT, 'build', `maas-run-scripts-linux-${process.arch}`);

/**
 * Builds the standalone executable when it is missing (npm test's build makes it; the build
 * script does nothing when it is up to date), and fails with the build's reason when it cannot be.
 */
export function ensureStandalone(): string {
  if (!existsSync(STANDALONE)) {
    const built = spawnSync(process.execPath, ['scripts/build-standalone.mjs'], { cwd: PROJECT_ROOT, encoding: 'utf8' });
    if (built.status !== 0 || !existsSync(STANDALONE)) throw new Error(`building the standalone executable failed: ${built.stdout}${built.stderr}`);
  }
  return STANDALONE;
}

/** The architecture of the other standalone executable `npm run build` makes (x64 ↔ arm64). */
export const FOREIGN_ARCH = process.arch === 'arm64' ? 'x64' : 'arm64';

/** The standalone executable for FOREIGN_ARCH, built from the official Node binary of that architecture. */
export const FOREIGN_STANDALONE = join(PROJECT_ROOT, 'build', `maas-run-scripts-linux-${FOREIGN_ARCH}`);

/**
 * How to run FOREIGN_STANDALONE here: qemu-user with that architecture's C libraries (Debian's
 * qemu-user-static and libc6/libstdc++6 cross packages, which .ci/run installs). Else the
 * reason it cannot be run, for a test to report as skipped: neither the download of that Node
 * binary nor an emulator can be had everywhere.
 */
export function foreignRunner(): { command: string; prefix: string[] } | { skip: string } {
  const [qemu, sysroot, loader] = FOREIGN_ARCH === 'arm64' ? ['qemu-aarch64-static', '/usr/aarch64-linux-gnu', 'lib/ld-linux-aarch64.so.1'] : ['qemu-x86_64-static', '/usr/x86_64-linux-gnu', 'lib64/ld-linux-x86-64.so.2'];
  if (!existsSync(FOREIGN_STANDALONE)) return { skip: `${FOREIGN_STANDALONE} was not built (npm run build says why: the Node binary for linux-${FOREIGN_ARCH} could not be fetched?)` };
  const found = spawnSync('sh', ['-c', `command -v ${qemu}`], { encoding: 'utf8' });
  if (found.status !== 0) return { skip: `${qemu} is not installed (Debian package qemu-user-static)` };
  if (!existsSync(join(sysroot, loader))) return { skip: `no linux-${FOREIGN_ARCH} C library under ${sysroot} (Debian cross packages of libc6 and libstdc++6)` };
  return { command: found.stdout.trim(), prefix: ['-L', sysroot] };
}

/**
 * A fresh empty directory under the system temp dir, removed by cleanup(). It must sit outside
 * the project and have no node_modules in any parent, so that nothing run from it can find the
 * project's dependencies.
 */
export function isolatedDir(prefix: string, cleanup: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), `mrs-${prefix}-`));
  cleanup.push(dir);
  if (dir.startsWith(PROJECT_ROOT)) throw new Error(`temp dir ${dir} is inside the project`);
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, 'node_modules'))) throw new Error(`${at} has a node_modules directory a run from ${dir} could use`);
    if (at === parse(at).root) break;
  }
  return dir;
}

/** Removes the directories isolatedDir() made. */
export function removeDirs(dirs: string[]): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * The environment for a run of the copied CLI: no NODE_PATH or NODE_OPTIONS, no npm variables,
 * and a PATH with node's own directory but none of the project's node_modules/.bin.
 */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || name === 'NODE_PATH' || name === 'NODE_OPTIONS' || /^npm_/i.test(name)) continue;
    env[name] = value;
  }
  const path = (process.env.PATH ?? '/usr/bin:/bin').split(delimiter).filter((entry) => entry && !entry.includes('node_modules'));
  env.PATH = [dirname(process.execPath), ...path].join(delimiter);
  return { ...env, ...extra };
}

/**
 * cleanEnv() with a PATH on which no `node` can be found, as on a server that never had Node:
 * every PATH directory holding a node binary is replaced by a directory (made under `dir`) of
 * links to all its other programs, so the collectors' tools stay where they were. Throws unless
 * `which node` then fails.
 */
export function envWithoutNode(dir: string): Record<string, string> {
  const env = cleanEnv();
  const nodeFile = realpathSync(process.execPath);
  const isNode = (path: string, name: string) => {
    if (name === 'node' || name === 'nodejs') return true;
    try {
      return realpathSync(path) === nodeFile;
    } catch {
      return false;
    }
  };
  const entries = env.PATH!.split(delimiter).filter(Boolean);
  env.PATH = entries
    .map((entry, index) => {
      let names: string[];
      try {
        names = readdirSync(entry);
      } catch {
        return entry;
      }
      if (!names.some((name) => isNode(join(entry, name), name))) return entry;
      const mirror = join(dir, `path-${index}`);
      mirrorDirectory(entry, names.filter((name) => !isNode(join(entry, name), name)), mirror);
      return mirror;
    })
    .join(delimiter);
  const which = spawnSync('which', ['node'], { env, encoding: 'utf8' });
  if (which.error || which.status === 0) throw new Error(`node is still on the PATH built without it: ${which.stdout || which.error?.message}`);
  return env;
}

function mirrorDirectory(from: string, names: string[], to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of names) symlinkSync(join(from, name), join(to, name));
}

/** A running `serve --port 0` subprocess and what it printed once it listened. */
export interface StartedServe {
  child: ResultPromise;
  ready: Promise<{ url: string; adminKey: string }>;
}

/** Starts `cli serve --port 0` in `cwd` and resolves `ready` with the URL and admin key it prints once it listens. */
export function startServe(cli: string, cwd: string, env: Record<string, string> = cleanEnv()): StartedServe {
  const child = execa(cli, ['serve', '--port', '0'], { cwd, env, extendEnv: false, reject: false, stdin: 'ignore' });
  const ready = new Promise<{ url: string; adminKey: string }>((resolve, reject) => {
    let url: string | undefined;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      url ??= /^MAAS URL: (\S+)$/.exec(line)?.[1];
      const adminKey = /^Admin API key: (\S+:\S+:\S+)$/.exec(line)?.[1];
      if (url && adminKey) resolve({ url, adminKey });
    });
    void child.then((result) => reject(new Error(`serve exited before listening (exit ${result.exitCode}): ${String(result.stderr)}`)));
  });
  return { child, ready };
}

/** `serve --port 0` run, as an operator would, from a copy of the single file `bundle` alone in a new isolated directory. */
export function startServeFromCopy(bundle: string, prefix: string, cleanup: string[]): StartedServe {
  const dir = isolatedDir(prefix, cleanup);
  const cli = join(dir, 'maas-run-scripts');
  copyFileSync(bundle, cli);
  return startServe(cli, dir);
}

/** Stops a serve subprocess (SIGKILL) when it still runs. */
export async function stopServe(child: ResultPromise | undefined): Promise<void> {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await child;
  }
}

/** CPU threads the kernel knows (present ones, online or not), as MAAS counts them. */
export function hostCpuCount(): number {
  let present: string;
  try {
    present = readFileSync('/sys/devices/system/cpu/present', 'utf8').trim();
  } catch {
    return cpus().length;
  }
  let count = 0;
  for (const range of present.split(',')) {
    const [from, to] = range.split('-').map(Number);
    count += to === undefined ? 1 : to - from! + 1;
  }
  return count;
}

/** MemTotal of /proc/meminfo in MiB: the usable memory, a little below the installed memory. */
export function memTotalMib(): number {
  const kib = /^MemTotal:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
  if (kib === undefined) throw new Error('/proc/meminfo has no MemTotal line');
  return Math.floor(Number(kib) / 1024);
}

/**
 * True when `mib` can be this host's installed memory: at least MemTotal (the kernel keeps a part
 * for itself, so MemTotal is the lower bound) and not far above it.
 */
export function isThisHostsMemory(mib: number): boolean {
  const usable = memTotalMib();
  return mib >= usable && mib <= usable * 1.25 + 256;
}

/** The machine as an admin reads it through the API. */
export async function readMachineAsAdmin(maasUrl: string, adminKey: string, systemId: string): Promise<MachineJson> {
  const client = new MaasClient({ baseUrl: maasUrl, credentials: parseCredentials(adminKey, 'admin key') });
  return client.readMachine(systemId);
}

/** The one creds file register-machine wrote into `dir`. */
export function credsFileIn(dir: string): string {
  const names = readdirSync(dir).filter((name) => name.endsWith('-creds.yaml'));
  if (names.length !== 1) throw new Error(`expected one creds file in ${dir}, found ${names.join(', ') || 'none'}`);
  return join(dir, names[0]!);
}

/** The system_id in a creds file's endpoint (…/metadata/status/<id>). */
export function systemIdOf(credsPath: string): string {
  const id = /endpoint: \S*\/metadata\/status\/([^/\s]+)/.exec(readFileSync(credsPath, 'utf8'))?.[1];
  if (!id) throw new Error(`${credsPath} names no machine`);
  return id;
}

/** What a command printed, as execa gives it. */
export interface Printed {
  exitCode?: number | undefined;
  stdout: string;
  stderr: string;
}

/**
 * The operator's flow on one host: `register-machine URL KEY --no-report --dir DIR`, then
 * `report-results --config` with the creds file it wrote, each run by `run` (the CLI as that host
 * runs it). Both must exit 0, the creds file must be mode 0600, and no output may show the
 * admin key's secret. Returns what each printed and the creds file.
 */
export async function registerThenReport(run: (args: string[]) => Promise<Printed>, url: string, adminKey: string, dir: string): Promise<{ registered: Printed; reported: Printed; creds: string }> {
  const registered = await run(['register-machine', url, adminKey, '--no-report', '--dir', dir]);
  expect(registered.exitCode, registered.stderr).toBe(0);
  const creds = credsFileIn(dir);
  expect(statSync(creds).mode & 0o777).toBe(0o600);
  const reported = await run(['report-results', '--config', creds, '--state-dir', join(dir, 'state')]);
  expect(reported.exitCode, reported.stderr).toBe(0);
  const secret = adminKey.split(':')[2]!;
  for (const output of [registered.stdout, registered.stderr, reported.stdout, reported.stderr]) expect(output).not.toContain(secret);
  return { registered, reported, creds };
}
