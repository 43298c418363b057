// Custom scripts the MAAS way, on both stores: administrators upload, list, read, download and
// delete scripts through /MAAS/api/2.0/scripts/, and a commissioning script tagged deploy-info
// joins every deployed machine's deploy-info set, reaches it in the tarball and stores its signal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptResultStatus, type ScriptIndex } from '../../src/maas/types.js';
import { DEPLOY_INFO_SCRIPTS } from '../../src/resources/types.js';
import { STORE_KINDS, call, createDeployed, signal, startHarness, untar, type FormSpec, type Harness } from './server-harness.js';

type FieldErrors = Record<string, string[]>;
interface ScriptJson {
  id: number;
  name: string;
  title: string;
  description: string;
  tags: string[];
  type: number;
  type_name: string;
  hardware_type: number;
  parallel: number;
  timeout: string;
  default: boolean;
  destructive: boolean;
  history: { id: number; comment: string; created: string; data?: string }[];
  resource_uri: string;
}

const SCRIPTS = '/api/2.0/scripts/';
const INVENTORY = '#!/bin/sh\necho "rack: B7"\n';

describe.each(STORE_KINDS)('the scripts API with the %s store', (kind) => {
  let h: Harness;
  let userKey: string;
  beforeAll(async () => {
    h = await startHarness(kind);
    userKey = h.store.addUser('olga', { admin: false });
  });
  afterAll(() => h.stop());

  const upload = (form: FormSpec, key = h.adminKey) => call(h, 'POST', SCRIPTS, key, form);
  const deployInfo = (name: string, body: string, fields: Record<string, string> = {}): FormSpec => ({
    fields: { name, type: 'commissioning', tags: 'deploy-info', ...fields },
    files: { script: body },
  });

  it('stores an uploaded script and answers with its JSON: user scripts are not default, and get the node tag', async () => {
    const response = await upload(deployInfo('70-site-inventory', INVENTORY, { title: 'Site inventory', timeout: '00:02:00', parallel: 'any', comment: 'first' }));
    expect(response.status).toBe(200);
    const script = (await response.json()) as ScriptJson;
    expect(script).toMatchObject({
      name: '70-site-inventory',
      title: 'Site inventory',
      type: 0,
      type_name: 'Commissioning script',
      hardware_type: 0,
      parallel: 2,
      timeout: '0:02:00',
      default: false,
      destructive: false,
      resource_uri: '/MAAS/api/2.0/scripts/70-site-inventory',
    });
    expect(script.tags.sort()).toEqual(['deploy-info', 'node']);
    expect(script.history).toHaveLength(1);
    expect(script.history[0]!.comment).toBe('first');
    expect(script.history[0]!.created).toMatch(/^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000$/);
  });

  it('lists the built-in deploy-info scripts as default and the uploaded ones after them, and reads one by name or id', async () => {
    const list = (await (await call(h, 'GET', SCRIPTS, userKey)).json()) as ScriptJson[];
    expect(list.filter((s) => s.default).map((s) => s.name)).toEqual([...DEPLOY_INFO_SCRIPTS]);
    const mine = list.find((s) => s.name === '70-site-inventory')!;
    expect(mine.default).toBe(false);
    const byId = (await (await call(h, 'GET', `${SCRIPTS}${mine.id}`, userKey)).json()) as ScriptJson;
    expect(byId.name).toBe('70-site-inventory');
    const withBody = (await (await call(h, 'GET', `${SCRIPTS}70-site-inventory?include_script=true`, userKey)).json()) as ScriptJson;
    expect(Buffer.from(withBody.history[0]!.data!, 'base64').toString()).toBe(INVENTORY);
    const download = await call(h, 'GET', `${SCRIPTS}70-site-inventory?op=download`, userKey);
    expect(await download.text()).toBe(INVENTORY);
    const filtered = (await (await call(h, 'GET', `${SCRIPTS}?filters=deploy-info&type=testing`, userKey)).json()) as ScriptJson[];
    expect(filtered).toEqual([]);
    expect((await call(h, 'GET', `${SCRIPTS}no-such-script`, userKey)).status).toBe(404);
  });

  it('lets only administrators upload and delete: 403 for other users and machine tokens, 401 anonymously', async () => {
    const refused = await upload(deployInfo('71-not-allowed', INVENTORY), userKey);
    expect([refused.status, await refused.text()]).toEqual([403, 'This method is reserved for admin users.']);
    expect((await call(h, 'DELETE', `${SCRIPTS}70-site-inventory`, userKey)).status).toBe(403);
    const { token } = await createDeployed(h, { hostname: `scripts-token-${kind}` });
    expect((await upload(deployInfo('71-not-allowed', INVENTORY), token)).status).toBe(403);
    expect((await call(h, 'POST', SCRIPTS, undefined, deployInfo('71-not-allowed', INVENTORY))).status).toBe(401);
    expect((await call(h, 'GET', `${SCRIPTS}71-not-allowed`, h.adminKey)).status).toBe(404);
  });

  it('refuses with field errors a duplicate name, a built-in name, a bad name, a script without shebang and a missing script', async () => {
    const errorsOf = async (form: FormSpec) => {
      const response = await upload(form);
      expect(response.status).toBe(400);
      return (await response.json()) as FieldErrors;
    };
    expect((await errorsOf(deployInfo('70-site-inventory', INVENTORY))).name).toEqual(['Script with this Name already exists.']);
    expect((await errorsOf(deployInfo('maas-lshw', INVENTORY))).name).toEqual(['Script with this Name already exists.']);
    expect((await errorsOf(deployInfo('my script', INVENTORY))).name).toEqual(["Name 'my script' contains disallowed characters, e.g. space or quotes."]);
    expect((await errorsOf(deployInfo('12345', INVENTORY))).name).toEqual(['Cannot be a number.']);
    // A name is a file name in every machine's tarball: no path through it.
    expect((await errorsOf(deployInfo('../../etc/cron.d/evil', INVENTORY))).name?.[0]).toMatch(/must not contain '\/'/);
    expect((await errorsOf(deployInfo('.hidden', INVENTORY))).name?.[0]).toMatch(/start with '\.'/);
    expect((await errorsOf(deployInfo('72-no-shebang', 'echo hi\n'))).script).toEqual(['Must start with shebang.']);
    expect((await errorsOf({ fields: { name: '73-empty' } })).script).toEqual(['This field is required.']);
    expect((await errorsOf(deployInfo('74-bad-timeout', INVENTORY, { timeout: 'soon' }))).timeout).toEqual(['Enter a valid duration.']);
    expect((await errorsOf(deployInfo('75-bad-type', INVENTORY, { type: 'sometimes' }))).script_type).toHaveLength(1);
  });

  it('reads the metadata embedded in a single uploaded file, and refuses a form value that contradicts it', async () => {
    const body = [
      '#!/bin/bash',
      '# --- Start MAAS 1.0 script metadata ---',
      '# name: 76-embedded',
      '# title: Embedded metadata',
      '# script_type: commissioning',
      '# tags: [deploy-info, site]',
      '# parallel: instance',
      '# timeout: 00:00:45',
      '# --- End MAAS 1.0 script metadata ---',
      'echo embedded',
      '',
    ].join('\n');
    const contradicted = await upload({ fields: { title: 'Another title' }, files: { '76-embedded': body } });
    expect(contradicted.status).toBe(400);
    expect(((await contradicted.json()) as FieldErrors).title).toEqual(['May not override values defined in embedded YAML.']);
    const response = await upload({ files: { '76-embedded': body } });
    expect(response.status).toBe(200);
    const script = (await response.json()) as ScriptJson;
    expect(script).toMatchObject({ name: '76-embedded', title: 'Embedded metadata', type: 0, parallel: 1, timeout: '0:00:45' });
    expect(script.tags.sort()).toEqual(['deploy-info', 'node', 'site']);
  });

  it('adds a deploy-info script to a deployed machine the next time it asks for its scripts, sorted by name, and stores its signal', async () => {
    const { systemId, token } = await createDeployed(h, { hostname: `late-script-${kind}` });
    // Uploaded after the machine was created; a testing script and a destructive one never join.
    expect((await upload(deployInfo('45-site-late', '#!/bin/sh\necho late\n', { timeout: '30' }))).status).toBe(200);
    expect((await upload(deployInfo('46-site-testing', INVENTORY, { type: 'testing' }))).status).toBe(200);
    expect((await upload(deployInfo('47-site-wipe', INVENTORY, { destructive: 'true' }))).status).toBe(200);

    const response = await call(h, 'GET', '/metadata/2012-03-01/maas-scripts', token);
    expect(response.status).toBe(200);
    const members = await untar(Buffer.from(await response.arrayBuffer()));
    const index = JSON.parse(members.find((m) => m.name === 'index.json')!.content.toString()) as ScriptIndex;
    const entries = index['1.0'].commissioning_scripts!;
    const expected = [...DEPLOY_INFO_SCRIPTS, '45-site-late', '70-site-inventory', '76-embedded'].sort();
    expect(entries.map((e) => e.name)).toEqual(expected);
    const late = entries.find((e) => e.name === '45-site-late')!;
    expect(late).toMatchObject({ default: false, timeout_seconds: 30, has_started: false, path: 'commissioning/45-site-late' });
    expect(late.tags!.sort()).toEqual(['deploy-info', 'node']);
    expect(entries.filter((e) => e.default).map((e) => e.name)).toEqual([...DEPLOY_INFO_SCRIPTS]);
    const member = members.find((m) => m.name === 'commissioning/45-site-late')!;
    expect([member.content.toString(), member.mode & 0o777]).toEqual(['#!/bin/sh\necho late\n', 0o755]);

    expect((await signal(h, token, '45-site-late', { resultId: late.script_result_id!, stdout: 'late\n' })).status).toBe(200);
    const stored = h.store.resultsOfSet(h.store.getMachine(systemId)!.scriptSetId!).filter((r) => r.name === '45-site-late');
    expect(stored).toHaveLength(1);
    expect([stored[0]!.status, Buffer.from(stored[0]!.stdout!, 'base64').toString()]).toEqual([ScriptResultStatus.PASSED, 'late\n']);

    // Asking again adds nothing new.
    const again = await untar(Buffer.from(await (await call(h, 'GET', '/metadata/2012-03-01/maas-scripts', token)).arrayBuffer()));
    const againIndex = JSON.parse(again.find((m) => m.name === 'index.json')!.content.toString()) as ScriptIndex;
    expect(againIndex['1.0'].commissioning_scripts!.map((e) => e.name)).toEqual(expected);
  });

  it('gives a machine created after the upload the script from the start, as a pending result', async () => {
    const { systemId } = await createDeployed(h, { hostname: `early-script-${kind}` });
    const results = h.store.resultsOfSet(h.store.getMachine(systemId)!.scriptSetId!);
    expect(results.map((r) => r.name)).toContain('70-site-inventory');
    expect(results.every((r) => r.status === ScriptResultStatus.PENDING)).toBe(true);
  });

  it('deletes an uploaded script with its results (204, then 404 and gone from tarballs) but never a built-in one', async () => {
    const { token } = await createDeployed(h, { hostname: `deleted-script-${kind}` });
    const deleted = await call(h, 'DELETE', `${SCRIPTS}45-site-late`, h.adminKey);
    expect(deleted.status).toBe(204);
    expect((await call(h, 'GET', `${SCRIPTS}45-site-late`, h.adminKey)).status).toBe(404);
    const members = await untar(Buffer.from(await (await call(h, 'GET', '/metadata/2012-03-01/maas-scripts', token)).arrayBuffer()));
    expect(members.map((m) => m.name)).not.toContain('commissioning/45-site-late');
    // Its results go with it, as upstream cascades the deletion: no machine waits for it.
    const earlier = h.store.machineByHostname(`late-script-${kind}`)!;
    expect(h.store.resultsOfSet(earlier.scriptSetId!).map((r) => r.name)).not.toContain('45-site-late');
    const builtin = await call(h, 'DELETE', `${SCRIPTS}maas-lshw`, h.adminKey);
    expect([builtin.status, await builtin.text()]).toEqual([400, 'Unable to delete default script']);
  });
});
