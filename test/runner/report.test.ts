// reportResults in-process against the bundled server (through the recording stand-in): what a
// run delivers, keeps in the spool, finds unchanged, and how it ends when MAAS fails.
import { describe, expect, it } from 'vitest';
import { ScriptResultStatus } from '../../src/maas/types.js';
import { DEPLOY_INFO_SCRIPTS } from '../../src/resources/types.js';
import { reportResults } from '../../src/runner/report.js';
import { deployedMachine, machineClient, runOf, signalsSent, spooled, standInCollectors, useRunnerHarness, storedStatuses, type RunnerHarness } from './runner-harness.js';

let h: RunnerHarness;
useRunnerHarness((started) => {
  h = started;
});

const sorted = (names: readonly string[]) => [...names].sort();

describe('reportResults', () => {
  it('delivers each of the six results once, and MAAS stores them and derives the machine from them', async () => {
    const machine = await deployedMachine(h);
    const { options, deps } = runOf(h, machine);
    const summary = await reportResults(options, deps);
    expect(summary).toMatchObject({ ok: true, delivered: 6, spooled: 0, unchanged: 0, rejected: 0, problems: [] });
    expect(sorted(signalsSent(h.proxy.requests))).toEqual(sorted(DEPLOY_INFO_SCRIPTS));
    expect(await spooled(machine)).toEqual([]);
    expect([...storedStatuses(h, machine.systemId).values()].every((s) => s === ScriptResultStatus.PASSED)).toBe(true);
    // The resources document describes two threads and one disk: MAAS took them over.
    const seen = await h.admin.readMachine(machine.systemId);
    expect([seen.status_name, seen.cpu_count, seen.physicalblockdevice_set.length]).toEqual(['Deployed', 2, 1]);
  });

  it('sends the results before lshw\'s in the index\'s order while lshw still runs, and lshw\'s when it is done', async () => {
    const machine = await deployedMachine(h);
    const stand = standInCollectors();
    const lshw = stand.forScript('maas-lshw')!;
    // The lshw stand-in ends once MAAS has the three results that come before it in the index
    // (the two machine-resources ones and the modaliases), or after two seconds.
    let sentMeanwhile: string[] = [];
    const slowLshw = {
      ...lshw,
      produce: async (host: Parameters<typeof lshw.produce>[0]) => {
        const until = Date.now() + 2000;
        while (signalsSent(h.proxy.requests).length < 3 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
        sentMeanwhile = signalsSent(h.proxy.requests);
        return lshw.produce(host);
      },
    };
    const collectors = { ...stand, forScript: (name: string) => (name === 'maas-lshw' ? slowLshw : stand.forScript(name)) };
    const { options, deps } = runOf(h, machine, {}, collectors);
    expect(await reportResults(options, deps)).toMatchObject({ ok: true, delivered: 6 });
    expect(sentMeanwhile).toEqual(['20-maas-03-machine-resources', '50-maas-01-commissioning', 'maas-list-modaliases']);
    expect(signalsSent(h.proxy.requests)).toEqual([...DEPLOY_INFO_SCRIPTS].sort());
  });

  it('sends nothing unchanged on the next run but the failed result, which is always sent', async () => {
    const machine = await deployedMachine(h);
    const collectors = standInCollectors({ lshwFails: true });
    const first = runOf(h, machine, {}, collectors);
    expect((await reportResults(first.options, first.deps)).delivered).toBe(6);

    h.proxy.requests.length = 0;
    const second = runOf(h, machine, {}, collectors);
    const summary = await reportResults(second.options, second.deps);
    expect(summary).toMatchObject({ ok: true, delivered: 1, unchanged: 5 });
    expect(signalsSent(h.proxy.requests)).toEqual(['maas-lshw']);
    expect(second.deps.progress.lines.filter((l) => l.delivery === 'unchanged').every((l) => l.bytes === 0)).toBe(true);

    h.proxy.requests.length = 0;
    const forced = runOf(h, machine, { force: true }, collectors);
    expect(await reportResults(forced.options, forced.deps)).toMatchObject({ delivered: 6, unchanged: 0 });
    expect(sorted(signalsSent(h.proxy.requests))).toEqual(sorted(DEPLOY_INFO_SCRIPTS));
  });

  it('keeps every result in the spool while MAAS is down, then delivers them first, exactly once, and nothing more', async () => {
    const machine = await deployedMachine(h);
    const online = runOf(h, machine);
    expect((await reportResults(online.options, online.deps)).ok).toBe(true);
    await h.proxy.down();
    const down = runOf(h, machine);
    const offline = await reportResults(down.options, down.deps).finally(() => h.proxy.up());
    expect(offline).toMatchObject({ ok: false, delivered: 0, spooled: 6 });
    expect(offline.problems[0]).toMatch(/cannot reach MAAS at .*; 6 result\(s\) are kept in .* and will be delivered by the next run$/);
    expect(await spooled(machine)).toEqual(sorted(DEPLOY_INFO_SCRIPTS));

    h.proxy.requests.length = 0;
    const back = runOf(h, machine);
    const summary = await reportResults(back.options, back.deps);
    expect(summary.ok).toBe(true);
    const fromSpool = summary.results.filter((r) => r.from_spool);
    expect(sorted(fromSpool.map((r) => r.name))).toEqual(sorted(DEPLOY_INFO_SCRIPTS));
    expect(fromSpool.every((r) => r.delivery === 'delivered')).toBe(true);
    // The spooled results go before the scripts are even fetched, each once.
    const firstGet = h.proxy.requests.findIndex((r) => r.method === 'GET');
    expect(sorted(signalsSent(h.proxy.requests.slice(0, firstGet)))).toEqual(sorted(DEPLOY_INFO_SCRIPTS));
    // This run's own results equal what the spool just delivered: nothing more is sent.
    expect(signalsSent(h.proxy.requests)).toHaveLength(6);
    expect(summary.unchanged).toBe(6);
    expect(await spooled(machine)).toEqual([]);
  });

  it('does not send again a result MAAS took when its answer was lost, but confirms it from the scripts MAAS sends', async () => {
    const machine = await deployedMachine(h);
    const isSignal = (r: { method: string }) => r.method === 'POST';
    h.proxy.failNext(1, { status: 200, loseAnswer: true }, isSignal);
    // One attempt per request: the lost answer stops delivery at once.
    const lost = runOf(h, machine);
    lost.deps.client = machineClient(h, machine, 1);
    const first = await reportResults(lost.options, lost.deps);
    expect(first).toMatchObject({ ok: false, delivered: 0, spooled: 6 });
    const [taken] = signalsSent(h.proxy.requests);
    expect(storedStatuses(h, machine.systemId).get(taken!)).toBe(ScriptResultStatus.PASSED);

    h.proxy.requests.length = 0;
    const next = runOf(h, machine, { force: true });
    const summary = await reportResults(next.options, next.deps);
    expect(summary.ok).toBe(true);
    expect(summary.results.find((r) => r.from_spool && r.name === taken)).toMatchObject({ delivery: 'delivered', note: expect.stringMatching(/already stored by MAAS/) });
    // Sent once in this run, as its own new result; the spooled copy was not sent again.
    expect(signalsSent(h.proxy.requests).filter((name) => name === taken)).toHaveLength(1);
    expect(signalsSent(h.proxy.requests)).toHaveLength(11);
    expect(await spooled(machine)).toEqual([]);
  });

  it('stops before running anything when MAAS refuses the machine credentials, and says to fetch them again', async () => {
    const machine = await deployedMachine(h);
    h.proxy.failNext(1, { status: 401, body: "Authorization Error: 'Invalid access token'" });
    const { options, deps } = runOf(h, machine);
    const summary = await reportResults(options, deps);
    expect(summary.ok).toBe(false);
    expect(summary.problems).toEqual([expect.stringMatching(/HTTP 401 .*; the machine credentials are wrong or were regenerated: fetch them again with get-machine-token$/)]);
    expect(signalsSent(h.proxy.requests)).toEqual([]);
    expect(await spooled(machine)).toEqual([]);
  });

  it('ends with "No script returned" when MAAS has no scripts for the machine (204)', async () => {
    const machine = await deployedMachine(h);
    h.proxy.failNext(1, { status: 204 });
    const { options, deps } = runOf(h, machine);
    const summary = await reportResults(options, deps);
    expect(summary.ok).toBe(false);
    expect(summary.problems).toEqual([expect.stringMatching(/^No script returned: MAAS has no scripts for this machine \(HTTP 204\)/)]);
    expect(signalsSent(h.proxy.requests)).toEqual([]);
  });

  it('drops a result MAAS rejects for good, says so, and still delivers the others', async () => {
    const machine = await deployedMachine(h);
    h.proxy.failNext(1, { status: 400, body: 'Invalid script_result_id' }, (r) => r.method === 'POST');
    const { options, deps } = runOf(h, machine);
    const summary = await reportResults(options, deps);
    expect(summary).toMatchObject({ ok: false, delivered: 5, rejected: 1, spooled: 0 });
    expect(summary.problems).toEqual([expect.stringMatching(/^MAAS rejected the result of \S+: .*HTTP 400.*Invalid script_result_id/)]);
    expect(await spooled(machine)).toEqual([]);
  });

  it('out of band, sends only what the collectors answer and runs no script the server sent', async () => {
    const machine = await deployedMachine(h);
    const only = standInCollectors();
    const resources = { forScript: (name: string) => (name.includes('machine-resources') || name.includes('commissioning') ? only.forScript(name) : undefined), run: only.run };
    const { options, deps } = runOf(h, machine, { outOfBand: true }, resources);
    const summary = await reportResults(options, deps);
    expect(summary).toMatchObject({ ok: true, delivered: 2 });
    expect(sorted(signalsSent(h.proxy.requests))).toEqual(['20-maas-03-machine-resources', '50-maas-01-commissioning']);
    expect(deps.progress.infos).toContain('not run, as they would describe this host rather than the machine: maas-list-modaliases, maas-lshw, maas-serial-ports, maas-support-info');
  });
});
