// Bad input gets a 4xx with a MAAS-style body, never a crash, never half a request stored; every
// response carries a Date and none redirects (docs/protocol.md §2.2, §2.4, §2.8).
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptResultStatus } from '../../src/maas/types.js';
import { NONCE_MAX_LENGTH } from '../../src/server/oauth.js';
import { printable } from '../../src/server/server.js';
import { call, createDeployed, oauthHeader, signal, startHarness, type Harness } from './server-harness.js';

describe('bad input to the server', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('sqlite');
  });
  afterAll(() => h.stop());

  it('answers malformed multipart with 400 and stores nothing', async () => {
    const { systemId, token } = await createDeployed(h, { hostname: 'mp' });
    const body = '--XYZ\r\nContent-Disposition: form-data; name="op"\r\n\r\nsignal\r\n--XYZ\r\nContent-Disposition: form-data; name="maas-lshw.out"; filename="maas-lshw.out"\r\n\r\n<list>';
    const response = await fetch(`${h.url}/metadata/2012-03-01/`, {
      method: 'POST',
      headers: { Authorization: oauthHeader(token), 'Content-Type': 'multipart/form-data; boundary=XYZ' },
      body,
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/^Malformed form data: /);
    const results = h.store.resultsOfSet(h.store.getMachine(systemId)!.scriptSetId!);
    expect(results.every((r) => r.status === ScriptResultStatus.PENDING && r.stdout === null)).toBe(true);
  });

  it('answers a multipart part without a name with 400, never 500, whoever sends it, and stores nothing', async () => {
    const { systemId, token } = await createDeployed(h, { hostname: 'unnamed' });
    const part = (disposition: string, value: string) => `--XYZ\r\nContent-Disposition: form-data${disposition}\r\n\r\n${value}\r\n`;
    const bodies = [
      `${part('', 'signal')}--XYZ--\r\n`,
      `${part('; name="op"', 'signal')}${part('; name="status"', 'WORKING')}${part('; filename="maas-lshw.out"', '<list/>')}--XYZ--\r\n`,
    ];
    // Unsigned, only an enlistment's body is read at all (any other gets 401 unread).
    for (const body of bodies) {
      for (const [path, authorization] of [['/api/2.0/machines/', undefined], ['/metadata/2012-03-01/', oauthHeader(token)]] as const) {
        const response = await fetch(`${h.url}${path}`, {
          method: 'POST',
          headers: { ...(authorization ? { Authorization: authorization } : {}), 'Content-Type': 'multipart/form-data; boundary=XYZ' },
          body,
        });
        expect([response.status, await response.text()]).toEqual([400, 'Malformed form data: a part has no name (Content-Disposition: form-data; name="...")']);
      }
    }
    const results = h.store.resultsOfSet(h.store.getMachine(systemId)!.scriptSetId!);
    expect(results.every((r) => r.status === ScriptResultStatus.PENDING && r.stdout === null)).toBe(true);
  });

  it('rejects a stale timestamp, a reused nonce and a wrong signature with 401 and the OAuth challenge', async () => {
    const stale = await fetch(`${h.url}/api/2.0/machines/`, { headers: { Authorization: oauthHeader(h.adminKey, { timestamp: Math.floor(Date.now() / 1000) - 3600 }) } });
    expect(stale.status).toBe(401);
    expect(stale.headers.get('www-authenticate')).toBe('OAuth realm="OAuth"');
    expect(await stale.text()).toMatch(/^Authorization Error: 'Expired timestamp: given \d+ and now \d+ has a greater difference than threshold 300'$/);

    const header = oauthHeader(h.adminKey, { nonce: 'once-only-nonce' });
    expect((await fetch(`${h.url}/api/2.0/machines/`, { headers: { Authorization: header } })).status).toBe(200);
    const replay = await fetch(`${h.url}/api/2.0/machines/`, { headers: { Authorization: header } });
    expect([replay.status, await replay.text()]).toEqual([401, "Authorization Error: 'Nonce already used: once-only-nonce'"]);

    const [ck, tk, secret] = h.adminKey.split(':');
    const wrong = await fetch(`${h.url}/api/2.0/machines/`, { headers: { Authorization: oauthHeader(`${ck}:${tk}:not-the-secret`) } });
    const text = await wrong.text();
    expect(wrong.status).toBe(401);
    expect(text).toBe("Authorization Error: 'Invalid signature.'");
    expect(text).not.toContain(secret);
  });

  it('records no nonce for a request whose signature fails, so a caller without the secret stores nothing', async () => {
    const [ck, tk] = h.adminKey.split(':');
    const forged = await fetch(`${h.url}/api/2.0/machines/`, { headers: { Authorization: oauthHeader(`${ck}:${tk}:guessed`, { nonce: 'forged-then-real' }) } });
    expect([forged.status, await forged.text()]).toEqual([401, "Authorization Error: 'Invalid signature.'"]);
    // Had the forged request's nonce been stored, the real one would now be a replay.
    const real = await fetch(`${h.url}/api/2.0/machines/`, { headers: { Authorization: oauthHeader(h.adminKey, { nonce: 'forged-then-real' }) } });
    expect(real.status).toBe(200);
  });

  it('refuses a nonce longer than the cap with 400, before anything is stored', async () => {
    const long = 'n'.repeat(NONCE_MAX_LENGTH + 1);
    const refused = await fetch(`${h.url}/api/2.0/machines/`, { headers: { Authorization: oauthHeader(h.adminKey, { nonce: long }) } });
    expect([refused.status, await refused.text()]).toEqual([400, `Bad OAuth request: oauth_nonce is longer than ${NONCE_MAX_LENGTH} characters`]);
    const atCap = await fetch(`${h.url}/api/2.0/machines/`, { headers: { Authorization: oauthHeader(h.adminKey, { nonce: 'n'.repeat(NONCE_MAX_LENGTH) }) } });
    expect(atCap.status).toBe(200);
  });

  it('refuses a timestamp more than the allowed skew in the future, like a stale one, and accepts one within it', async () => {
    const now = Math.floor(Date.now() / 1000);
    const ahead = await fetch(`${h.url}/api/2.0/machines/`, { headers: { Authorization: oauthHeader(h.adminKey, { timestamp: now + 86_400 }) } });
    expect(ahead.status).toBe(401);
    expect(ahead.headers.get('www-authenticate')).toBe('OAuth realm="OAuth"');
    expect(await ahead.text()).toMatch(/^Authorization Error: 'Timestamp from the future: given \d+ and now \d+ has a greater difference than threshold 300'$/);
    const slightlyAhead = await fetch(`${h.url}/api/2.0/machines/`, { headers: { Authorization: oauthHeader(h.adminKey, { timestamp: now + 200 }) } });
    expect(slightlyAhead.status).toBe(200);
  });

  it('refuses a timestamp that is no Unix time in seconds (hundreds of digits, negative) with 400', async () => {
    for (const value of ['9'.repeat(400), '-5', '100000000000']) {
      const header = oauthHeader(h.adminKey).replace(/oauth_timestamp="\d+"/, `oauth_timestamp="${value}"`);
      const response = await fetch(`${h.url}/api/2.0/machines/`, { headers: { Authorization: header } });
      const text = await response.text();
      expect(response.status, value.slice(0, 20)).toBe(400);
      expect(text).toMatch(/^Bad OAuth request: oauth_timestamp '.{1,41}' is not a Unix time in seconds$/);
    }
  });

  it('answers a malformed OAuth header value with 400', async () => {
    const bad = await fetch(`${h.url}/api/2.0/machines/`, {
      headers: { Authorization: oauthHeader(h.adminKey).replace(/oauth_signature="[^"]*"/, 'oauth_signature="%zz"') },
    });
    expect(bad.status).toBe(400);
    const typed = await fetch(`${h.url}/api/2.0/machines/`, { headers: { Authorization: oauthHeader(h.adminKey).replace(/oauth_timestamp="\d+"/, 'oauth_timestamp="soon"') } });
    expect([typed.status, (await typed.text()).includes('oauth_timestamp has an unexpected type')]).toEqual([400, true]);
  });

  it('accepts an API key whose parts contain the word "realm" (only the realm parameter itself is skipped)', async () => {
    const key = 'realmConsumer:realmToken:realmSecret';
    const other = await startHarness('memory', { adminKey: key });
    try {
      const listed = await call(other, 'GET', '/api/2.0/machines/', key);
      expect(listed.status).toBe(200);
      const wrongSecret = await call(other, 'GET', '/api/2.0/machines/', 'realmConsumer:realmToken:realmWrong');
      expect(wrongSecret.status).toBe(401);
    } finally {
      await other.stop();
    }
  });

  it('answers an unknown op with MAAS’s "Unrecognised signature" text', async () => {
    const { systemId, token } = await createDeployed(h, { hostname: 'ops' });
    const api = await call(h, 'POST', `/api/2.0/machines/${systemId}/?op=frobnicate`, h.adminKey);
    expect([api.status, await api.text()]).toEqual([400, 'Unrecognised signature: method=POST op=frobnicate']);
    const metadata = await call(h, 'POST', '/metadata/2012-03-01/', token, { fields: { op: 'dance' } });
    expect([metadata.status, await metadata.text()]).toEqual([400, 'Unrecognised signature: method=POST op=dance']);
  });

  it('checks the signal status and script_result_id fields', async () => {
    const { token } = await createDeployed(h, { hostname: 'fields' });
    const none = await call(h, 'POST', '/metadata/2012-03-01/', token, { fields: { op: 'signal' } });
    expect([none.status, await none.text()]).toEqual([400, 'No provided status!']);
    const unknown = await call(h, 'POST', '/metadata/2012-03-01/', token, { fields: { op: 'signal', status: 'FOO' } });
    expect([unknown.status, await unknown.text()]).toEqual([400, "Unknown status: 'FOO'"]);
    const badId = await signal(h, token, 'maas-lshw', { extraFields: { script_result_id: 'x1' } });
    expect([badId.status, await badId.text()]).toEqual([400, 'Invalid script_result_id: Please enter an integer value']);
  });

  it('marks a report that is not JSON as FAILED with an event, and still answers 200', async () => {
    const { systemId, token } = await createDeployed(h, { hostname: 'notjson' });
    const response = await signal(h, token, '50-maas-01-commissioning', { stdout: 'stdout line\n' });
    expect([response.status, await response.text()]).toEqual([200, 'OK']);
    const result = h.store.resultsOfSet(h.store.getMachine(systemId)!.scriptSetId!).find((r) => r.name === '50-maas-01-commissioning')!;
    expect(result.status).toBe(ScriptResultStatus.FAILED);
    const events = h.store.eventsOf(systemId).map((e) => e.description);
    expect(events.some((e) => e.startsWith('Failed processing commissioning data:'))).toBe(true);
    expect(events.some((e) => e.startsWith("commissioning script '50-maas-01-commissioning' failed during post-processing"))).toBe(true);
  });

  it('answers unknown paths with 404, never redirects, and dates every response', async () => {
    const responses = [
      await fetch(`${h.origin}/nothing`, { redirect: 'manual' }),
      await fetch(`${h.url}/api/2.0/machines`, { redirect: 'manual', headers: { Authorization: oauthHeader(h.adminKey) } }),
      await fetch(`${h.url}/api/2.0/machines/`, { redirect: 'manual' }),
      await fetch(`${h.url}/metadata/2012-03-01/maas-scripts`, { redirect: 'manual' }),
    ];
    expect(responses.map((r) => r.status)).toEqual([404, 200, 401, 401]);
    for (const r of responses) expect(Number.isNaN(Date.parse(r.headers.get('date') ?? ''))).toBe(false);
  });

  it('answers unparseable HTTP with 400 and keeps serving', async () => {
    const { port } = h.server.address() as AddressInfo;
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('GARBAGE / NOT-HTTP\r\n\r\n'));
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer).toMatch(/\r\nDate: /);
    expect((await call(h, 'GET', '/api/2.0/machines/', h.adminKey)).status).toBe(200);
  });
});

describe('the server log', () => {
  it('shows control characters of text it was sent escaped, so a line cannot be forged or drive a terminal', () => {
    const sent = 'web01\n2026-01-01T00:00:00Z created machine fake (admin)\u001b[2J\u0000\u009b\\x1b';
    const line = printable(`created machine abc (${sent})`);
    expect(line.split('\n')).toHaveLength(1);
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(line).toBe('created machine abc (web01\\x0a2026-01-01T00:00:00Z created machine fake (admin)\\x1b[2J\\x00\\x9b\\\\x1b)');
    expect(printable('plain text, ünïcödé and tabs? no: \t')).toBe('plain text, ünïcödé and tabs? no: \\x09');
  });
});
