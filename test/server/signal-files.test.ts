// docs/protocol.md §4.3, step 2, on both stores: every file of one signal that names the same
// script goes to one result, also when that result does not exist yet and no script_result_id is
// sent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptResultStatus } from '../../src/maas/types.js';
import { STORE_KINDS, call, createDeployed, startHarness, type Harness } from './server-harness.js';

describe.each(STORE_KINDS)('files of one signal with the %s store', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(kind);
  });
  afterAll(() => h.stop());

  const resultsNamed = (systemId: string, name: string) => {
    const setId = h.store.getMachine(systemId)!.scriptSetId!;
    return h.store.resultsOfSet(setId).filter((r) => r.name === name);
  };
  const text = (base64: string | null) => (base64 === null ? null : Buffer.from(base64, 'base64').toString());

  it('go to one new result when the set has no script of that name and no script_result_id is sent', async () => {
    const { systemId, token } = await createDeployed(h, { hostname: `files-${kind}` });
    const response = await call(h, 'POST', '/metadata/2012-03-01/', token, {
      fields: { op: 'signal', status: 'WORKING', exit_status: '0', name: '99-site-check', runtime: '0.5' },
      files: {
        '99-site-check.out': 'all good\n',
        '99-site-check.err': 'a warning\n',
        '99-site-check': 'all good\na warning\n',
        '99-site-check.yaml': 'status: degraded\n',
      },
    });
    expect(response.status).toBe(200);
    const results = resultsNamed(systemId, '99-site-check');
    expect(results).toHaveLength(1);
    const [result] = results;
    expect([text(result!.stdout), text(result!.stderr), text(result!.output), text(result!.result)]).toEqual([
      'all good\n',
      'a warning\n',
      'all good\na warning\n',
      'status: degraded\n',
    ]);
    expect(result!.status).toBe(ScriptResultStatus.DEGRADED);
    // The six deploy-info results are untouched and still there.
    const setId = h.store.getMachine(systemId)!.scriptSetId!;
    expect(h.store.resultsOfSet(setId)).toHaveLength(7);
  });

  it('go to the result an earlier signal created, when the same script reports again', async () => {
    const { systemId, token } = await createDeployed(h, { hostname: `again-${kind}` });
    const send = (stdout: string, exit: string) =>
      call(h, 'POST', '/metadata/2012-03-01/', token, {
        fields: { op: 'signal', status: 'WORKING', exit_status: exit, name: '98-extra' },
        files: { '98-extra.out': stdout, '98-extra.err': '', '98-extra': stdout },
      });
    expect((await send('first\n', '0')).status).toBe(200);
    expect((await send('second\n', '2')).status).toBe(200);
    const results = resultsNamed(systemId, '98-extra');
    expect(results).toHaveLength(1);
    expect([text(results[0]!.stdout), results[0]!.exitStatus, results[0]!.status]).toEqual(['second\n', 2, ScriptResultStatus.FAILED]);
  });

  it('take op from the query string too, the exit status from exit_status before script_result and result, and the result named by script_result_id', async () => {
    const { systemId, token } = await createDeployed(h, { hostname: `fields-${kind}` });
    const setId = h.store.getMachine(systemId)!.scriptSetId!;
    const lshw = h.store.resultsOfSet(setId).find((r) => r.name === 'maas-lshw')!;
    // Files named after another script still go to the result the id names (docs/protocol.md §4.3,
    // step 2).
    const response = await call(h, 'POST', '/metadata/2012-03-01/?op=signal', token, {
      fields: { status: 'WORKING', script_result_id: String(lshw.id), result: '5', script_result: '4', exit_status: '3' },
      files: { 'renamed.out': 'x\n' },
    });
    expect([response.status, await response.text()]).toEqual([200, 'OK']);
    expect(h.store.getResult(lshw.id)).toMatchObject({ exitStatus: 3, status: ScriptResultStatus.FAILED, stdout: Buffer.from('x\n').toString('base64') });
    expect(resultsNamed(systemId, 'renamed')).toEqual([]);
    const fallback = await call(h, 'POST', '/metadata/2012-03-01/', token, {
      fields: { op: 'signal', status: 'WORKING', result: '5', script_result: '4' },
      files: { 'maas-serial-ports.out': '' },
    });
    expect(fallback.status).toBe(200);
    expect(resultsNamed(systemId, 'maas-serial-ports').map((r) => r.exitStatus)).toEqual([4]);
  });

  it('store TIMEDOUT without its exit status, keeping the one stored before', async () => {
    const { systemId, token } = await createDeployed(h, { hostname: `timedout-${kind}` });
    const send = (status: string, exit: string, stdout: string) =>
      call(h, 'POST', '/metadata/2012-03-01/', token, {
        fields: { op: 'signal', status, exit_status: exit, name: 'maas-support-info' },
        files: { 'maas-support-info.out': stdout },
      });
    expect((await send('TIMEDOUT', '124', 'partial\n')).status).toBe(200);
    expect(resultsNamed(systemId, 'maas-support-info')[0]).toMatchObject({ status: ScriptResultStatus.TIMEDOUT, exitStatus: null });
    expect((await send('WORKING', '0', 'whole\n')).status).toBe(200);
    expect((await send('TIMEDOUT', '124', 'partial again\n')).status).toBe(200);
    const [result] = resultsNamed(systemId, 'maas-support-info');
    expect([result!.status, result!.exitStatus, text(result!.stdout)]).toEqual([ScriptResultStatus.TIMEDOUT, 0, 'partial again\n']);
    expect(h.store.getMachine(systemId)!.status).toBe(6);
  });
});

