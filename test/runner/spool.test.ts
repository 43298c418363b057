import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CliError, UsageError } from '../../src/errors.js';
import type { SignalFields } from '../../src/maas/types.js';
import { defaultStateDir, openMachineState, writeStateFile } from '../../src/runner/spool.js';

const dirs: string[] = [];
async function stateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'spool-test-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const fields = (name: string, exit = 0): SignalFields => ({ status: 'WORKING', script_result_id: 7, runtime: 0.25, exit_status: exit, name, script_version_id: 3 });

describe('defaultStateDir', () => {
  it('is /var/lib/maas-run-scripts for root', () => {
    expect(defaultStateDir({ HOME: '/root' }, 0)).toBe('/var/lib/maas-run-scripts');
  });

  it('follows XDG_STATE_HOME for other users, else ~/.local/state', () => {
    expect(defaultStateDir({ HOME: '/home/op', XDG_STATE_HOME: '/srv/state' }, 1000)).toBe('/srv/state/maas-run-scripts');
    expect(defaultStateDir({ HOME: '/home/op' }, 1000)).toBe('/home/op/.local/state/maas-run-scripts');
    // The XDG spec says a relative value is invalid and must be ignored.
    expect(defaultStateDir({ HOME: '/home/op', XDG_STATE_HOME: 'rel' }, 1000)).toBe('/home/op/.local/state/maas-run-scripts');
  });
});

describe('the spool', () => {
  it('keeps a result with its files across a reopen, byte for byte', async () => {
    const dir = await stateDir();
    const state = await openMachineState(dir, 'host_abc123');
    const binary = Buffer.from([0, 255, 10, 13, 8]);
    await state.spool.put(fields('maas-lshw'), [{ name: 'maas-lshw.out', content: binary }, { name: 'maas-lshw.err', content: 'warn\n' }]);
    await state.close();

    const again = await openMachineState(dir, 'host_abc123');
    const { signals, damaged } = await again.spool.list();
    expect(damaged).toEqual([]);
    expect(signals).toHaveLength(1);
    expect(signals[0]!.fields).toEqual(fields('maas-lshw'));
    expect(Buffer.from(signals[0]!.files[0]!.content)).toEqual(binary);
    expect(Buffer.from(signals[0]!.files[1]!.content).toString()).toBe('warn\n');
    await again.close();
  });

  it('keeps only the newest result per script name, and lists results oldest first', async () => {
    const state = await openMachineState(await stateDir(), 'm');
    await state.spool.put(fields('b-script', 1), []);
    await state.spool.put(fields('a-script'), []);
    await state.spool.put(fields('b-script', 2), []);
    const { signals } = await state.spool.list();
    expect(signals.map((s) => [s.fields.name, s.fields.exit_status])).toEqual([
      ['a-script', 0],
      ['b-script', 2],
    ]);
    await state.close();
  });

  it('does not forget a newer result when an older one of the same script is removed after delivery', async () => {
    const state = await openMachineState(await stateDir(), 'm');
    const old = await state.spool.put(fields('x', 1), []);
    await state.spool.put(fields('x', 2), []);
    await state.spool.remove(old);
    const { signals } = await state.spool.list();
    expect(signals.map((s) => s.fields.exit_status)).toEqual([2]);
    await state.spool.remove(signals[0]!);
    expect((await state.spool.list()).signals).toEqual([]);
    await state.close();
  });

  it('remembers across a reopen that a send was started, until the result is removed', async () => {
    const dir = await stateDir();
    const state = await openMachineState(dir, 'm');
    const signal = await state.spool.put(fields('x'), []);
    expect(signal.inFlight).toBe(false);
    await state.spool.markInFlight(signal);
    await state.close();
    const again = await openMachineState(dir, 'm');
    const [listed] = (await again.spool.list()).signals;
    expect(listed!.inFlight).toBe(true);
    await again.spool.remove(listed!);
    expect(await readdir(again.spool.dir)).toEqual([]);
    await again.close();
  });

  it('does not count a newer result of the same script as in flight', async () => {
    const state = await openMachineState(await stateDir(), 'm');
    await state.spool.markInFlight(await state.spool.put(fields('x', 1), []));
    await state.spool.put(fields('x', 2), []);
    const [listed] = (await state.spool.list()).signals;
    expect([listed!.fields.exit_status, listed!.inFlight]).toEqual([2, false]);
    await state.close();
  });

  it('keeps machines apart', async () => {
    const dir = await stateDir();
    const one = await openMachineState(dir, 'one');
    const two = await openMachineState(dir, 'two');
    await one.spool.put(fields('x'), []);
    expect((await two.spool.list()).signals).toEqual([]);
    await Promise.all([one.close(), two.close()]);
  });

  it('writes its files readable by the owner only', async () => {
    const state = await openMachineState(await stateDir(), 'm');
    const spooled = await state.spool.put(fields('x'), [{ name: 'x.out', content: 'secret-ish\n' }]);
    expect((await stat(spooled.path)).mode & 0o777).toBe(0o600);
    expect((await stat(state.dir)).mode & 0o077).toBe(0);
    await state.close();
  });

  it('moves an unparsable spool file aside and reports it instead of failing', async () => {
    const state = await openMachineState(await stateDir(), 'm');
    await state.spool.put(fields('good'), []);
    await writeFile(join(state.spool.dir, 'bad.json'), '{"trunc');
    const { signals, damaged } = await state.spool.list();
    expect(signals.map((s) => s.fields.name)).toEqual(['good']);
    expect(damaged).toEqual([join(state.spool.dir, 'bad.json.damaged')]);
    await state.close();
  });

  it('refuses a second run for the same machine while the first holds the lock, and allows it afterwards', async () => {
    const dir = await stateDir();
    const first = await openMachineState(dir, 'm');
    // Our own pid is alive, so pretend the lock belongs to another live process: pid 1.
    await writeFile(join(first.dir, 'lock'), '1\n');
    await expect(openMachineState(dir, 'm')).rejects.toThrow(/another report-results run \(pid 1\)/);
    await first.close();
    const second = await openMachineState(dir, 'm');
    await second.close();
  });

  it('takes over a lock left behind by a process that no longer exists', async () => {
    const dir = await stateDir();
    const first = await openMachineState(dir, 'm');
    await writeFile(join(first.dir, 'lock'), '999999999\n');
    const second = await openMachineState(dir, 'm');
    await second.close();
  });

  it('caches the scripts tarball and leaves no temporary files behind', async () => {
    const state = await openMachineState(await stateDir(), 'm');
    expect(await state.loadScripts()).toBeUndefined();
    await state.saveScripts(Buffer.from('tar bytes'));
    expect(Buffer.from((await state.loadScripts())!).toString()).toBe('tar bytes');
    expect((await readdir(state.dir)).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    await state.close();
  });

  it('names the fix when the state directory cannot be created', async () => {
    const dir = await stateDir();
    await writeFile(join(dir, 'file'), '');
    await expect(openMachineState(join(dir, 'file'), 'm')).rejects.toThrow(/--state-dir DIR/);
  });

  // A spool file as a run writes it: format 1, the signal's fields, its files in base64.
  const spoolFile = (name: string, sequence: number, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ format: 1, createdAt: new Date(Math.floor(sequence / 1000)).toISOString(), sequence, fields: fields(name), files: [], ...extra });

  it('lists results oldest first whatever order their files were written in, so they reach MAAS in the order they were produced', async () => {
    const state = await openMachineState(await stateDir(), 'm');
    // Sequence order (b, d, a, e, c, f) is neither the names' order nor the order the files were written in.
    const order = { a: 3, b: 1, c: 5, d: 2, e: 4, f: 6 };
    for (const [name, rank] of Object.entries(order)) await writeFile(join(state.spool.dir, `${name}.json`), spoolFile(name, 1_700_000_000_000_000 + rank));
    const { signals, damaged } = await state.spool.list();
    expect(damaged).toEqual([]);
    expect(signals.map((s) => s.fields.name)).toEqual(['b', 'd', 'a', 'e', 'c', 'f']);
    await state.close();
  });

  it('lists a result an earlier run left behind before the results of this run', async () => {
    const state = await openMachineState(await stateDir(), 'm');
    // The earlier run (a minute ago) wrote its 999th result.
    await writeFile(join(state.spool.dir, 'zz-left-over.json'), spoolFile('zz-left-over', (Date.now() - 60_000) * 1000 + 999));
    await state.spool.put(fields('aa-new'), []);
    expect((await state.spool.list()).signals.map((s) => s.fields.name)).toEqual(['zz-left-over', 'aa-new']);
    await state.close();
  });

  it.each([
    ['a later format', { format: 2 }],
    ['no format', { format: undefined }],
    ['no fields', { fields: undefined }],
    ['a script name that is not text', { fields: { ...fields('x'), name: 7 } }],
    ['files that are not a list', { files: { 'x.out': 'aGk=' } }],
    ['a file without its content', { files: [{ name: 'x.out' }] }],
    ['a file without a name', { files: [{ base64: 'aGk=' }] }],
    ['a file entry that is null', { files: [null] }],
    ['no sequence', { sequence: undefined }],
    ['a creation time that is not text', { createdAt: 1_700_000_000 }],
  ])('moves aside, and does not send, a spool file with %s', async (_what, extra) => {
    const state = await openMachineState(await stateDir(), 'm');
    await state.spool.put(fields('good'), []);
    await writeFile(join(state.spool.dir, 'odd.json'), spoolFile('odd', 1, extra));
    const { signals, damaged } = await state.spool.list();
    expect(signals.map((s) => s.fields.name)).toEqual(['good']);
    expect(damaged).toEqual([join(state.spool.dir, 'odd.json.damaged')]);
    expect((await readdir(state.spool.dir)).sort()).toEqual(['good.json', 'odd.json.damaged']);
    await state.close();
  });

  it.each([
    ['null', 'null'],
    ['a number', '42'],
    ['cut short', '{"format":1,"fields":{"na'],
  ])('moves aside a spool file whose content is %s', async (_what, content) => {
    const state = await openMachineState(await stateDir(), 'm');
    await writeFile(join(state.spool.dir, 'odd.json'), content);
    expect(await state.spool.list()).toEqual({ signals: [], damaged: [join(state.spool.dir, 'odd.json.damaged')] });
    await state.close();
  });

  it('leaves hidden files in the spool directory alone', async () => {
    const state = await openMachineState(await stateDir(), 'm');
    await writeFile(join(state.spool.dir, '.notes.json'), 'not a result');
    const { signals, damaged } = await state.spool.list();
    expect([signals, damaged]).toEqual([[], []]);
    expect(await readdir(state.spool.dir)).toEqual(['.notes.json']);
    await state.close();
  });

  it('spools and lists results of scripts whose names start with a dot, apart from the same name without it', async () => {
    const state = await openMachineState(await stateDir(), 'm');
    await state.spool.put(fields('.foo', 1), []);
    await state.spool.put(fields('foo', 2), []);
    await state.spool.put(fields('..', 3), []);
    const { signals } = await state.spool.list();
    expect(signals.map((s) => [s.fields.name, s.fields.exit_status])).toEqual([
      ['.foo', 1],
      ['foo', 2],
      ['..', 3],
    ]);
    await state.close();
  });

  it('keeps each spool file named after its script, escaping only what a file name cannot hold', async () => {
    const state = await openMachineState(await stateDir(), 'm');
    for (const name of ['00-maas-01-cpuinfo', 'maas.lshw', '.hidden', 'a/b']) await state.spool.put(fields(name), []);
    expect((await readdir(state.spool.dir)).sort()).toEqual(['%2Ehidden.json', '00-maas-01-cpuinfo.json', 'a%2Fb.json', 'maas.lshw.json']);
    await state.close();
  });

  it('counts a result as in flight as soon as it is marked', async () => {
    const state = await openMachineState(await stateDir(), 'm');
    const signal = await state.spool.put(fields('x'), []);
    await state.spool.markInFlight(signal);
    expect(signal.inFlight).toBe(true);
    await state.close();
  });

  it('removes a delivered result that was never marked in flight, and a second removal is harmless', async () => {
    const state = await openMachineState(await stateDir(), 'm');
    const signal = await state.spool.put(fields('x'), []);
    await state.spool.remove(signal);
    await state.spool.remove(signal);
    expect(await readdir(state.spool.dir)).toEqual([]);
    await state.close();
  });

  it('refuses to remove a result an earlier run left whose spool file has become unreadable', async () => {
    const dir = await stateDir();
    const first = await openMachineState(dir, 'm');
    await first.spool.put(fields('x'), []);
    await first.close();
    const state = await openMachineState(dir, 'm');
    const [left] = (await state.spool.list()).signals;
    await writeFile(left!.path, '{"trunc');
    await expect(state.spool.remove(left!)).rejects.toThrow(SyntaxError);
    await state.close();
  });

  it('forgets a result this run wrote once it is delivered, from what the run knows rather than by reading the file back', async () => {
    const state = await openMachineState(await stateDir(), 'm');
    const signal = await state.spool.put(fields('x'), []);
    await writeFile(signal.path, '{"trunc');
    await state.spool.remove(signal);
    expect(await readdir(state.spool.dir)).toEqual([]);
    await state.close();
  });

  it('keeps the newer result when an older one an earlier run left is removed after this run spooled its own', async () => {
    const dir = await stateDir();
    const first = await openMachineState(dir, 'm');
    await first.spool.put(fields('x', 1), []);
    await first.close();
    const state = await openMachineState(dir, 'm');
    const [left] = (await state.spool.list()).signals;
    await state.spool.put(fields('x', 2), []);
    await state.spool.remove(left!);
    expect((await state.spool.list()).signals.map((s) => s.fields.exit_status)).toEqual([2]);
    await state.close();
  });

  it('takes a spool file removed by hand meanwhile as already forgotten', async () => {
    const state = await openMachineState(await stateDir(), 'm');
    const signal = await state.spool.put(fields('x'), []);
    await state.spool.markInFlight(signal);
    await rm(signal.path);
    await state.spool.remove(signal);
    expect(await readdir(state.spool.dir)).toEqual([]);
    await state.close();
  });

  it('removes the temporary files a run that died while writing left behind', async () => {
    const dir = await stateDir();
    const state = await openMachineState(dir, 'm');
    await state.spool.put(fields('kept'), []);
    await writeFile(join(state.spool.dir, '.tmp-4242-deadbeef'), '{"half');
    await writeFile(join(state.dir, '.tmp-4242-cafef00d'), 'half a tarball');
    await state.close();
    const again = await openMachineState(dir, 'm');
    expect(await readdir(again.spool.dir)).toEqual(['kept.json']);
    expect((await readdir(again.dir)).sort()).toEqual(['lock', 'spool']);
    await again.close();
  });

  it('fails, rather than running without its cached scripts, when the cached tarball cannot be read', async () => {
    const state = await openMachineState(await stateDir(), 'm');
    await mkdir(join(state.dir, 'maas-scripts.tar'));
    await expect(state.loadScripts()).rejects.toMatchObject({ code: 'EISDIR' });
    await state.close();
  });

  it('writes its pid into the lock, and closing twice is harmless', async () => {
    const state = await openMachineState(await stateDir(), 'm');
    expect(await readFile(join(state.dir, 'lock'), 'utf8')).toBe(`${process.pid}\n`);
    await state.close();
    await state.close();
    expect(await readdir(state.dir)).not.toContain('lock');
  });

  it('names the machine directory and the holding pid when another run holds the lock', async () => {
    const dir = await stateDir();
    const first = await openMachineState(dir, 'm');
    await writeFile(join(first.dir, 'lock'), '1\n');
    const error = await openMachineState(dir, 'm').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect(error).not.toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(`another report-results run (pid 1) is using ${first.dir}; wait for it to finish`);
    await first.close();
  });

  it.each([
    ['holds no number', 'garbage\n'],
    ['is empty', ''],
    ['names pid 0 (the process group)', '0\n'],
    ['names pid -1 (every process)', '-1\n'],
    ["names this process's own pid (pids are reused after a reboot)", `${process.pid}\n`],
  ])('takes over a stale lock that %s', async (_what, content) => {
    const dir = await stateDir();
    const first = await openMachineState(dir, 'm');
    await writeFile(join(first.dir, 'lock'), content);
    const second = await openMachineState(dir, 'm');
    expect(await readFile(join(second.dir, 'lock'), 'utf8')).toBe(`${process.pid}\n`);
    await second.close();
  });

  it('says which state directory it could not create, as a usage error keeping the system error', async () => {
    const dir = await stateDir();
    await writeFile(join(dir, 'file'), '');
    const error = await openMachineState(join(dir, 'file'), 'm').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(`cannot create the state directory ${join(dir, 'file')}: a parent is not a directory; choose a writable one with --state-dir DIR`);
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toBe('ENOTDIR');
  });

  it('names the file and the fix, as a usage error keeping the system error, when a state file cannot be written where asked', async () => {
    const path = join(await stateDir(), 'gone', 'maas-scripts.tar');
    const error = await writeStateFile(path, Buffer.from('x')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(`cannot write ${path}: no such file or directory; free space in the state directory or choose another with --state-dir DIR`);
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });
});
