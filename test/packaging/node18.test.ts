// The single file on the oldest Node.js it supports: the official 18.19.1 build (what Ubuntu 24.04
// ships) first on PATH, the file copied alone into an empty directory outside the project. The
// server it talks to runs on the project's own Node; only the client side runs on 18.
//
// The Node 18 build is fetched once into a per-user cache (scripts/fetch-node.mjs). Where it
// cannot be had (no registry, another system or processor), these tests are skipped with the
// reason, never passed.
import { copyFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/cli.js';
import {
  cleanEnv,
  ensureBundle,
  hostCpuCount,
  isolatedDir,
  isThisHostsMemory,
  PACKAGE_VERSION,
  readMachineAsAdmin,
  registerThenReport,
  removeDirs,
  startServeFromCopy,
  systemIdOf,
} from './packaging-helpers.js';

const NODE18 = '18.19.1';

describe(`the single file on Node.js ${NODE18}`, () => {
  const dirs: string[] = [];
  let bundle: string;
  let node18: string | undefined;
  let unavailable = '';
  let serve: ResultPromise | undefined;

  beforeAll(async () => {
    bundle = ensureBundle();
    // With the npm settings of this run (registry, cache), unlike the runs of the file below.
    const fetched = await execa(process.execPath, ['scripts/fetch-node.mjs', NODE18], { cwd: PROJECT_ROOT, reject: false, stdin: 'ignore', timeout: 900_000 });
    if (fetched.exitCode === 0) node18 = fetched.stdout.trim();
    else if (fetched.exitCode === 2) {
      unavailable = fetched.stderr.trim();
      console.warn(`skipping the Node.js ${NODE18} tests: ${unavailable}`);
    } else throw new Error(`fetching Node.js ${NODE18} failed: ${fetched.stderr.trim()}`);
  }, 960_000);

  afterEach(async () => {
    if (serve && serve.exitCode === null) {
      serve.kill('SIGKILL');
      await serve;
    }
    serve = undefined;
    removeDirs(dirs);
  });

  // The file alone in a fresh directory, and an environment whose `node` is Node 18.
  function onNode18(): { dir: string; cli: string; options: { cwd: string; env: Record<string, string>; extendEnv: false; reject: false; stdin: 'ignore'; timeout: number } } {
    const dir = isolatedDir('node18', dirs);
    const cli = join(dir, 'maas-run-scripts');
    copyFileSync(bundle, cli);
    const env = cleanEnv();
    env.PATH = [dirname(node18!), env.PATH].join(delimiter);
    return { dir, cli, options: { cwd: dir, env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 120_000 } };
  }

  it('runs through its shebang with Node 18 first on PATH and prints its version, without warnings', async ({ skip }) => {
    skip(!node18, unavailable);
    const { cli, options } = onNode18();
    const which = await execa('node', ['--version'], options);
    expect(which.stdout.trim()).toBe(`v${NODE18}`);
    const run = await execa(cli, ['--version'], options);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe(PACKAGE_VERSION);
    expect(run.stderr).toBe('');
  });

  it('registers this machine and reports its hardware to `serve --port 0`: the server shows its CPUs and memory', async ({ skip }) => {
    skip(!node18, unavailable);
    // The server: the same file, run by the project's Node.
    const started = startServeFromCopy(bundle, 'node18-serve', dirs);
    serve = started.child;
    const { url, adminKey } = await started.ready;

    const { dir, cli, options } = onNode18();
    const { registered, reported, creds } = await registerThenReport((args) => execa(cli, args, options), url, adminKey, dir);
    expect(reported.stdout).toMatch(/done: 6 delivered/);
    for (const output of [registered.stdout, registered.stderr, reported.stdout, reported.stderr]) expect(output).not.toMatch(/ExperimentalWarning|DeprecationWarning/);

    const machine = await readMachineAsAdmin(url, adminKey, systemIdOf(creds));
    expect(machine.hostname).toBe(hostname().split('.')[0]);
    expect(machine.status_name).toBe('Deployed');
    expect(machine.cpu_count).toBe(hostCpuCount());
    expect(isThisHostsMemory(machine.memory), `${machine.memory} MiB`).toBe(true);
  });

  it('collects the machine-resources document of this host', async ({ skip }) => {
    skip(!node18, unavailable);
    const { cli, options } = onNode18();
    const run = await execa(cli, ['collect'], options);
    expect(run.exitCode, run.stderr).toBe(0);
    const document = JSON.parse(run.stdout) as { resources: { cpu: { total: number }; memory: { total: number } } };
    expect(document.resources.cpu.total).toBe(hostCpuCount());
    expect(isThisHostsMemory(Math.floor(document.resources.memory.total / 1024 / 1024)), `${document.resources.memory.total} bytes`).toBe(true);
  });
});
