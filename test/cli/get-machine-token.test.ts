import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli, type CliRun } from '../helpers/cli.js';
import { startFakeMaas, type FakeMaas, type FakeMaasOptions } from '../helpers/fake-maas.js';
import { removeTree, tempDir } from '../helpers/trees.js';
import { recordedRequests } from '../helpers/wire.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((fn) => fn()));
});

async function fake(options: FakeMaasOptions = {}): Promise<FakeMaas> {
  const maas = await startFakeMaas(options);
  cleanup.push(() => maas.close());
  return maas;
}
async function dir(): Promise<string> {
  const path = await tempDir('mrs-token-');
  cleanup.push(() => removeTree(path));
  return path;
}

const QUICK = { MAAS_RUN_SCRIPTS_RETRY_DELAY: '0.05', MAAS_RUN_SCRIPTS_ATTEMPTS: '3' };
const getToken = (args: string[], cwd?: string): Promise<CliRun> =>
  runCli(['get-machine-token', ...args], { env: QUICK, ...(cwd ? { cwd } : {}) });

/** A fake with one deployed machine, created through the API as register-machine would. */
async function withMachine(options: FakeMaasOptions = {}): Promise<{ maas: FakeMaas; systemId: string }> {
  const maas = await fake({ systemIds: ['xyz123'], ...options });
  const out = await dir();
  const run = await runCli(['register-machine', maas.url, maas.adminKey, '--no-report', '--hostname', 'web01', '--dir', out]);
  expect(run.exitCode, run.stderr).toBe(0);
  maas.requests.length = 0;
  return { maas, systemId: maas.machines[0]!.system_id };
}

describe('get-machine-token', () => {
  it("sends upstream's request and writes the creds file upstream writes, silently", async () => {
    const recorded = recordedRequests('get-machine-token-file')[0]!;
    const { maas } = await withMachine({ adminKey: 'CK:TK:TS' });
    const cwd = await dir();
    const run = await getToken([maas.url, 'CK:TK:TS', 'xyz123', 'token.yaml'], cwd);
    expect(run).toEqual({ exitCode: 0, stdout: '', stderr: '' });
    const request = maas.requests[0]!;
    const mask = (h: string | undefined) => h?.replace(/oauth_nonce="\d+"/, 'N').replace(/oauth_timestamp="\d+"/, 'T');
    expect(maas.requests).toHaveLength(1);
    expect(`${request.method} ${request.path}`).toBe(`GET ${recorded.path}`);
    expect(mask(request.header('authorization'))).toBe(mask(recorded.headers.find(([n]) => n === 'Authorization')![1]));

    const file = join(cwd, 'token.yaml');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(parse(await readFile(file, 'utf8'))).toEqual({
      reporting: { maas: { ...maas.machines[0]!.token, endpoint: `${maas.url}/metadata/status/xyz123` } },
    });
  });

  it('prints the creds YAML when TOKEN_FILE is - or omitted', async () => {
    const { maas, systemId } = await withMachine();
    const cwd = await dir();
    const dash = await getToken([maas.url, maas.adminKey, systemId, '-'], cwd);
    const omitted = await getToken([maas.url, maas.adminKey, systemId], cwd);
    expect(dash.exitCode).toBe(0);
    expect(omitted.stdout).toBe(dash.stdout);
    expect(parse(dash.stdout).reporting.maas.token_key).toBe(maas.machines[0]!.token!.token_key);
    expect(await readdir(cwd)).toEqual([]);
  });

  it('fails in one line on an unknown machine and leaves no file behind', async () => {
    const { maas } = await withMachine();
    const cwd = await dir();
    const run = await getToken([maas.url, maas.adminKey, 'nosuch', 'token.yaml'], cwd);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toBe('Getting machine credentials failed: HTTP 404 Not Found: No Machine matches the given query.');
    expect(await readdir(cwd)).toEqual([]);
  });

  it('leaves an existing TOKEN_FILE untouched when the request fails', async () => {
    const { maas, systemId } = await withMachine();
    const cwd = await dir();
    await writeFile(join(cwd, 'token.yaml'), 'previous\n', { mode: 0o600 });
    maas.intercept(() => ({ status: 500, body: 'boom' }));
    const run = await getToken([maas.url, maas.adminKey, systemId, 'token.yaml'], cwd);
    expect(run.exitCode).toBe(1);
    expect(await readFile(join(cwd, 'token.yaml'), 'utf8')).toBe('previous\n');
    expect(await readdir(cwd)).toEqual(['token.yaml']);
  });

  it('says "Credentials not found" for a machine without a token', async () => {
    const { maas, systemId } = await withMachine();
    maas.machines[0]!.token = null;
    const run = await getToken([maas.url, maas.adminKey, systemId]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/^Getting machine credentials failed: Credentials not found \(machine \w+ has no token; .*\)$/);
  });

  it('regenerates with --regenerate: the file holds the new token and the old one is gone', async () => {
    const { maas, systemId } = await withMachine();
    const old = maas.machines[0]!.token!;
    const cwd = await dir();
    const run = await getToken([maas.url, maas.adminKey, systemId, 'token.yaml', '--regenerate'], cwd);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toBe(`Regenerated the token of machine ${systemId}; the previous one no longer works.`);
    const written = parse(await readFile(join(cwd, 'token.yaml'), 'utf8')).reporting.maas;
    expect(written.token_key).toBe(maas.machines[0]!.token!.token_key);
    expect(written.token_key).not.toBe(old.token_key);
    expect(maas.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`POST /MAAS/api/2.0/machines/${systemId}/?op=regenerate_token`]);
  });

  it('says clearly when the server cannot regenerate tokens, and writes nothing', async () => {
    const { maas, systemId } = await withMachine({ regenerate: false });
    const cwd = await dir();
    const run = await getToken([maas.url, maas.adminKey, systemId, 'token.yaml', '--regenerate'], cwd);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/^Regenerating machine credentials failed: the MAAS server at http:\/\/127\.0\.0\.1:\d+ has no op=regenerate_token .* without --regenerate .*$/);
    expect(await readdir(cwd)).toEqual([]);
  });

  it('rejects a TOKEN_FILE in a missing directory with exit 2 before any request', async () => {
    const maas = await fake();
    const run = await getToken([maas.url, maas.adminKey, 'xyz123', join(await dir(), 'missing', 'token.yaml')]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/^the directory of TOKEN_FILE .* cannot be used: no such file or directory; create it or choose another directory$/);
    expect(maas.requests).toHaveLength(0);
  });

  it('rejects a malformed token with exit 2 and never shows the token or any secret', async () => {
    const { maas, systemId } = await withMachine();
    const runs = [
      await getToken([maas.url, 'CK:TK:TOPSECRETVALUE:CS:x', systemId]),
      await getToken([maas.url, maas.adminKey, systemId, 'token.yaml', '--regenerate'], await dir()),
      await getToken([maas.url, maas.adminKey, 'nosuch']),
    ];
    expect(runs[0]!.exitCode).toBe(2);
    expect(runs[0]!.stderr).toMatch(/^error: argument ADMIN_TOKEN: Invalid OAuth credentials format/);
    const secrets = ['TOPSECRETVALUE', maas.adminKey.split(':')[2]!, maas.machines[0]!.token!.token_secret];
    for (const run of runs) for (const secret of secrets) expect(`${run.stdout}${run.stderr}`).not.toContain(secret);
  });
});
