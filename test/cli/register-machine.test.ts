import { readFileSync } from 'node:fs';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli, type CliRun } from '../helpers/cli.js';
import { startFakeMaas, type FakeMaas, type FakeMaasOptions, type RecordedPart, type RecordedRequest } from '../helpers/fake-maas.js';
import { removeTree, tempDir } from '../helpers/trees.js';
import { makeRoot, type Tree } from '../helpers/make-root.js';
import { recordedRequests, WIRE_DIR as WIRE, type WireRequest } from '../helpers/wire.js';

const wire = recordedRequests;
const masked = (header: string | undefined) => header?.replace(/oauth_nonce="\d+"/, 'oauth_nonce="N"').replace(/oauth_timestamp="\d+"/, 'oauth_timestamp="T"');

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
  const path = await tempDir('mrs-register-');
  cleanup.push(() => removeTree(path));
  return path;
}

/** A captured-host tree: its host name and physical NICs (name → MAC). */
async function hostTree(hostname: string, nics: Record<string, string> = {}): Promise<string> {
  const entries: Tree = { 'proc/sys/kernel/hostname': `${hostname}\n`, 'proc/sys/kernel/ostype': 'Linux\n' };
  for (const [name, mac] of Object.entries(nics)) {
    entries[`sys/devices/pci0000:00/${name}/net/${name}/address`] = `${mac}\n`;
    entries[`sys/devices/pci0000:00/${name}/net/${name}/type`] = '1\n';
    entries[`sys/devices/pci0000:00/${name}/net/${name}/device`] = { link: `../../../${name}` };
    entries[`sys/class/net/${name}`] = { link: `../../devices/pci0000:00/${name}/net/${name}` };
  }
  const root = await makeRoot(entries);
  return root;
}

// Short retries so fault tests take well under a second each.
const QUICK = { MAAS_RUN_SCRIPTS_RETRY_DELAY: '0.05', MAAS_RUN_SCRIPTS_RETRY_TOTAL: '20', MAAS_RUN_SCRIPTS_ATTEMPTS: '5' };

function register(maasUrl: string, key: string, args: string[], env: Record<string, string> = {}, cwd?: string): Promise<CliRun> {
  // --no-report: these tests are about registration; the fake MAAS serves no scripts to report against.
  return runCli(['register-machine', maasUrl, key, '--no-report', ...args], { env: { ...QUICK, ...env }, ...(cwd ? { cwd } : {}) });
}

const creates = (maas: FakeMaas) => maas.requests.filter((r) => r.method === 'POST' && r.path === '/MAAS/api/2.0/machines/');
const secretOf = (key: string) => key.split(':')[2]!;

function expectNoSecrets(runs: CliRun[], secrets: string[]): void {
  for (const run of runs) {
    for (const secret of secrets) {
      expect(run.stdout).not.toContain(secret);
      expect(run.stderr).not.toContain(secret);
    }
  }
}

/** The error of a failed run: one line, besides commander's usage hint and retry warnings. */
function errorLine(run: CliRun): string {
  const lines = run.stderr
    .split('\n')
    .filter((line) => line.trim() && !line.startsWith('(run with --help') && !/^request to \S+ failed \(.*\); retrying in /.test(line));
  expect(lines).toHaveLength(1);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

// The byte length of a multipart part including its delimiter line and trailing CRLF.
const partLength = (boundary: string, part: RecordedPart) =>
  Buffer.byteLength(`--${boundary}\r\n${part.headers.map((h) => `${h}\r\n`).join('')}\r\n`) + part.value.length + 2;

describe('register-machine on the wire', () => {
  it("sends the register and get_token requests upstream's client sends, plus only the additions of docs/design.md D3 and D4", async () => {
    const recorded = wire('register-ok');
    const upstreamCreate = recorded.find((r) => r.method === 'POST')!;
    const upstreamToken = recorded.find((r) => r.path.includes('op=get_token'))!;
    const maas = await fake({ adminKey: 'CK:TK:TS', systemIds: ['xyz123'] });
    const cwd = await dir();
    const root = await hostTree('somewhere', { eno1: '52:54:00:aa:bb:01' });

    const run = await register(maas.url, 'CK:TK:TS', ['--hostname', 'legacy-host', '--root', root], {}, cwd);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe(readFileSync(`${WIRE}/register-ok/stdout`, 'utf8').trimEnd());

    const create = creates(maas)[0]!;
    const header = (r: WireRequest, name: string) => r.headers.find(([n]) => n === name)?.[1];
    expect(masked(create.header('authorization'))).toBe(masked(header(upstreamCreate, 'Authorization')));
    expect(create.header('content-type')).toMatch(/^multipart\/form-data; boundary=[A-Za-z]{31}$/);
    expect(create.header('content-length')).toBe(String(create.body.length));
    const { boundary, parts, endsWithClosingCrlf } = create.multipart!;
    expect(endsWithClosingCrlf).toBe(true);
    // Upstream's two fields come first, byte for byte; then only the architecture and MACs of
    // docs/design.md D4.
    const upstreamParts = upstreamCreate.multipart!.parts;
    expect(parts.slice(0, 2).map((p) => [p.headers, p.value.toString()])).toEqual(upstreamParts.map((p) => [p.part_headers, p.value]));
    const additions = parts.slice(2);
    expect(additions.map((p) => [p.name, p.value.toString()])).toEqual([
      ['architecture', 'amd64/generic'],
      ['mac_addresses', '52:54:00:aa:bb:01'],
    ]);
    expect(additions.every((p) => p.filename === undefined && p.headers.length === 1)).toBe(true);
    // Without the additions the body has exactly upstream's length (same boundary length).
    expect(create.body.length - additions.reduce((sum, p) => sum + partLength(boundary, p), 0)).toBe(upstreamCreate.body_len);

    const token = maas.requests.find((r) => r.path.includes('op=get_token'))!;
    expect(token.method).toBe('GET');
    expect(token.path).toBe(upstreamToken.path);
    expect(token.body.length).toBe(0);
    expect(masked(token.header('authorization'))).toBe(masked(header(upstreamToken, 'Authorization')));
  });

  it('only looks machines up with the list filters before creating (docs/design.md D3)', async () => {
    const maas = await fake();
    const root = await hostTree('web01', { eno1: '52:54:00:aa:bb:01', eno2: '52:54:00:aa:bb:02' });
    const run = await register(maas.url, maas.adminKey, ['--root', root, '--dir', await dir()]);
    expect(run.exitCode).toBe(0);
    expect(maas.requests.map((r) => `${r.method} ${decodeURIComponent(r.path)}`).slice(0, 3)).toEqual([
      'GET /MAAS/api/2.0/machines/?mac_address=52:54:00:aa:bb:01&mac_address=52:54:00:aa:bb:02',
      'GET /MAAS/api/2.0/machines/?hostname=web01',
      'POST /MAAS/api/2.0/machines/',
    ]);
  });
});

describe('register-machine is idempotent', () => {
  it('keeps one machine, its system_id and its name across re-runs, a host rename and a lost creds file', async () => {
    const maas = await fake();
    const out = await dir();
    const root = await hostTree('web01', { eno1: '52:54:00:aa:bb:01' });
    const runs: CliRun[] = [];
    const run = async () => {
      const result = await register(maas.url, maas.adminKey, ['--root', root, '--dir', out]);
      runs.push(result);
      expect(result.exitCode, result.stderr).toBe(0);
      return result;
    };

    const first = await run();
    expect(first.stdout).toMatch(/^Machine web01 created with system ID: (\w+)$/m);
    const systemId = maas.machines[0]!.system_id;

    const second = await run();
    expect(second.stdout).toContain(`Machine web01 already registered with system ID: ${systemId} (found by its creds file`);

    await writeFile(join(root, 'proc/sys/kernel/hostname'), 'web02\n'); // the host is renamed
    const third = await run();
    expect(third.stdout).toContain(`Machine web01 already registered with system ID: ${systemId} (found by this host's MAC address)`);
    expect(third.stdout).toContain('It keeps its MAAS name web01 (this host is now called web02).');

    await rm(join(out, 'web01-creds.yaml'));
    const fourth = await run();
    expect(fourth.stdout).toContain(`system ID: ${systemId} (found by this host's MAC address)`);

    expect(maas.machines.map((m) => [m.system_id, m.hostname])).toEqual([[systemId, 'web01']]);
    expect(creates(maas)).toHaveLength(1);
    expect(await readdir(out)).toEqual(['web01-creds.yaml']);
    const creds = parse(await readFile(join(out, 'web01-creds.yaml'), 'utf8'));
    expect(creds.reporting.maas).toEqual({ ...maas.machines[0]!.token, endpoint: `${maas.url}/metadata/status/${systemId}` });
    expectNoSecrets(runs, [secretOf(maas.adminKey), maas.machines[0]!.token!.token_secret]);
  });

  it('finds the machine by hostname when MAAS dropped the MACs (no boot images for the architecture)', async () => {
    const maas = await fake({ architectures: [] });
    const out = await dir();
    const root = await hostTree('web01', { eno1: '52:54:00:aa:bb:01' });
    const first = await register(maas.url, maas.adminKey, ['--root', root, '--dir', out]);
    expect(first.exitCode).toBe(0);
    expect(first.stderr).toContain('MAAS refused architecture amd64/generic (no boot images for it?); registering with hostname and deployed only');
    const fields = creates(maas).map((r) => r.multipart!.parts.map((p) => p.name));
    expect(fields).toEqual([
      ['hostname', 'deployed', 'architecture', 'mac_addresses'],
      ['hostname', 'deployed'],
    ]);
    await rm(join(out, 'web01-creds.yaml'));
    const again = await register(maas.url, maas.adminKey, ['--root', root, '--dir', out]);
    expect(again.stdout).toContain('(found by its hostname)');
    expect(maas.machines).toHaveLength(1);
  });

  it('looks the machine up instead of failing when MAAS says its MAC is already in use', async () => {
    const maas = await fake();
    const root = await hostTree('web01', { eno1: '52:54:00:aa:bb:01' });
    maas.machines.push({ system_id: 'old123', hostname: 'oldname', architecture: 'amd64/generic', macs: ['52:54:00:aa:bb:01'], token: { consumer_key: 'c', token_key: 't', token_secret: 'sssssssssssss' } });
    // The first MAC lookup misses (e.g. a listing cache); create then reports the MAC in use.
    maas.failNext(1, { status: 200, headers: { 'Content-Type': 'application/json' }, body: '[]' }, (r) => r.path.includes('mac_address='));
    const run = await register(maas.url, maas.adminKey, ['--root', root, '--dir', await dir()]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toContain('Machine oldname already registered with system ID: old123');
    expect(maas.machines).toHaveLength(1);
  });
  it('uses the oldest of several machines that share its MACs, and says so', async () => {
    const maas = await fake();
    const token = { consumer_key: 'c', token_key: 't', token_secret: 'sssssssssssss' };
    maas.machines.push(
      { system_id: 'aaa111', hostname: 'first', architecture: 'amd64/generic', macs: ['52:54:00:aa:bb:01'], token },
      { system_id: 'bbb222', hostname: 'second', architecture: 'amd64/generic', macs: ['52:54:00:aa:bb:02'], token },
    );
    const root = await hostTree('web01', { eno1: '52:54:00:aa:bb:01', eno2: '52:54:00:aa:bb:02' });
    const run = await register(maas.url, maas.adminKey, ['--root', root, '--dir', await dir()]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toContain("several machines have this host's MAC addresses (first aaa111, second bbb222); using aaa111");
    expect(run.stdout).toContain('Machine first already registered with system ID: aaa111');
    expect(maas.machines).toHaveLength(2);
  });
});

describe('register-machine against the bundled server', () => {
  it('keeps one machine across re-runs, a rename and a lost creds file', async () => {
    const { startMaasServer } = await import('../../src/server/server.js');
    const server = await startMaasServer({});
    cleanup.push(() => server.close());
    const out = await dir();
    const root = await hostTree('web01', { eno1: '52:54:00:aa:bb:01' });
    const ids: string[] = [];
    for (const step of ['first', 'again', 'renamed', 'no-creds']) {
      if (step === 'renamed') await writeFile(join(root, 'proc/sys/kernel/hostname'), 'web02\n');
      if (step === 'no-creds') await rm(join(out, 'web01-creds.yaml'));
      const run = await register(server.url, server.adminKey, ['--root', root, '--dir', out]);
      expect(run.exitCode, `${step}: ${run.stderr}`).toBe(0);
      ids.push(/system ID: (\w+)/.exec(run.stdout)![1]!);
      expect(run.stdout).toMatch(/^Machine web01 /);
    }
    expect(new Set(ids).size).toBe(1);
    const list = await runCli(['get-machine-token', server.url, server.adminKey, ids[0]!]);
    expect(list.exitCode).toBe(0);
    expect(await readdir(out)).toEqual(['web01-creds.yaml']);
  });
});

describe('register-machine under faults', () => {
  it('succeeds when the server answers 503 twice, then normally', async () => {
    const maas = await fake();
    maas.failNext(2, { status: 503, body: 'busy' });
    const run = await register(maas.url, maas.adminKey, ['--root', await hostTree('web01', { eno1: '52:54:00:aa:bb:01' }), '--dir', await dir()]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr.match(/HTTP 503 Service Unavailable\); retrying in/g)).toHaveLength(2);
    expect(maas.machines).toHaveLength(1);
  });

  it('does not create twice when a create answered 503 did nothing', async () => {
    const maas = await fake();
    maas.failNext(2, { status: 503 }, (r) => r.method === 'POST');
    const run = await register(maas.url, maas.adminKey, ['--root', await hostTree('web01', { eno1: '52:54:00:aa:bb:01' }), '--dir', await dir()]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toContain('checking whether MAAS created the machine anyway');
    expect(creates(maas)).toHaveLength(3);
    expect(maas.machines).toHaveLength(1);
  });

  it('uses the machine a create made before its answer was lost, instead of creating another', async () => {
    const maas = await fake();
    let dropped = false;
    maas.intercept((r) => {
      if (dropped || r.method !== 'POST') return undefined;
      dropped = true;
      maas.machines.push({ system_id: 'lost12', hostname: 'web01', architecture: 'amd64/generic', macs: ['52:54:00:aa:bb:01'], token: { consumer_key: 'c1', token_key: 't1', token_secret: 'ssssssssssss1' } });
      return { status: 0, hangUp: true };
    });
    const run = await register(maas.url, maas.adminKey, ['--root', await hostTree('web01', { eno1: '52:54:00:aa:bb:01' }), '--dir', await dir()]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toContain('Machine web01 already registered with system ID: lost12');
    expect(creates(maas)).toHaveLength(1);
    expect(maas.machines).toHaveLength(1);
  });

  it("corrects the clock from a 401 whose Date is an hour ahead, and signs again once", async () => {
    const maas = await fake({ clockOffsetMs: 3_600_000 });
    const run = await register(maas.url, maas.adminKey, ['--root', await hostTree('web01'), '--dir', await dir()]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^updated clock skew to 3(59[89]|600)$/m);
    const stamps = maas.requests.map((r) => Number(r.oauth!.oauth_timestamp));
    expect(stamps[1]! - stamps[0]!).toBeGreaterThanOrEqual(3598);
    // Only the first request paid for the correction.
    expect(maas.requests.filter((r) => r.path.startsWith('/MAAS/api/2.0/machines/?hostname='))).toHaveLength(2);
    expect(maas.machines).toHaveLength(1);
  });

  it('gives up after one correction when the server keeps refusing', async () => {
    const maas = await fake();
    maas.intercept(() => ({ status: 401, headers: { Date: new Date(Date.now() + 3_600_000).toUTCString() }, body: 'Authorization Error: Invalid API key.' }));
    const run = await register(maas.url, maas.adminKey, ['--root', await hostTree('web01'), '--dir', await dir()]);
    expect(run.exitCode).toBe(1);
    expect(maas.requests).toHaveLength(2);
    expect(run.stderr.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(/^updated clock skew to 3(59[89]|600)$/),
      'Looking up machines failed: HTTP 401 Unauthorized: Authorization Error: Invalid API key.',
    ]);
  });

  it('fails within the configured bound with a clear message when nothing listens', async () => {
    const probe = createServer();
    await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((done) => probe.close(() => done()));
    const started = Date.now();
    const run = await register(`http://127.0.0.1:${port}/MAAS`, 'a:b:c', ['--root', await hostTree('web01'), '--dir', await dir()], {
      MAAS_RUN_SCRIPTS_ATTEMPTS: '50',
      MAAS_RUN_SCRIPTS_RETRY_DELAY: '0.2',
      MAAS_RUN_SCRIPTS_RETRY_TOTAL: '2',
    });
    const elapsed = Date.now() - started;
    expect(run.exitCode).toBe(1);
    expect(errorLine(run)).toMatch(
      new RegExp(`^Looking up machines failed: cannot reach MAAS at http://127\\.0\\.0\\.1:${port}/MAAS/api/2\\.0/machines/\\?hostname=web01: connection refused \\(gave up after \\d+ attempts in [01]\\.\\d s\\)$`),
    );
    expect(elapsed).toBeLessThan(2000 + 10_000); // the bound, plus generous process start-up on a busy machine
  });

  it('stops waiting for a server that accepts but never answers within the bound', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((done) => silent.listen(0, '127.0.0.1', done));
    cleanup.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((done) => silent.close(() => done()));
    });
    const port = (silent.address() as { port: number }).port;
    const run = await register(`http://127.0.0.1:${port}/MAAS`, 'a:b:c', ['--root', await hostTree('web01'), '--dir', await dir()], {
      MAAS_RUN_SCRIPTS_ATTEMPTS: '50',
      MAAS_RUN_SCRIPTS_TIMEOUT: '0.5',
      MAAS_RUN_SCRIPTS_RETRY_TOTAL: '2',
    });
    expect(run.exitCode).toBe(1);
    expect(errorLine(run)).toMatch(/cannot reach MAAS at .*: no answer within 0\.\d s \(gave up after \d+ attempts in [12]\.\d s\)$/);
  });
});

describe('register-machine with bad input', () => {
  it('rejects a malformed admin token with exit 2, without repeating it and without a request', async () => {
    const maas = await fake();
    const out = await dir();
    const runs = await Promise.all(
      ['CK:TK', 'CK:TK:TOPSECRETVALUE:CS:extra', 'not-a-token'].map((token) => register(maas.url, token, ['--dir', out])),
    );
    for (const run of runs) {
      expect(run.exitCode).toBe(2);
      expect(errorLine(run)).toMatch(/^error: argument ADMIN_TOKEN: Invalid OAuth credentials format/);
    }
    expectNoSecrets(runs, ['TOPSECRETVALUE']);
    expect(maas.requests).toHaveLength(0);
    expect(await readdir(out)).toEqual([]);
  });

  it.each(['maas.example.com:5240/MAAS', 'ftp://maas/MAAS', 'nonsense'])('rejects MAAS_URL %j with exit 2', async (url) => {
    const run = await register(url, 'a:b:c', ['--dir', await dir()]);
    expect(run.exitCode).toBe(2);
    expect(errorLine(run)).toMatch(/MAAS_URL|http\(s\) URL|is not a URL/);
  });

  it('rejects a DIR it cannot write into before making any request', async () => {
    const maas = await fake();
    const out = await dir();
    await writeFile(join(out, 'a-file'), 'x');
    for (const bad of [join(out, 'missing'), join(out, 'a-file')]) {
      const run = await register(maas.url, maas.adminKey, ['--root', await hostTree('web01'), '--dir', bad]);
      expect(run.exitCode).toBe(2);
      expect(errorLine(run)).toMatch(/^DIR .* (cannot be used: no such file or directory|is not a directory)/);
    }
    expect(maas.requests).toHaveLength(0);
    expect(maas.machines).toHaveLength(0);
  });

  it.each([
    ['an HTML page', { status: 200, headers: { 'Content-Type': 'text/html' }, body: '<!doctype html><html><body>Welcome to nginx</body></html>' }, /with something else: \(an HTML page, not a MAAS API answer\) instead of JSON/],
    ['garbage', { status: 200, body: '\u0000\u0001garbage{' }, /instead of JSON/],
    ['an HTML error page', { status: 502, body: '<html><head><title>502 Bad Gateway</title></head></html>' }, /HTTP 502 Bad Gateway: \(an HTML page/],
  ])('fails in one line when the server answers %s, writing nothing', async (_what, reply, message) => {
    const maas = await fake();
    maas.intercept(() => reply);
    const out = await dir();
    const run = await register(maas.url, maas.adminKey, ['--root', await hostTree('web01'), '--dir', out], { MAAS_RUN_SCRIPTS_ATTEMPTS: '2' });
    expect(run.exitCode).toBe(1);
    expect(errorLine(run)).toMatch(message);
    expect(await readdir(out)).toEqual([]);
    expectNoSecrets([run], [secretOf(maas.adminKey)]);
  });

  it('ignores a corrupt creds file with a one-line note and replaces it', async () => {
    const maas = await fake();
    const out = await dir();
    await writeFile(join(out, 'web01-creds.yaml'), 'reporting:\n  maas:\n    token_secret: TOPSECRETVALUE\n   consumer_key: [\n');
    const run = await register(maas.url, maas.adminKey, ['--root', await hostTree('web01'), '--dir', out]);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toMatch(/^ignoring creds file .*web01-creds\.yaml is not valid YAML at line \d+, column \d+$/m);
    expectNoSecrets([run], ['TOPSECRETVALUE']);
    expect(parse(await readFile(join(out, 'web01-creds.yaml'), 'utf8')).reporting.maas.token_key).toBe(maas.machines[0]!.token!.token_key);
  });
});

describe('register-machine creds file', () => {
  it('is written with mode 0600', async () => {
    const maas = await fake();
    const out = await dir();
    const run = await register(maas.url, maas.adminKey, ['--root', await hostTree('web01'), '--dir', out]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain(`Machine token written to ${join(out, 'web01-creds.yaml')}`);
    expect((await stat(join(out, 'web01-creds.yaml'))).mode & 0o777).toBe(0o600);
  });

  it('survives a failed run unchanged', async () => {
    const maas = await fake();
    const out = await dir();
    const root = await hostTree('web01');
    expect((await register(maas.url, maas.adminKey, ['--root', root, '--dir', out])).exitCode).toBe(0);
    const path = join(out, 'web01-creds.yaml');
    const before = { text: await readFile(path, 'utf8'), mode: (await stat(path)).mode };

    maas.intercept((r: RecordedRequest) => (r.path.includes('op=get_token') ? { status: 500, body: 'database is locked' } : undefined));
    const failed = await register(maas.url, maas.adminKey, ['--root', root, '--dir', out], { MAAS_RUN_SCRIPTS_ATTEMPTS: '2' });
    expect(failed.exitCode).toBe(1);
    expect(errorLine(failed)).toBe('Getting machine credentials failed: HTTP 500 Internal Server Error: database is locked');
    expect(await readFile(path, 'utf8')).toBe(before.text);
    expect((await stat(path)).mode).toBe(before.mode);
    expect(await readdir(out)).toEqual(['web01-creds.yaml']);
  });
});
