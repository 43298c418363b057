// The scripts a server sends, read in-process: the index (which entries run, which names are
// refused) and the comparison of a spooled result with the copy MAAS keeps in the tarball.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ParseError } from '../../src/errors.js';
import type { SignalFields } from '../../src/maas/types.js';
import { Deliverer } from '../../src/runner/delivery.js';
import type { RunSummary } from '../../src/runner/progress.js';
import { runPaths, type RunPaths } from '../../src/runner/run-script.js';
import { alreadyStored, isPlainFileName, loadScripts, readIndex } from '../../src/runner/scripts.js';
import { scriptFilesIn, type ScriptFiles } from '../../src/runner/signal-files.js';
import { openMachineState, type MachineState, type SpooledSignal } from '../../src/runner/spool.js';
import { openSyncState } from '../../src/runner/sync-state.js';
import { deployedMachine, machineClient, recordingProgress, useRunnerHarness, type RunnerHarness, type TestMachine } from './runner-harness.js';

let base: string;
let paths: RunPaths;
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'scripts-test-'));
  paths = runPaths(base);
  await mkdir(join(paths.scripts, 'out'), { recursive: true });
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const entry = (name: unknown, tags: unknown = ['deploy-info']) => ({ name, tags, script_result_id: 7 });

async function indexOf(content: unknown): Promise<ScriptFiles> {
  await writeFile(join(paths.scripts, 'index.json'), typeof content === 'string' ? content : JSON.stringify(content));
  return scriptFilesIn(paths.scripts);
}

/** What `read` throws (undefined when it returns). */
function thrownBy(read: () => unknown): unknown {
  try {
    read();
  } catch (error) {
    return error;
  }
  return undefined;
}

const SOURCE = 'cannot parse index.json of the maas-scripts tarball';

describe('readIndex', () => {
  it('runs only the commissioning scripts tagged deploy-info, in index order, custom ones included', async () => {
    const path = await indexOf({
      '1.0': {
        commissioning_scripts: [entry('maas-lshw'), entry('maas-capture-lldpd', ['network']), entry('my-inventory', ['deploy-info', 'custom']), entry('untagged', [])],
        testing_scripts: [entry('smartctl-validate')],
      },
    });
    expect((readIndex(path)).map((e) => e.name)).toEqual(['maas-lshw', 'my-inventory']);
  });

  it('passes over entries without a name or a list of tags, and reads the rest', async () => {
    const warnings: string[] = [];
    const path = await indexOf({ '1.0': { commissioning_scripts: [entry(7), entry('no-tags', 'deploy-info'), null, 'maas-lshw', entry('maas-lshw')] } });
    expect((readIndex(path, (line) => warnings.push(line))).map((e) => e.name)).toEqual(['maas-lshw']);
    expect(warnings).toEqual([]);
  });

  it('skips, with a warning naming it, a script whose name would name files outside the run directory', async () => {
    const warnings: string[] = [];
    const names = ['../../../../tmp/x', 'a/b', '..', '.', '', 'nul\0byte'];
    const path = await indexOf({ '1.0': { commissioning_scripts: [...names.map((n) => entry(n)), entry('maas-lshw')] } });
    expect((readIndex(path, (line) => warnings.push(line))).map((e) => e.name)).toEqual(['maas-lshw']);
    expect(warnings).toEqual(
      names.map((n) => `script ${JSON.stringify(n)} skipped: its name is not a plain file name, and it would name files outside the run directory`),
    );
  });

  it('warns about nothing without a listener', async () => {
    const path = await indexOf({ '1.0': { commissioning_scripts: [entry('../x'), entry('ok')] } });
    expect((readIndex(path)).map((e) => e.name)).toEqual(['ok']);
  });

  it('takes an index with no scripts at all as empty', async () => {
    expect(readIndex(await indexOf({ '1.0': { commissioning_scripts: [] } }))).toEqual([]);
  });

  it('refuses an index whose every entry is malformed, saying how many there were', async () => {
    const path = await indexOf({ '1.0': { commissioning_scripts: [{ name: 'x' }, 'maas-lshw', null] } });
    const error = thrownBy(() => readIndex(path));
    expect(error).toBeInstanceOf(ParseError);
    expect((error as Error).message).toBe(`${SOURCE}: none of its 3 entries has a name and a list of tags`);
  });

  it.each([
    ['no 1.0 section', { '2.0': { commissioning_scripts: [] } }],
    ['no commissioning scripts', { '1.0': { testing_scripts: [] } }],
    ['commissioning scripts that are no list', { '1.0': { commissioning_scripts: { 'maas-lshw': {} } } }],
    ['null', null],
  ])('refuses an index with %s', async (_what, content) => {
    const files = await indexOf(content);
    const error = thrownBy(() => readIndex(files));
    expect(error).toBeInstanceOf(ParseError);
    expect((error as Error).message).toBe(`${SOURCE}: no "1.0" → "commissioning_scripts" list`);
  });

  it('refuses an index that is not JSON, or is missing, as a parse error naming it', async () => {
    const files = await indexOf('{"1.0": ');
    const bad = thrownBy(() => readIndex(files));
    expect(bad).toBeInstanceOf(ParseError);
    expect((bad as Error).message).toMatch(new RegExp(`^${SOURCE}: .*JSON`));
    const missing = thrownBy(() => readIndex(scriptFilesIn(join(base, 'absent'))));
    expect(missing).toBeInstanceOf(ParseError);
    expect((missing as Error).message).toBe(`${SOURCE}: the tarball has no index.json`);
  });
});

describe('isPlainFileName', () => {
  it.each(['maas-lshw', '.hidden', '..double', 'a.b', 'with space'])('takes %j as one file name', (name) => {
    expect(isPlainFileName(name)).toBe(true);
  });

  it.each(['', '.', '..', '../x', 'a/b', '/abs', 'x\0y'])('refuses %j', (name) => {
    expect(isPlainFileName(name)).toBe(false);
  });
});

describe('alreadyStored', () => {
  const fields = (id: number | undefined): SignalFields => ({ status: 'WORKING', name: 'maas-lshw', script_result_id: id, exit_status: 0, runtime: 1 }) as SignalFields;
  const signal = (id: number | undefined, files: { name: string; content: string }[]): SpooledSignal => ({
    fields: fields(id),
    files: files.map((f) => ({ name: f.name, content: Buffer.from(f.content) })),
    createdAt: new Date(0).toISOString(),
    sequence: 1,
    path: join(base, 'spooled.json'),
    inFlight: true,
  });
  const keep = (name: string, content: string) => writeFile(join(paths.scripts, 'out', name), content);
  const files = [
    { name: 'maas-lshw.out', content: '<list/>\n' },
    { name: 'maas-lshw.err', content: '' },
    { name: 'maas-lshw', content: '<list/>\n' },
  ];

  it('is true when MAAS keeps every file of the result byte for byte', async () => {
    await Promise.all([keep('maas-lshw.11.out', '<list/>\n'), keep('maas-lshw.11.err', ''), keep('maas-lshw.11', '<list/>\n')]);
    expect(alreadyStored(signal(11, files), scriptFilesIn(paths.scripts))).toBe(true);
  });

  it('is false when one file differs, is missing, or belongs to another result id', async () => {
    await Promise.all([keep('maas-lshw.11.out', '<list/>\n'), keep('maas-lshw.11.err', 'warning\n'), keep('maas-lshw.11', '<list/>\n')]);
    expect(alreadyStored(signal(11, files), scriptFilesIn(paths.scripts))).toBe(false);
    await keep('maas-lshw.11.err', '');
    expect(alreadyStored(signal(12, files), scriptFilesIn(paths.scripts))).toBe(false);
    expect(alreadyStored(signal(11, [...files, { name: 'maas-lshw.yaml', content: 'x: 1\n' }]), scriptFilesIn(paths.scripts))).toBe(false);
  });

  it('is false for a result without files, without a result id, or with a file that is not one of its own', async () => {
    await Promise.all([keep('maas-lshw.11.out', '<list/>\n'), keep('maas-lshw.11.err', ''), keep('maas-lshw.11', '<list/>\n'), keep('other.11', '')]);
    expect(alreadyStored(signal(11, []), scriptFilesIn(paths.scripts))).toBe(false);
    expect(alreadyStored(signal(undefined, files), scriptFilesIn(paths.scripts))).toBe(false);
    expect(alreadyStored(signal(11, [...files, { name: 'other', content: '' }]), scriptFilesIn(paths.scripts))).toBe(false);
  });
});

describe('loadScripts against the bundled server', () => {
  let h: RunnerHarness;
  useRunnerHarness((started) => {
    h = started;
  });
  let state: MachineState | undefined;
  afterEach(async () => {
    await state?.close();
    state = undefined;
  });

  async function context(machine: TestMachine) {
    state = await openMachineState(machine.stateDir, `machine-${machine.systemId}`);
    const summary: RunSummary = { ok: true, metadata_url: '', delivered: 0, unchanged: 0, spooled: 0, rejected: 0, state_dir: machine.stateDir, results: [], problems: [] };
    const progress = recordingProgress();
    const client = machineClient(h, machine, 1);
    const delivery = new Deliverer({ client, state, sync: await openSyncState(state.dir), progress }, summary);
    await mkdir(paths.scripts, { recursive: true });
    return { client, state, delivery, progress, metadataUrl: h.proxy.url };
  }
  const cachedTarball = (machine: TestMachine) => readFile(join(machine.stateDir, 'machines', `machine-${machine.systemId}`, 'maas-scripts.tar')).catch(() => undefined);

  it('downloads and extracts the scripts, says where from, and keeps the tarball for runs that cannot reach MAAS', async () => {
    const machine = await deployedMachine(h);
    const ctx = await context(machine);
    const loaded = await loadScripts(ctx);
    expect(loaded).toEqual({ stop: false, tarball: expect.anything(), fresh: true });
    expect(ctx.progress.infos).toEqual([`fetching scripts from ${h.proxy.url}`]);
    expect(ctx.progress.warnings).toEqual([]);
    expect(readIndex(loaded.tarball!).length).toBeGreaterThan(0);
    expect(await cachedTarball(machine)).toBeDefined();
  });

  it('runs with the cached scripts when MAAS cannot be reached, halts delivery and says so', async () => {
    const machine = await deployedMachine(h);
    await loadScripts(await context(machine));
    await state!.close();
    await rm(paths.scripts, { recursive: true });
    const ctx = await context(machine);
    await h.proxy.down();
    const loaded = await loadScripts(ctx).finally(() => h.proxy.up());
    expect(loaded).toEqual({ stop: false, tarball: expect.anything(), fresh: false });
    expect(ctx.delivery.halted?.kind).toBe('unreachable');
    expect(ctx.progress.warnings).toEqual([expect.stringMatching(/; running with the scripts of the last run and spooling the results$/)]);
    expect(readIndex(loaded.tarball!).length).toBeGreaterThan(0);
  });

  it('does not ask MAAS again once delivery has halted, and runs the cached scripts', async () => {
    const machine = await deployedMachine(h);
    await loadScripts(await context(machine));
    await state!.close();
    const ctx = await context(machine);
    ctx.delivery.halt({ kind: 'unreachable', message: 'MAAS went away' });
    h.proxy.requests.length = 0;
    expect(await loadScripts(ctx)).toEqual({ stop: false, tarball: expect.anything(), fresh: false });
    expect(h.proxy.requests).toEqual([]);
    expect(ctx.progress.infos).toEqual([]);
  });

  it('has nothing to extract when MAAS cannot be reached and no run kept its scripts', async () => {
    const machine = await deployedMachine(h);
    const ctx = await context(machine);
    await h.proxy.down();
    const loaded = await loadScripts(ctx).finally(() => h.proxy.up());
    expect(loaded).toEqual({ stop: false, fresh: false });
  });

  it('stops on a request MAAS rejects, naming its answer, and keeps no tarball', async () => {
    const machine = await deployedMachine(h);
    const ctx = await context(machine);
    h.proxy.failNext(1, { status: 400, body: 'Bad request: op' });
    const loaded = await loadScripts(ctx);
    expect(loaded).toEqual({ stop: true, fresh: false, problem: expect.stringMatching(/HTTP 400.*Bad request: op/) });
    expect(ctx.delivery.halted).toBeUndefined();
    expect(await cachedTarball(machine)).toBeUndefined();
  });

  it('stops when MAAS has no scripts for the machine (204)', async () => {
    const machine = await deployedMachine(h);
    const ctx = await context(machine);
    h.proxy.failNext(1, { status: 204 });
    expect(await loadScripts(ctx)).toEqual({
      stop: true,
      fresh: false,
      problem: 'No script returned: MAAS has no scripts for this machine (HTTP 204); is it Deployed with hardware sync?',
    });
  });

  it('warns about each tarball member it did not extract', async () => {
    const machine = await deployedMachine(h);
    const ctx = await context(machine);
    const packer = pack();
    const chunks: Buffer[] = [];
    const done = (async () => {
      for await (const chunk of packer) chunks.push(Buffer.from(chunk as Uint8Array));
    })();
    packer.entry({ name: '../escape' }, 'x');
    packer.entry({ name: 'index.json' }, '{"1.0": {"commissioning_scripts": []}}');
    packer.finalize();
    await done;
    h.proxy.failNext(1, { status: 200, headers: { 'content-type': 'application/x-tar' }, body: Buffer.concat(chunks) });
    expect(await loadScripts(ctx)).toEqual({ stop: false, tarball: expect.anything(), fresh: true });
    expect(ctx.progress.warnings).toEqual(['tarball member ../escape skipped: its path leaves the target directory']);
  });
});
