import { afterEach, describe, expect, it } from 'vitest';
import { CliError, MaasApiError, UsageError } from '../../src/errors.js';
import { MaasClient, metadataBase, normaliseMaasUrl, type ClientDeps } from '../../src/maas/client.js';
import { parseCredentials } from '../../src/maas/credentials.js';
import type { SignalFields, SignalFile, SignalStatus } from '../../src/maas/types.js';
import { startFakeMaas, type FakeMaas, type RecordedRequest } from '../helpers/fake-maas.js';
import { partBytes, recordedRequests } from '../helpers/wire.js';

const wire = recordedRequests;

const fakes: FakeMaas[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});
async function fake(options: Parameters<typeof startFakeMaas>[0] = {}) {
  const maas = await startFakeMaas(options);
  fakes.push(maas);
  return maas;
}
const quick: ClientDeps = { retry: { attempts: 4, initialDelayMs: 1, maxDelayMs: 5, totalMs: 5000 }, log: () => undefined };
const isMetadata = (r: RecordedRequest) => r.path.startsWith('/MAAS/metadata/');
const machineCreds = parseCredentials('CK:TK:TS', 'machine token');

describe('metadata URLs', () => {
  it("keep only the scheme and host:port of a creds file's endpoint or a MAAS URL", () => {
    expect(metadataBase('http://10.0.0.3:5248/MAAS/metadata/status/x7ghqk')).toBe('http://10.0.0.3:5248/MAAS/metadata/2012-03-01/');
    expect(metadataBase('https://maas.example.com/somewhere/else')).toBe('https://maas.example.com/MAAS/metadata/2012-03-01/');
    expect(MaasClient.forMetadata('http://10.0.0.3:5248/MAAS/metadata/status/x7ghqk', machineCreds).metadataUrl).toBe(
      'http://10.0.0.3:5248/MAAS/metadata/2012-03-01/',
    );
  });
});

describe('normaliseMaasUrl', () => {
  it('strips trailing slashes and accepts http and https', () => {
    expect(normaliseMaasUrl('http://10.0.0.2:5240/MAAS/')).toBe('http://10.0.0.2:5240/MAAS');
    expect(normaliseMaasUrl('https://maas.example.com/MAAS')).toBe('https://maas.example.com/MAAS');
  });

  it.each(['10.0.0.2:5240/MAAS', 'not a url', 'ftp://maas/MAAS', 'http://u:p@maas/MAAS'])('rejects %j with a usage error', (text) => {
    expect(() => normaliseMaasUrl(text)).toThrow(UsageError);
  });

  it.each(['http://ops@x:Secret-Pw-1@maas/MAAS', 'ftp:/ops:Secret-Pw-1@maas', 'maas:ops:Secret-Pw-1@maas', 'https:///ops:Secret-Pw-1@'])('never repeats the password of %j in its error', (text) => {
    expect(() => normaliseMaasUrl(text)).toThrow(UsageError);
    expect(() => normaliseMaasUrl(text)).not.toThrow(/Secret-Pw-1/);
  });
});

describe('MaasClient.signal', () => {
  it("sends the same multipart layout as upstream's recorded signal", async () => {
    const recorded = wire('report-results-config').find((r) => r.multipart?.parts.some((p) => p.name === 'op'))!;
    const plain = recorded.multipart!.parts.filter((p) => p.filename === null);
    const value = (name: string) => plain.find((p) => p.name === name)?.value ?? undefined;
    const fields: SignalFields = {
      status: value('status') as SignalStatus,
      runtime: Number(value('runtime')),
      exit_status: Number(value('exit_status')),
      name: value('name')!,
      ...(value('error') === undefined ? {} : { error: value('error') }),
      ...(value('script_result_id') === undefined ? {} : { script_result_id: Number(value('script_result_id')) }),
      ...(value('script_version_id') === undefined ? {} : { script_version_id: Number(value('script_version_id')) }),
    };
    const files: SignalFile[] = recorded.multipart!.parts.filter((p) => p.filename !== null).map((p) => ({ name: p.name, content: partBytes(p) }));

    const maas = await fake();
    maas.intercept((r) => (isMetadata(r) ? { status: 200, body: 'OK' } : undefined));
    await MaasClient.forMetadata(maas.url, machineCreds, quick).signal(fields, files);

    const sent = maas.requests[0]!;
    expect(sent.method).toBe('POST');
    expect(sent.path).toBe(recorded.path);
    expect(sent.multipart!.boundary).toMatch(/^[A-Za-z]{31}$/);
    expect(sent.multipart!.endsWithClosingCrlf).toBe(true);
    expect(sent.multipart!.parts.map((p) => p.headers)).toEqual(recorded.multipart!.parts.map((p) => p.part_headers));
    expect(sent.multipart!.parts.map((p) => p.value.toString('base64'))).toEqual(recorded.multipart!.parts.map((p) => partBytes(p).toString('base64')));
    // The recording shortened temporary paths inside two values but kept every part's real
    // size; with those sizes and a boundary of the same length, the framing is byte-identical.
    const framing = (total: number, sizes: number[]) => total - sizes.reduce((a, b) => a + b, 0);
    expect(framing(sent.body.length, sent.multipart!.parts.map((p) => p.value.length))).toBe(
      framing(recorded.body_len, recorded.multipart!.parts.map((p) => p.size)),
    );
    expect(sent.header('content-length')).toBe(String(sent.body.length));
  });

  it('retries a signal answered 503 twice, then succeeds', async () => {
    const maas = await fake();
    maas.failNext(2, { status: 503 }, isMetadata);
    maas.intercept((r) => (isMetadata(r) ? { status: 200, body: 'OK' } : undefined));
    await MaasClient.forMetadata(maas.url, machineCreds, quick).signal({ status: 'WORKING', runtime: 0.5, exit_status: 0, name: 'x' }, []);
    expect(maas.requests).toHaveLength(3);
  });

  it('treats any answer but exactly 200 as a failure', async () => {
    const maas = await fake();
    maas.intercept((r) => (isMetadata(r) ? { status: 204 } : undefined));
    const error = await MaasClient.forMetadata(maas.url, machineCreds, quick)
      .signal({ status: 'WORKING', runtime: 1, exit_status: 0, name: 'x' }, [])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MaasApiError);
    expect((error as Error).message).toMatch(/^Sending the result of x failed: HTTP 204/);
    expect(maas.requests).toHaveLength(1);
  });

  it('sends a whole-second runtime as Python would print it', async () => {
    const maas = await fake();
    maas.intercept((r) => (isMetadata(r) ? { status: 200, body: 'OK' } : undefined));
    await MaasClient.forMetadata(maas.url, machineCreds, quick).signal({ status: 'TIMEDOUT', error: 'Timeout(0:00:03) expired on x', runtime: 3, exit_status: 124, name: 'x' }, []);
    const parts = maas.requests[0]!.multipart!.parts.map((p) => [p.name, p.value.toString()]);
    expect(parts).toEqual([
      ['op', 'signal'],
      ['status', 'TIMEDOUT'],
      ['error', 'Timeout(0:00:03) expired on x'],
      ['runtime', '3.0'],
      ['exit_status', '124'],
      ['name', 'x'],
    ]);
  });
});

describe('MaasClient.downloadScripts', () => {
  it('fetches maas-scripts signed with the machine token, and gives null on 204', async () => {
    const maas = await fake();
    maas.failNext(1, { status: 200, headers: { 'Content-Type': 'application/x-tar' }, body: Buffer.from([1, 2, 3]) }, isMetadata);
    maas.failNext(1, { status: 204 }, isMetadata);
    const client = MaasClient.forMetadata(`${maas.url}/metadata/status/abc123`, machineCreds, quick);
    expect([...(await client.downloadScripts())!]).toEqual([1, 2, 3]);
    expect(await client.downloadScripts()).toBeNull();
    expect(maas.requests[0]!.path).toBe('/MAAS/metadata/2012-03-01/maas-scripts');
    expect(maas.requests[0]!.oauth).toMatchObject({ oauth_consumer_key: 'CK', oauth_token: 'TK', oauth_signature: '&TS' });
  });
});

describe('MaasClient admin calls', () => {
  it('creates a machine with repeated mac_addresses fields and finds it with list filters', async () => {
    const maas = await fake();
    const client = new MaasClient({ baseUrl: maas.url, credentials: parseCredentials(maas.adminKey, 'key') }, quick);
    const created = await client.createMachine({ hostname: 'web01', deployed: 'true', architecture: 'amd64/generic', mac_addresses: ['52:54:00:00:00:01', '52:54:00:00:00:02'] });
    const sentMacs = maas.requests[0]!.multipart!.parts.filter((p) => p.name === 'mac_addresses').map((p) => p.value.toString());
    expect(sentMacs).toEqual(['52:54:00:00:00:01', '52:54:00:00:00:02']);
    expect((await client.listMachines({ mac_address: ['52-54-00-00-00-02', 'aa:aa:aa:aa:aa:aa'] })).map((m) => m.system_id)).toEqual([created.system_id]);
    expect(await client.listMachines({ hostname: ['web02'] })).toEqual([]);
    expect((await client.readMachine(created.system_id)).hostname).toBe('web01');
    expect(maas.requests[1]!.path).toBe('/MAAS/api/2.0/machines/?mac_address=52-54-00-00-00-02&mac_address=aa%3Aaa%3Aaa%3Aaa%3Aaa%3Aaa');
  });

  it('regenerates a token, after which the old one is gone', async () => {
    const maas = await fake();
    const client = new MaasClient({ baseUrl: maas.url, credentials: parseCredentials(maas.adminKey, 'key') }, quick);
    const { system_id } = await client.createMachine({ hostname: 'web01', deployed: 'true' });
    const before = await client.getMachineToken(system_id);
    const after = await client.regenerateMachineToken(system_id);
    expect(after.token_key).not.toBe(before!.token_key);
    expect(await client.getMachineToken(system_id)).toEqual(after);
  });

  it('says clearly when the server has no regenerate_token op', async () => {
    const maas = await fake({ regenerate: false });
    const client = new MaasClient({ baseUrl: maas.url, credentials: parseCredentials(maas.adminKey, 'key') }, quick);
    const { system_id } = await client.createMachine({ hostname: 'web01', deployed: 'true' });
    const error = await client.regenerateMachineToken(system_id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as Error).message).toMatch(/has no op=regenerate_token \(HTTP 400 Bad Request\).*without --regenerate/);
  });

  it('gives null for a machine without a token', async () => {
    const maas = await fake();
    const client = new MaasClient({ baseUrl: maas.url, credentials: parseCredentials(maas.adminKey, 'key') }, quick);
    const { system_id } = await client.createMachine({ hostname: 'web01', deployed: 'true' });
    maas.machines[0]!.token = null;
    expect(await client.getMachineToken(system_id)).toBeNull();
  });

  it('reports an HTML page where JSON was expected in one line, pointing at the URL', async () => {
    const maas = await fake();
    maas.intercept(() => ({ status: 200, headers: { 'Content-Type': 'text/html' }, body: '<html><body>\nWelcome to nginx!\n</body></html>' }));
    const client = new MaasClient({ baseUrl: maas.url, credentials: parseCredentials(maas.adminKey, 'key') }, quick);
    const error = await client.getMachineToken('abc123').catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      `Getting machine credentials failed: the server answered HTTP 200 with something else: (an HTML page, not a MAAS API answer) instead of JSON; check that ${maas.url} is a MAAS URL ending in /MAAS`,
    );
  });

  it('names the machine a 404 was about', async () => {
    const maas = await fake();
    const client = new MaasClient({ baseUrl: maas.url, credentials: parseCredentials(maas.adminKey, 'key') }, quick);
    await expect(client.getMachineToken('nosuch')).rejects.toThrow('Getting machine credentials failed: HTTP 404 Not Found: No Machine matches the given query.');
  });
});
