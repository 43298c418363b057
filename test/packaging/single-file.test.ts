// The single-file CLI (build/maas-run-scripts) copied alone into an empty directory, run there
// as an operator runs it, against the bundled server on 127.0.0.1.
import { copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMaasServer, type RunningServer } from '../../src/server/server.js';
import { PROJECT_ROOT } from '../helpers/cli.js';
import {
  BUNDLE,
  cleanEnv,
  credsFileIn,
  ensureBundle,
  hostCpuCount,
  isolatedDir,
  isThisHostsMemory,
  PACKAGE_VERSION,
  readMachineAsAdmin,
  removeDirs,
  systemIdOf,
} from './packaging-helpers.js';


describe('the single-file CLI', () => {
  const dirs: string[] = [];
  let server: RunningServer | undefined;
  let bundle: string;
  beforeAll(() => {
    bundle = ensureBundle();
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    removeDirs(dirs);
  });

  // Copies the single file alone into a fresh directory and returns its path there.
  function copyAlone(): { dir: string; cli: string } {
    const dir = isolatedDir('single', dirs);
    const cli = join(dir, 'maas-run-scripts');
    copyFileSync(bundle, cli);
    return { dir, cli };
  }

  it('is an executable file with a node shebang', () => {
    expect(readFileSync(bundle, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    expect(statSync(bundle).mode & 0o755).toBe(0o755);
  });

  it('needs no package at run time except the optional SQLite addon', () => {
    const text = readFileSync(bundle, 'utf8');
    // require("x"), and createRequire(url)("x") as the SQLite loader does.
    const required = new Set([...text.matchAll(/(?:\brequire|createRequire\)?\([^()]*\))\(["']([^"'\s]+)["']\)/g)].map((m) => m[1]!));
    const imported = new Set([...text.matchAll(/\bimport\(["']([^"']+)["']\)/g)].map((m) => m[1]!));
    const builtin = (name: string) => name.startsWith('node:') || builtinModules.includes(name.split('/')[0]!) || builtinModules.includes(name);
    expect([...required, ...imported].filter((name) => !builtin(name))).toEqual(['better-sqlite3']);
  });

  it('registers this machine and reports its hardware from an empty directory, with no node_modules in reach', async () => {
    const { dir, cli } = copyAlone();
    expect(readdirSync(dir)).toEqual(['maas-run-scripts']);
    server = await startMaasServer({ host: '127.0.0.1', port: 0 });
    const options = { cwd: dir, env: cleanEnv(), extendEnv: false, reject: false, stdin: 'ignore', timeout: 120_000 } as const;

    const registered = await execa(cli, ['register-machine', server.url, server.adminKey, '--no-report', '--dir', dir], options);
    expect(registered.exitCode, registered.stderr).toBe(0);
    const creds = credsFileIn(dir);
    expect(statSync(creds).mode & 0o777).toBe(0o600);
    const systemId = systemIdOf(creds);

    const reported = await execa(cli, ['report-results', '--config', creds, '--state-dir', join(dir, 'state')], options);
    expect(reported.exitCode, reported.stderr).toBe(0);
    const secret = server.adminKey.split(':')[2]!;
    for (const output of [registered.stdout, registered.stderr, reported.stdout, reported.stderr]) expect(output).not.toContain(secret);

    const machine = await readMachineAsAdmin(server.url, server.adminKey, systemId);
    expect(machine.hostname).toBe(hostname().split('.')[0]);
    expect(machine.status_name).toBe('Deployed');
    expect(machine.cpu_count).toBe(hostCpuCount());
    expect(isThisHostsMemory(machine.memory), `${machine.memory} MiB`).toBe(true);
    expect(server.store.listMachines()).toHaveLength(1);
  });

  it('starts where Node treats an extensionless file as CommonJS without detecting module syntax (Node 20 before 20.19)', async () => {
    const flag = '--no-experimental-detect-module';
    // Newer Node releases may drop the flag; then there is no older loader to imitate here.
    if (!process.allowedNodeEnvironmentFlags.has(flag)) return;
    const { dir, cli } = copyAlone();
    const run = await execa(process.execPath, [flag, cli, '--version'], { cwd: dir, env: cleanEnv(), extendEnv: false, reject: false, stdin: 'ignore' });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe(PACKAGE_VERSION);
  });

  it('refuses a Node.js older than 18.19 in one line naming the release it needs, before doing anything', async () => {
    const { dir, cli } = copyAlone();
    // No old Node.js is installed here: a preloaded module makes this one report 16.20.2, which
    // is all the check reads. (Run by hand on real 10.x to 18.18 builds, the file says the same.)
    const preload = join(dir, 'pretend-node-16.cjs');
    writeFileSync(preload, "Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '16.20.2' } });\n");
    const run = await execa(process.execPath, ['--require', preload, cli, 'register-machine', 'http://127.0.0.1:9/MAAS', 'a:b:c', '--dir', dir], {
      cwd: dir,
      env: cleanEnv(),
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
    });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/needs Node\.js 18\.19 or later, and this is Node\.js 16\.20\.2: install a newer Node\.js/);
    expect(readdirSync(dir).sort()).toEqual(['maas-run-scripts', 'pretend-node-16.cjs']);
  });

  it('runs from inside a directory whose package.json declares ES modules', async () => {
    const { dir, cli } = copyAlone();
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
    const run = await execa(cli, ['--version'], { cwd: dir, env: cleanEnv(), extendEnv: false, reject: false, stdin: 'ignore' });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe(PACKAGE_VERSION);
  });
});

// The server and the YAML library are chunks after the main script (scripts/build-bundle.mjs): the
// bin reads and compiles only the main script, and a run loads a chunk when it needs its code.
describe('the chunks of the single file', () => {
  const MARKER = '\n//# chunks of maas-run-scripts follow (bin/maas-run-scripts reads what is above)\n';
  const dirs: string[] = [];
  let text: string;
  beforeAll(() => {
    text = readFileSync(ensureBundle(), 'utf8');
  });
  afterEach(() => removeDirs(dirs));

  it('keeps the server and the YAML library out of the main script', () => {
    const end = text.lastIndexOf(MARKER);
    expect(end).toBeGreaterThan(0);
    const [main, chunks] = [text.slice(0, end), text.slice(end)];
    // Names esbuild keeps (keepNames): a function of the server, one of the YAML library.
    for (const name of ['"createMaasServer"', '"parseAllDocuments"']) {
      expect(main.includes(name), name).toBe(false);
      expect(chunks.includes(name), name).toBe(true);
    }
    // Every line after the marker is a comment, so Node running the file itself skips them.
    expect(chunks.slice(MARKER.length).split('\n').filter((line) => line !== '' && !line.startsWith('//'))).toEqual([]);
  });

  // The bin (bin/maas-run-scripts) beside a copy of the file whose chunks are replaced by a line
  // that is not JavaScript: nothing after the marker may be compiled, or read as code.
  function binWithMainScriptOnly(): string {
    const dir = isolatedDir('chunks', dirs);
    cpSync(join(PROJECT_ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
    mkdirSync(join(dir, 'build'));
    writeFileSync(join(dir, 'build', 'maas-run-scripts'), `${text.slice(0, text.lastIndexOf(MARKER) + MARKER.length)}this line is not JavaScript\n`, { mode: 0o755 });
    return join(dir, 'bin', 'maas-run-scripts');
  }

  it('runs without its chunks what needs neither, and says in one line what is missing for what does', async () => {
    const bin = binWithMainScriptOnly();
    const options = { env: cleanEnv({ XDG_CACHE_HOME: join(bin, '..', '..', 'cache') }), extendEnv: false, reject: false, stdin: 'ignore', timeout: 60_000 } as const;
    const version = await execa(process.execPath, [bin, '--version'], options);
    expect(version.stdout.trim()).toBe(PACKAGE_VERSION);
    const collected = await execa(process.execPath, [bin, 'collect', '--only', 'resources'], options);
    expect(collected.exitCode, collected.stderr).toBe(0);
    expect(JSON.parse(collected.stdout)).toHaveProperty('resources');
    for (const [args, chunk] of [[['serve', '--port', '0'], 'server'], [['collect', '--format', 'yaml'], 'yaml']] as const) {
      const run = await execa(process.execPath, [bin, ...args], options);
      expect(run.exitCode, args.join(' ')).toBe(1);
      expect(run.stderr.trim().split('\n').at(-1)).toBe(`this copy of maas-run-scripts lacks its ${chunk} code (the file is cut short): copy the whole file again`);
      expect(run.stdout).toBe('');
    }
  });

  it('gives collect --format yaml its YAML code when run whole, through the bin as through Node', async () => {
    const options = { env: cleanEnv(), extendEnv: false, reject: false, stdin: 'ignore', timeout: 60_000 } as const;
    for (const cli of [join(PROJECT_ROOT, 'bin', 'maas-run-scripts'), BUNDLE]) {
      const run = await execa(process.execPath, [cli, 'collect', '--format', 'yaml'], options);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^resources:\n {2}cpu:\n/);
    }
  });
});
