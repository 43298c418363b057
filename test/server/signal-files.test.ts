// Part B §3.3 step 2 on both stores: every file of one signal that names the same script goes to
// one result, also when that result does not exist yet and no script_result_id is sent.
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
});
