// runReport in-process: a complete run returns its summary; an incomplete one ends in one error
// with a stable code, naming the command, what went wrong and where the results wait.
import { describe, expect, it } from 'vitest';
import { ReportIncompleteError } from '../../src/errors.js';
import { createHost } from '../../src/host/host.js';
import { runReport } from '../../src/runner/run-report.js';
import { deployedMachine, machineClient, recordingProgress, spooled, standInCollectors, useRunnerHarness, type RunnerHarness, type TestMachine } from './runner-harness.js';

let h: RunnerHarness;
useRunnerHarness((started) => {
  h = started;
});

function run(machine: TestMachine, commandName?: string) {
  const endpoint = `${h.server.url}/metadata/status/${machine.systemId}`;
  return runReport(
    { metadataUrl: h.proxy.url, credentials: machine.credentials, endpoint },
    { stateDir: machine.stateDir },
    { collectors: standInCollectors(), reportClient: machineClient(h, machine, 1), host: createHost(), progress: recordingProgress(), ...(commandName ? { commandName } : {}) },
  );
}

describe('runReport', () => {
  it('returns the summary of a run that delivered everything', async () => {
    const machine = await deployedMachine(h);
    expect(await run(machine)).toMatchObject({ ok: true, delivered: 6, spooled: 0 });
  });

  it('ends a run that kept results back in a ReportIncompleteError naming the command, the cause and the state directory', async () => {
    const machine = await deployedMachine(h);
    await h.proxy.down();
    const error = await run(machine, 'redfish-report')
      .catch((e: unknown) => e)
      .finally(() => h.proxy.up());
    expect(error).toBeInstanceOf(ReportIncompleteError);
    expect(error).toMatchObject({ code: 'MRS_REPORT_INCOMPLETE', exitCode: 1, command: 'redfish-report' });
    const { message, detail } = error as ReportIncompleteError;
    expect(message).toBe(`redfish-report: ${detail}`);
    expect(detail).toMatch(/cannot reach MAAS at .*; 6 result\(s\) are kept in .* and will be delivered by the next run/);
    expect(detail).toContain(machine.stateDir);
    expect(await spooled(machine)).toHaveLength(6);
  });
});
