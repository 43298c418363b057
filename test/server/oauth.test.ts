// How the server decides who sent a request (docs/protocol.md §2.4), over HTTP against the real
// server: which Authorization headers count as OAuth at all, and which signed requests it refuses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizationHeader } from '../../src/maas/oauth.js';
import { createDeployed, machineToken, oauthHeader, splitKey, startHarness, type Harness } from './server-harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('memory');
});
afterAll(() => h.stop());

/** GET the machine list (admins only) with these headers: status and body. */
async function machines(headers: Record<string, string> = {}, query = ''): Promise<[number, string]> {
  const response = await fetch(`${h.url}/api/2.0/machines/${query}`, { headers });
  return [response.status, await response.text()];
}

const ANONYMOUS: [number, string] = [401, 'Forbidden'];
const now = () => Math.floor(Date.now() / 1000);

/** The Authorization header's parameters, in order, as name → value (values still encoded). */
function paramsOf(header: string): [string, string][] {
  return [...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]);
}
const headerOf = (params: [string, string][], scheme = 'OAuth') => `${scheme} ${params.map(([n, v]) => `${n}="${v}"`).join(', ')}`;

describe('which requests the server takes as OAuth-signed', () => {
  it('lets an admin list machines with a correctly signed request', async () => {
    const [status] = await machines({ Authorization: oauthHeader(h.adminKey) });
    expect(status).toBe(200);
  });

  it.each(['oauth_consumer_key', 'oauth_token', 'oauth_signature', 'oauth_signature_method', 'oauth_timestamp', 'oauth_nonce'])(
    'takes a request lacking %s as unsigned (anonymous), however valid the rest is',
    async (missing) => {
      const params = paramsOf(oauthHeader(h.adminKey)).filter(([name]) => name !== missing);
      expect(await machines({ Authorization: headerOf(params) })).toEqual(ANONYMOUS);
    },
  );

  it.each(['Bearer', 'Basic', 'oauth', 'OAuth2'])('does not read OAuth parameters from a %s Authorization header', async (scheme) => {
    const params = paramsOf(oauthHeader(h.adminKey));
    expect(await machines({ Authorization: headerOf(params, scheme) })).toEqual(ANONYMOUS);
  });

  it('reads OAuth parameters from the query string when there is no header, the header winning over the query', async () => {
    const query = `?${new URLSearchParams(paramsOf(oauthHeader(h.adminKey)).map(([n, v]): [string, string] => [n, decodeURIComponent(v)]))}`;
    expect((await machines({}, query))[0]).toBe(200);
    // A wrong signature in the header is not rescued by a right one in the query.
    const { ck, tk } = splitKey(h.adminKey);
    const [status, body] = await machines({ Authorization: oauthHeader(`${ck}:${tk}:wrong`) }, query.replace(/oauth_nonce=\d+/, 'oauth_nonce=other'));
    expect([status, body]).toEqual([401, "Authorization Error: 'Invalid signature.'"]);
  });

  it('ignores a realm and items without a value in the header, even one named like a parameter', async () => {
    const header = oauthHeader(h.adminKey).replace('OAuth ', 'OAuth realm="", junk, ');
    expect((await machines({ Authorization: header }))[0]).toBe(200);
    expect((await machines({ Authorization: `${oauthHeader(h.adminKey)}, oauth_tokenX` }))[0]).toBe(200);
  });

  it('reads a header with spaces around "=" and a nonce that contains the word realm', async () => {
    const header = oauthHeader(h.adminKey, { nonce: 'realm42' }).replace(/(\w+)="/g, '$1 = "');
    expect((await machines({ Authorization: header }))[0]).toBe(200);
  });

  it('takes OAuth parameters from the header and the query only, never from form fields of the body (it knows the caller before reading one)', async () => {
    const { systemId } = await createDeployed(h, { hostname: 'form-signed' });
    const key = await machineToken(h, systemId, h.adminKey);
    const fields = (nonce: string) => new URLSearchParams([['op', 'signal'], ['status', 'WORKING'], ...paramsOf(oauthHeader(key, { nonce })).map(([n, v]): [string, string] => [n, decodeURIComponent(v)])]);
    const post = (body: URLSearchParams, headers: Record<string, string> = {}, query = '') =>
      fetch(`${h.url}/metadata/2012-03-01/${query}`, { method: 'POST', body, headers }).then(async (r) => [r.status, await r.text()]);
    // Signed in the body alone: unsigned as far as the server is concerned, refused unread.
    expect(await post(fields('form-1'))).toEqual([401, 'Forbidden']);
    // The same parameters in the query are read.
    const query = `?${new URLSearchParams(paramsOf(oauthHeader(key, { nonce: 'query-1' })).map(([n, v]): [string, string] => [n, decodeURIComponent(v)]))}`;
    expect((await post(new URLSearchParams([['op', 'signal'], ['status', 'WORKING']]), {}, query))[0]).toBe(200);
    const { ck, tk } = splitKey(key);
    expect(await post(fields('form-2'), { Authorization: oauthHeader(`${ck}:${tk}:wrong`) })).toEqual([401, "Authorization Error: 'Invalid signature.'"]);
  });

  it('checks a signature made from secrets with reserved characters, encoded as the client encodes them', async () => {
    const special = await startHarness('memory', { adminKey: "ck1:tk1:s!e'c(r)e*t" });
    try {
      const header = authorizationHeader({ consumerKey: 'ck1', tokenKey: 'tk1', tokenSecret: "s!e'c(r)e*t", consumerSecret: '' }, { nowMs: Date.now() })!;
      expect((await fetch(`${special.url}/api/2.0/machines/`, { headers: { Authorization: header } })).status).toBe(200);
    } finally {
      await special.stop();
    }
  });

  it('refuses malformed percent-encoding in the header with 400', async () => {
    const header = oauthHeader(h.adminKey).replace(/oauth_signature="[^"]*"/, 'oauth_signature="%zz"');
    expect(await machines({ Authorization: header })).toEqual([400, 'Bad OAuth request: malformed percent-encoding in the Authorization header']);
  });
});

describe('signed requests the server refuses', () => {
  it("refuses a machine's token presented with another consumer key, even the admin's", async () => {
    const { systemId } = await createDeployed(h, { hostname: 'consumer-check' });
    const machine = splitKey(await machineToken(h, systemId, h.adminKey));
    const admin = splitKey(h.adminKey);
    expect(machine.ck).not.toBe(admin.ck);
    const response = await fetch(`${h.url}/metadata/2012-03-01/`, { headers: { Authorization: oauthHeader(`${admin.ck}:${machine.tk}:${machine.ts}`) } });
    expect([response.status, await response.text()]).toEqual([401, 'Authorization Error: Invalid API key.']);
    expect(response.headers.get('www-authenticate')).toBe('OAuth realm="OAuth"');
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    // The same token with its own consumer key is taken.
    const own = await fetch(`${h.url}/metadata/2012-03-01/`, { headers: { Authorization: oauthHeader(`${machine.ck}:${machine.tk}:${machine.ts}`) } });
    expect(own.status).toBe(200);
  });

  it.each(['HMAC-SHA1', 'RSA-SHA1', 'plaintext'])('refuses the %s signature method, even with the PLAINTEXT signature', async (method) => {
    const header = oauthHeader(h.adminKey).replace('oauth_signature_method="PLAINTEXT"', `oauth_signature_method="${method}"`);
    expect(await machines({ Authorization: header })).toEqual([401, `Authorization Error: 'Signature method ${method} not supported try one of the following: PLAINTEXT'`]);
  });

  it('shortens a long signature method it names in the refusal', async () => {
    const method = 'M'.repeat(100);
    const header = oauthHeader(h.adminKey).replace('oauth_signature_method="PLAINTEXT"', `oauth_signature_method="${method}"`);
    expect(await machines({ Authorization: header })).toEqual([401, `Authorization Error: 'Signature method ${'M'.repeat(40)}… not supported try one of the following: PLAINTEXT'`]);
  });

  it('refuses a token it does not know, naming it', async () => {
    const { ck, ts } = splitKey(h.adminKey);
    expect(await machines({ Authorization: oauthHeader(`${ck}:no-such-token:${ts}`) })).toEqual([401, "Authorization Error: 'Invalid access token: no-such-token'"]);
  });

  it('refuses an OAuth version other than 1.0, and takes a request without one', async () => {
    const header = oauthHeader(h.adminKey);
    expect(await machines({ Authorization: header.replace('oauth_version="1.0"', 'oauth_version="2.0"') })).toEqual([401, "Authorization Error: 'OAuth version 2.0 not supported.'"]);
    expect((await machines({ Authorization: oauthHeader(h.adminKey).replace('oauth_version="1.0", ', '') }))[0]).toBe(200);
  });

  it('refuses a signature that only starts like the right one, or has it as a prefix', async () => {
    const { ck, tk, ts } = splitKey(h.adminKey);
    for (const secret of [ts.slice(0, -1), `${ts}x`, '']) {
      const header = oauthHeader(h.adminKey).replace(/oauth_signature="[^"]*"/, `oauth_signature="%26${secret}"`);
      expect(await machines({ Authorization: header })).toEqual([401, "Authorization Error: 'Invalid signature.'"]);
    }
    expect(ck && tk).toBeTruthy();
  });

  it('takes a timestamp up to the threshold either way, and refuses one just past it', async () => {
    for (const skew of [-300, 300]) expect((await machines({ Authorization: oauthHeader(h.adminKey, { timestamp: now() + skew }) }))[0]).toBe(200);
    const [pastStatus, past] = await machines({ Authorization: oauthHeader(h.adminKey, { timestamp: now() - 302 }) });
    expect([pastStatus, past]).toEqual([401, expect.stringMatching(/^Authorization Error: 'Expired timestamp: given \d+ and now \d+ has a greater difference than threshold 300'$/)]);
    const [futureStatus, future] = await machines({ Authorization: oauthHeader(h.adminKey, { timestamp: now() + 302 }) });
    expect([futureStatus, future]).toEqual([401, expect.stringMatching(/^Authorization Error: 'Timestamp from the future: given \d+ and now \d+ has a greater difference than threshold 300'$/)]);
  });

  it('refuses a timestamp that is negative or longer than a Unix time, naming it shortened', async () => {
    expect((await machines({ Authorization: oauthHeader(h.adminKey, { timestamp: 99_999_999_999 }) }))[0]).toBe(401);
    for (const value of ['-5', '123456789012']) {
      const header = oauthHeader(h.adminKey).replace(/oauth_timestamp="\d+"/, `oauth_timestamp="${value}"`);
      expect(await machines({ Authorization: header })).toEqual([400, `Bad OAuth request: oauth_timestamp '${value}' is not a Unix time in seconds`]);
    }
    for (const [digits, shown] of [[40, '9'.repeat(40)], [41, `${'9'.repeat(40)}…`]] as const) {
      const header = oauthHeader(h.adminKey).replace(/oauth_timestamp="\d+"/, `oauth_timestamp="${'9'.repeat(digits)}"`);
      expect(await machines({ Authorization: header })).toEqual([400, `Bad OAuth request: oauth_timestamp '${shown}' is not a Unix time in seconds`]);
    }
  });

  it('names a timestamp that is no integer', async () => {
    for (const value of ['12.5', 'soon', '1e9']) {
      const header = oauthHeader(h.adminKey).replace(/oauth_timestamp="\d+"/, `oauth_timestamp="${value}"`);
      expect(await machines({ Authorization: header })).toEqual([400, `Bad OAuth request: oauth_timestamp has an unexpected type: '${value}' is not an integer`]);
    }
  });

  it('takes the nonce of an unsigned-looking request as nothing: a nonce alone is not an OAuth attempt', async () => {
    expect(await machines({ Authorization: 'OAuth oauth_nonce="1"' })).toEqual(ANONYMOUS);
  });
});
