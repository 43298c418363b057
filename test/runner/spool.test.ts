import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SignalFields } from '../../src/maas/types.js';
import { defaultStateDir, openMachineState } from '../../src/runner/spool.js';

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

  it('moves an unreadable spool file aside and reports it instead of failing', async () => {
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
});
