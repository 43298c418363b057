// The Deliverer in-process: real spool and sync state, the real client, the bundled server behind
// the recording stand-in. What was sent, what stayed spooled, and when delivery stops.
import { afterEach, describe, expect, it } from 'vitest';
import type { SignalFields } from '../../src/maas/types.js';
import { ScriptResultStatus } from '../../src/maas/types.js';
import { Deliverer } from '../../src/runner/delivery.js';
import type { RunSummary } from '../../src/runner/progress.js';
import { openMachineState, type MachineState } from '../../src/runner/spool.js';
import { openSyncState } from '../../src/runner/sync-state.js';
import { deployedMachine, machineClient, recordingProgress, signalsSent, spooled, useRunnerHarness, storedStatuses, type RunnerHarness, type TestMachine } from './runner-harness.js';

let h: RunnerHarness;
useRunnerHarness((started) => {
  h = started;
});

let state: MachineState | undefined;
afterEach(async () => {
  await state?.close();
  state = undefined;
});

function emptySummary(stateDir: string): RunSummary {
  return { ok: true, metadata_url: '', delivered: 0, unchanged: 0, spooled: 0, rejected: 0, state_dir: stateDir, results: [], problems: [] };
}

const fields = (name: string): SignalFields => ({ status: 'WORKING', runtime: 0.5, exit_status: 0, name });

/** A Deliverer for `machine` with three results in its spool; `attempts` per request. */
async function setUp(machine: TestMachine, attempts = 2) {
  state = await openMachineState(machine.stateDir, `machine-${machine.systemId}`);
  const sync = await openSyncState(state.dir);
  const summary = emptySummary(machine.stateDir);
  const progress = recordingProgress();
  const delivery = new Deliverer({ client: machineClient(h, machine, attempts), state, sync, progress }, summary);
  const results = [];
  for (const name of ['maas-serial-ports', 'maas-support-info', 'maas-list-modaliases']) {
    results.push(await state.spool.put(fields(name), [{ name: `${name}.out`, content: `${name} output\n` }, { name: `${name}.err`, content: '' }, { name, content: `${name} output\n` }]));
  }
  return { delivery, summary, progress, results, sync };
}

describe('Deliverer', () => {
  it('sends each spooled result once, empties the spool, and MAAS holds them', async () => {
    const machine = await deployedMachine(h);
    const { delivery, summary, results } = await setUp(machine);
    for (const result of results) await delivery.send(result, true);
    expect(signalsSent(h.proxy.requests)).toEqual(['maas-serial-ports', 'maas-support-info', 'maas-list-modaliases']);
    expect(summary).toMatchObject({ delivered: 3, spooled: 0, rejected: 0, problems: [] });
    expect(summary.results.map((r) => [r.name, r.delivery, r.from_spool, r.bytes])).toEqual([
      ['maas-serial-ports', 'delivered', true, 2 * 'maas-serial-ports output\n'.length],
      ['maas-support-info', 'delivered', true, 2 * 'maas-support-info output\n'.length],
      ['maas-list-modaliases', 'delivered', true, 2 * 'maas-list-modaliases output\n'.length],
    ]);
    expect(await spooled(machine)).toEqual([]);
    const stored = storedStatuses(h, machine.systemId);
    expect([stored.get('maas-serial-ports'), stored.get('maas-support-info')]).toEqual([ScriptResultStatus.PASSED, ScriptResultStatus.PASSED]);
  });

  it('halts after MAAS refuses the machine credentials: nothing more is sent, and the rest stays spooled', async () => {
    const machine = await deployedMachine(h);
    const { delivery, summary, results } = await setUp(machine);
    h.proxy.failNext(1, { status: 403, body: 'Forbidden' }, (r) => r.method === 'POST');
    for (const result of results) await delivery.send(result, false);
    expect(delivery.halted).toMatchObject({ kind: 'auth', message: expect.stringMatching(/HTTP 403/) });
    expect(signalsSent(h.proxy.requests)).toEqual(['maas-serial-ports']);
    expect(summary).toMatchObject({ delivered: 0, spooled: 3 });
    expect(await spooled(machine)).toEqual(['maas-list-modaliases', 'maas-serial-ports', 'maas-support-info']);
  });

  it('halts when MAAS cannot be reached, keeping every result spooled and asking nothing more of it', async () => {
    const machine = await deployedMachine(h);
    const { delivery, summary, results } = await setUp(machine, 1);
    await h.proxy.down();
    try {
      for (const result of results) await delivery.send(result, false);
    } finally {
      await h.proxy.up();
    }
    expect(delivery.halted).toMatchObject({ kind: 'unreachable', message: expect.stringMatching(/cannot reach MAAS/) });
    expect(summary).toMatchObject({ delivered: 0, spooled: 3 });
    expect(h.proxy.requests).toEqual([]);
    expect(await spooled(machine)).toEqual(['maas-list-modaliases', 'maas-serial-ports', 'maas-support-info']);
    // The first was on its way: the next run checks it against what MAAS holds before sending it again.
    const { signals } = await state!.spool.list();
    expect(signals.filter((s) => s.inFlight).map((s) => s.fields.name)).toEqual(['maas-serial-ports']);
  });

  it('drops a result MAAS rejects for good, as a problem naming it, and goes on with the next', async () => {
    const machine = await deployedMachine(h);
    const { delivery, summary, results } = await setUp(machine);
    h.proxy.failNext(1, { status: 400, body: 'Invalid script_result_id' }, (r) => r.method === 'POST');
    for (const result of results) await delivery.send(result, false);
    expect(delivery.halted).toBeUndefined();
    expect(summary).toMatchObject({ delivered: 2, rejected: 1, spooled: 0 });
    expect(summary.problems).toEqual([expect.stringMatching(/^MAAS rejected the result of maas-serial-ports: .*HTTP 400.*Invalid script_result_id/)]);
    expect(await spooled(machine)).toEqual([]);
  });

  it('confirms a result MAAS holds already without sending it, and records an unchanged one as not sent', async () => {
    const machine = await deployedMachine(h);
    const { delivery, summary, results, progress } = await setUp(machine);
    const [held, other] = results as [(typeof results)[0], (typeof results)[0]];
    await delivery.confirm(held);
    delivery.unchanged(other);
    expect(delivery.isConfirmed(held)).toBe(true);
    expect(delivery.isConfirmed(other)).toBe(false);
    expect(signalsSent(h.proxy.requests)).toEqual([]);
    expect(summary).toMatchObject({ delivered: 1, unchanged: 1, spooled: 0 });
    expect(progress.lines.map((l) => [l.name, l.delivery, l.bytes, l.note])).toEqual([
      ['maas-serial-ports', 'delivered', 2 * 'maas-serial-ports output\n'.length, 'already stored by MAAS; not sent again'],
      ['maas-support-info', 'unchanged', 0, 'same hardware data as the result MAAS holds; not sent'],
    ]);
    expect(await spooled(machine)).not.toContain('maas-serial-ports');
  });
});
