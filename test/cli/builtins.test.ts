// Which of Node's own modules a command loads. Each one costs start-up CPU (a millisecond or more
// for node:crypto or node:zlib), so a command must not load one it does not use: collect makes its
// temporary file names without node:crypto, report-results loads node:zlib only for a
// gzip-compressed tarball (MAAS sends plain tar), and neither loads node:perf_hooks to read a clock.
// The built CLI runs as a subprocess with a preloaded script that writes, as the process exits,
// the builtins it loaded.
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/server.js';
import type { MaasClient } from '../../src/maas/client.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { deployedMachine, FAST_RETRIES, startCliServer, stopCliServer } from '../helpers/cli-server.js';
import { startFakeMaas } from '../helpers/fake-maas.js';

// The variable naming the file to write. The preloaded script removes it from the environment, so
// the commands and scripts the CLI starts (a node one would preload it too) write nothing.
const LIST_FILE_ENV = 'BUILTINS_LIST_FILE';
const HOOK = `'use strict';
const file = process.env.${LIST_FILE_ENV};
delete process.env.${LIST_FILE_ENV};
if (file) {
  process.on('exit', () => {
    const loaded = process.moduleLoadList.filter((entry) => entry.startsWith('NativeModule ')).map((entry) => entry.slice('NativeModule '.length));
    require('node:fs').writeFileSync(file, loaded.join('\\n') + '\\n');
  });
}
`;

let server: RunningServer;
let admin: MaasClient;
let work: string;
let hook: string;
let runs = 0;

beforeAll(async () => {
  ({ server, admin, work } = await startCliServer('builtins-'));
  hook = join(work, 'list-builtins.cjs');
  await writeFile(hook, HOOK);
});
afterAll(() => stopCliServer(server, work));

/**
 * Runs the CLI with the preloaded script; returns the run, the public builtins it loaded, and
 * those of them it loaded after node:v8, with which the bin changes V8's flags.
 */
async function runListing(args: string[], env: Record<string, string> = {}): Promise<{ run: CliRun; builtins: string[]; afterFlags: string[] }> {
  const list = join(work, `builtins-${++runs}.txt`);
  const run = await runCli(args, { env: { ...env, NODE_OPTIONS: `--require "${hook}"`, [LIST_FILE_ENV]: list } });
  const loaded = (await readFile(list, 'utf8')).split('\n').filter((name) => name !== '');
  const isPublic = (name: string) => !name.startsWith('internal/');
  const builtins = loaded.filter(isPublic);
  // The list is real: every command runs through node:fs.
  expect(builtins).toContain('fs');
  const v8 = loaded.indexOf('v8');
  return { run, builtins, afterFlags: v8 < 0 ? [] : loaded.slice(v8 + 1).filter(isPublic) };
}

describe('the builtins a command loads', () => {
  // Node's own modules come with compiled code that V8 takes only under the flags it was made with;
  // the bin turns the optimising compiler off (loading node:v8 to do so) before the single file
  // runs, so a module first loaded after that is compiled from its source, at several times the
  // CPU. The bin loads first what these commands use (bin/maas-run-scripts, builtinsOf).
  it('collect and report-results load every builtin they use before V8\'s flags change', async () => {
    const out = await mkdtemp(join(work, 'output-'));
    const machine = await deployedMachine(admin, work, server.url);
    for (const args of [
      ['collect', '--only', 'resources'],
      ['collect', '--output', out],
      ['report-results', '--config', machine.creds, '--state-dir', machine.stateDir],
    ]) {
      const { run, builtins, afterFlags } = await runListing(args, FAST_RETRIES);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(builtins, args.join(' ')).toContain('v8');
      expect(afterFlags, args.join(' ')).toEqual([]);
    }
  });

  it('collect --only resources prints the document without loading crypto, zlib or perf_hooks', async () => {
    const { run, builtins } = await runListing(['collect', '--only', 'resources']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toHaveProperty('resources');
    expect(builtins).toContain('child_process');
    expect(builtins).not.toContain('crypto');
    expect(builtins).not.toContain('zlib');
    expect(builtins).not.toContain('perf_hooks');
  });

  it('collect --output writes its files atomically without node:crypto, and leaves no temporary file', async () => {
    const out = await mkdtemp(join(work, 'output-'));
    const { run, builtins } = await runListing(['collect', '--only', 'resources', '--output', out]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(builtins).not.toContain('crypto');
    const written = run.stdout.trim().split('\n').map((path) => basename(path));
    expect(written).toContain('20-maas-03-machine-resources.out');
    expect((await readdir(out)).sort()).toEqual([...written].sort());
    expect(JSON.parse(await readFile(join(out, '20-maas-03-machine-resources.out'), 'utf8'))).toHaveProperty('resources');
  });

  it('report-results reports everything against the server, which sends plain tar, without loading zlib', async () => {
    const machine = await deployedMachine(admin, work, server.url);
    const { run, builtins } = await runListing(['report-results', '--config', machine.creds, '--state-dir', machine.stateDir], FAST_RETRIES);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/done: 6 delivered/);
    // Signing requests and hashing results need it.
    expect(builtins).toContain('crypto');
    expect(builtins).not.toContain('zlib');
    expect(builtins).not.toContain('perf_hooks');
  });

  it('report-results loads zlib when the tarball is gzip-compressed, and reads it', async () => {
    const proxy = await startFakeMaas({ forwardTo: new URL(server.url).origin });
    try {
      proxy.rewrite('maas-scripts', (tar) => gzipSync(tar));
      const machine = await deployedMachine(admin, work, proxy.origin);
      const { run, builtins } = await runListing(['report-results', '--config', machine.creds, '--state-dir', machine.stateDir], FAST_RETRIES);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/done: 6 delivered/);
      expect(builtins).toContain('zlib');
    } finally {
      await proxy.close();
    }
  });
});
