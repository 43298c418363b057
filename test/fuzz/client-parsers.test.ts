// Fuzzing what the client reads from outside: creds files (YAML, real files), key strings and
// MAAS URLs typed by users, the answers of a server (a real HTTP server on 127.0.0.1 port 0
// answering whatever the case says), the index.json of the scripts tarball, and the tarball itself
// (real extraction into real directories). Bad input may only end in the client's own typed
// errors (CliError and its subclasses); valid input round-trips; nothing is written outside the
// run directory and no secret appears in an error.
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BadUrlError, CliError, CredsFileError, ParseError, UsageError } from '../../src/errors.js';
import { MaasClient, normaliseMaasUrl } from '../../src/maas/client.js';
import { credsYaml, formatCredentials, parseCredentials, readCredsFile } from '../../src/maas/credentials.js';
import type { Credentials } from '../../src/maas/types.js';
import { isPlainFileName, readIndex } from '../../src/runner/scripts.js';
import { scriptFilesIn } from '../../src/runner/signal-files.js';
import { extractTar } from '../../src/runner/tar.js';
import { buildTar } from '../../src/server/tarball.js';
import { failures, fuzz, mutatedBytes, mutatedJson, mutatedText, nastyString, onlyTyped, TARGET_TIMEOUT_MS, typedOrCrash, wrong } from './fuzz-kit.js';

const scratch = mkdtempSync(join(tmpdir(), 'fuzz-client-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// A key part as MAAS makes them, or as a user might type one: no ":" inside, no blank at either
// end (the whole string is trimmed), never empty.
const keyPart = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9]{18,32}$/),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 }).filter((s) => !s.includes(':') && s.trim() === s && s !== ''),
);
const credentials: fc.Arbitrary<Credentials> = fc.record({ consumerKey: keyPart, tokenKey: keyPart, tokenSecret: keyPart, consumerSecret: fc.oneof(fc.constant(''), keyPart) });

describe('client key strings and MAAS URLs', () => {
  test('every key round-trips through its "ck:tk:ts[:cs]" form; any other text is a UsageError that does not repeat it', { timeout: TARGET_TIMEOUT_MS }, async () => {
    const input = fc.oneof(
      credentials.map((creds) => ({ kind: 'valid' as const, creds })),
      fc.oneof(mutatedText('ConsumerKey123:TokenKey456:TokenSecret789'), nastyString, fc.array(fc.oneof(keyPart, fc.constantFrom('', ' ', '::')), { maxLength: 6 }).map((parts) => parts.join(':'))).map((text) => ({ kind: 'text' as const, text })),
    );
    const tally = await fuzz('client: key strings (API key / token)', input, (item) => {
      if (item.kind === 'valid') {
        const text = formatCredentials(item.creds);
        const back = parseCredentials(text, '--apikey');
        return JSON.stringify(back) === JSON.stringify(item.creds) ? undefined : wrong(`${JSON.stringify(item.creds)} came back as ${JSON.stringify(back)}`);
      }
      try {
        const parsed = parseCredentials(item.text, '--apikey');
        if ([parsed.consumerKey, parsed.tokenKey, parsed.tokenSecret].some((part) => part === '' || part.includes(':'))) return wrong(`accepted ${JSON.stringify(item.text)} as ${JSON.stringify(parsed)}`);
        return undefined;
      } catch (error) {
        if (!(error instanceof UsageError)) return typedOrCrash(error, []);
        const secret = item.text.split(':')[2];
        return secret && secret.length >= 6 && error.message.includes(secret) ? wrong(`the error repeats the secret: ${error.message}`) : undefined;
      }
    });
    expect(failures(tally)).toBe('');
  });

  test('a MAAS URL is normalised or refused with a BadUrlError, and a password in it is never repeated', { timeout: TARGET_TIMEOUT_MS }, async () => {
    const password = fc.stringMatching(/^[A-Za-z0-9]{8,16}$/).map((p) => `Pw${p}`);
    const input = fc.oneof(
      fc.record({ url: fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), mutatedText('http://10.0.0.2:5240/MAAS'), nastyString), password: fc.constant(undefined) }),
      fc.tuple(fc.constantFrom('http', 'https', 'ftp', 'HTTP', 'h'), password, fc.constantFrom('', 'user', 'a@b'), fc.constantFrom('maas:5240/MAAS', '10.0.0.2/MAAS/', '[::1]:80', '', '/x', 'host/%zz'), fc.constantFrom('://', ':/', '://@', ':', ':///'))
        .map(([scheme, pw, user, rest, sep]) => ({ url: `${scheme}${sep}${user}:${pw}@${rest}`, password: pw })),
    );
    const tally = await fuzz('client: MAAS URLs', input, (item) => {
      try {
        const url = normaliseMaasUrl(item.url);
        if (item.password && url.includes(item.password)) return wrong(`kept the password: ${url}`);
        if (!/^https?:\/\//.test(url) || url.endsWith('/')) return wrong(`normalised to ${url}`);
        return undefined;
      } catch (error) {
        if (!(error instanceof BadUrlError)) return typedOrCrash(error, []);
        return item.password && error.message.includes(item.password) ? wrong(`the error repeats the password: ${error.message}`) : undefined;
      }
    });
    expect(failures(tally)).toBe('');
  });
});

describe('client creds files', () => {
  const file = join(scratch, 'creds.yaml');
  const endpoint = fc.constantFrom('http://10.0.0.2:5240/MAAS/metadata/status/abc123', 'https://maas.example:5443/MAAS', 'http://[fd00::1]:5240/MAAS/');
  const NASTY_YAML = [
    'a: &a [*a, *a]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\nd: &d [*c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d]\n',
    'reporting: !!binary aGVsbG8=\n',
    '--- a\n--- b\n',
    'reporting:\n  maas: &m\n    endpoint: x\n  other: *m\n',
    '%YAML 9.9\n---\nx: 1\n',
    '? [a, b]\n: c\n',
    'reporting: {maas: {endpoint: "\\u0000", consumer_key: "\\ud800", token_key: k, token_secret: s}}\n',
    '\ufeffreporting:\n  maas:\n    endpoint: http://x/MAAS\n',
    '\t- x',
    '<<: *undefined\n',
  ];

  test('every creds file it writes reads back the same; any other file is a CredsFileError', { timeout: TARGET_TIMEOUT_MS }, async () => {
    const valid = fc.record({ creds: credentials, endpoint, shape: fc.constantFrom('reporting', 'datasource') });
    const render = (v: { creds: Credentials; endpoint: string; shape: string }) => {
      const maas = { consumer_key: v.creds.consumerKey, token_key: v.creds.tokenKey, token_secret: v.creds.tokenSecret, consumer_secret: v.creds.consumerSecret, endpoint: v.endpoint };
      if (v.shape === 'reporting') return credsYaml(maas);
      const { endpoint: url, ...rest } = maas;
      return credsYaml({ ...rest, endpoint: url }).replace('reporting:', 'datasource:').replace('  maas:', '  MAAS:').replace('endpoint:', 'metadata_url:');
    };
    const input = fc.oneof(
      { weight: 2, arbitrary: valid.map((v) => ({ kind: 'valid' as const, v })) },
      { weight: 4, arbitrary: valid.chain((v) => mutatedText(render(v), 4)).map((text) => ({ kind: 'text' as const, text })) },
      { weight: 1, arbitrary: fc.constantFrom(...NASTY_YAML).chain((t) => fc.oneof(fc.constant(t), mutatedText(t, 2))).map((text) => ({ kind: 'text' as const, text })) },
      { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 200 }), fc.jsonValue({ maxDepth: 3 }).map((j) => JSON.stringify(j) ?? '')).map((text) => ({ kind: 'text' as const, text })) },
    );
    const tally = await fuzz('client: creds YAML files', input, async (item) => {
      if (item.kind === 'valid') {
        writeFileSync(file, render(item.v));
        try {
          const read = await readCredsFile(file);
          if (JSON.stringify(read.credentials) !== JSON.stringify(item.v.creds) || read.endpoint !== item.v.endpoint) return wrong(`read back ${JSON.stringify(read)} from\n${render(item.v)}`);
          return undefined;
        } catch (error) {
          return typedOrCrash(error, []) ?? wrong(`a file it writes was refused: ${(error as Error).message}\n${render(item.v)}`);
        }
      }
      writeFileSync(file, item.text);
      return onlyTyped([CredsFileError], async () => {
        const read = await readCredsFile(file);
        const parts = [read.credentials.consumerKey, read.credentials.tokenKey, read.credentials.tokenSecret, read.endpoint];
        if (parts.some((p) => typeof p !== 'string' || p === '')) throw new Error(`accepted empty or non-text values: ${JSON.stringify(read)}`);
      });
    });
    expect(failures(tally)).toBe('');
  });
});

describe('client reading server answers', () => {
  // What the fake MAAS answers next: the case sets it, the one HTTP server sends it.
  let next: { status: number; headers: Record<string, string | undefined>; body: Buffer } = { status: 200, headers: {}, body: Buffer.alloc(0) };
  let server: http.Server;
  let base = '';
  beforeAll(async () => {
    server = http.createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        try {
          response.writeHead(next.status, { 'Content-Length': String(next.body.length), ...next.headers });
          response.end(request.method === 'HEAD' ? undefined : next.body);
        } catch {
          response.destroy();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/MAAS`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const SECRET = 'TokenSecretNeverShown0123456789';
  const creds: Credentials = { consumerKey: 'ConsumerKeyC', tokenKey: 'TokenKeyT', tokenSecret: SECRET, consumerSecret: '' };
  const machine = { system_id: 'abc123', hostname: 'host-1', status: 6, status_name: 'Deployed', interface_set: [{ id: 1, name: 'eth0', mac_address: '52:54:00:12:34:56', links: [] }], tag_names: [], owner: 'admin' };
  const token = { consumer_key: 'ConsumerKeyC', token_key: 'TokenKeyT', token_secret: 'TokenSecretT' };
  const jsonBody = fc.oneof(
    mutatedJson(machine, 3),
    mutatedJson([machine, machine], 3),
    mutatedJson(token, 2),
    fc.constantFrom<unknown>(machine, [machine], [], token, null, { ...token, token_key: 'a:b' }, { ...token, token_secret: '' }, 'OK'),
  ).map((value) => Buffer.from(JSON.stringify(value) ?? ''));
  const bodyBytes = fc.oneof(
    { weight: 5, arbitrary: jsonBody },
    { weight: 2, arbitrary: jsonBody.chain((b) => mutatedBytes(b, 3)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) },
    // A hostile server echoing the request's secret back.
    { weight: 1, arbitrary: fc.constantFrom(`oauth_signature="%26${SECRET}"`, `secret: ${SECRET}`, `&${SECRET}`).map((t) => Buffer.from(t)) },
  );
  const answer = fc.record({
    status: fc.oneof({ weight: 6, arbitrary: fc.constant(200) }, { weight: 3, arbitrary: fc.constantFrom(201, 204, 301, 400, 401, 403, 404, 405, 409, 413, 500, 502, 503) }, { weight: 1, arbitrary: fc.integer({ min: 200, max: 599 }) }),
    headers: fc.record(
      {
        'Content-Type': fc.constantFrom('application/json', 'text/plain', 'application/x-tar', 'text/html; charset=utf-8', ''),
        Date: fc.oneof(fc.constantFrom('Thu, 01 Jan 1970 00:00:00 GMT', 'Sun, 06 Dec 2099 10:00:00 GMT', 'garbage', ''), fc.date({ noInvalidDate: true }).map((d) => d.toUTCString())),
        'Retry-After': fc.constantFrom('0', '1', 'soon', '-5', '99999999999', 'Wed, 21 Oct 2015 07:28:00 GMT'),
        Location: fc.constantFrom('/elsewhere', 'http://127.0.0.1:1/', 'javascript:x'),
      },
      { requiredKeys: [] },
    ),
    body: bodyBytes,
  });
  const CALLS = ['listMachines', 'readMachine', 'getMachineToken', 'regenerateMachineToken', 'releaseMachine', 'createMachine', 'downloadScripts', 'signal'] as const;

  test('any answer gives a result of the promised shape or a CliError, and no error carries the token secret', { timeout: TARGET_TIMEOUT_MS }, async () => {
    const input = fc.record({ answer, call: fc.constantFrom(...CALLS) });
    const tally = await fuzz('client: server answers (JSON replies)', input, async ({ answer: a, call }) => {
      next = a;
      const client = new MaasClient({ baseUrl: base, credentials: creds }, { retry: { attempts: 2, initialDelayMs: 1, maxDelayMs: 1, totalMs: 1000 }, sleep: async () => {}, log: () => {}, timeoutMs: 10_000 });
      try {
        const result: unknown = await (async () => {
          switch (call) {
            case 'listMachines':
              return client.listMachines({ hostname: ['host-1'] });
            case 'readMachine':
              return client.readMachine('abc123');
            case 'getMachineToken':
              return client.getMachineToken('abc123');
            case 'regenerateMachineToken':
              return client.regenerateMachineToken('abc123');
            case 'releaseMachine':
              return client.releaseMachine('abc123');
            case 'createMachine':
              return client.createMachine({ hostname: 'host-1', deployed: 'true' });
            case 'downloadScripts':
              return client.downloadScripts();
            case 'signal':
              return client.signal({ status: 'OK', runtime: 1, exit_status: 0, name: 'lshw' }, [{ name: 'lshw.out', content: 'x' }]);
          }
        })();
        // What a call returns is what its callers rely on.
        const machines = call === 'listMachines' ? (result as unknown[]) : ['readMachine', 'releaseMachine', 'createMachine'].includes(call) ? [result] : [];
        for (const m of machines) if (typeof (m as { system_id?: unknown })?.system_id !== 'string') return wrong(`${call} returned a machine without a system_id: ${JSON.stringify(m)}`);
        if ((call === 'getMachineToken' && result !== null) || call === 'regenerateMachineToken') {
          const t = result as Record<string, unknown>;
          if (!['consumer_key', 'token_key', 'token_secret'].every((k) => typeof t[k] === 'string' && t[k] !== '' && !(t[k] as string).includes(':'))) return wrong(`${call} returned ${JSON.stringify(t)}`);
        }
        return undefined;
      } catch (error) {
        if (!(error instanceof CliError)) return typedOrCrash(error, []);
        return error.message.includes(SECRET) ? wrong(`the error shows the token secret: ${error.message}`) : undefined;
      }
    });
    expect(failures(tally)).toBe('');
  });

  const entry = { name: '50-maas-01-commissioning', script_result_id: 1, script_version_id: 2, timeout_seconds: 60.0, parallel: 0, hardware_type: 0, parameters: {}, packages: {}, for_hardware: [], apply_configured_networking: false, has_started: false, has_finished: false, default: true, tags: ['deploy-info', 'node'], path: 'commissioning/50-maas-01-commissioning' };
  const index = { '1.0': { commissioning_scripts: [entry, { ...entry, name: 'lshw', script_result_id: 2, path: 'commissioning/lshw' }, { ...entry, name: 'other', tags: ['x'] }] } };

  test('any index.json gives the deploy-info scripts, each a plain file name, or a ParseError', { timeout: TARGET_TIMEOUT_MS }, async () => {
    const file = join(scratch, 'index.json');
    const text = fc.oneof(
      { weight: 5, arbitrary: mutatedJson(index, 4).map((v) => JSON.stringify(v) ?? '') },
      { weight: 1, arbitrary: fc.constantFrom('../../x', '.', '..', 'a/b', 'a\0b', '', '.hidden', 'x'.repeat(300)).map((name) => JSON.stringify({ '1.0': { commissioning_scripts: [{ ...entry, name }] } })) },
      { weight: 2, arbitrary: mutatedText(JSON.stringify(index), 3) },
      { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 100 }), fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? '')) },
    );
    const tally = await fuzz('client: scripts index.json', text, async (content) => {
      writeFileSync(file, content);
      try {
        const entries = readIndex(scriptFilesIn(scratch));
        const bad = entries.find((e) => !isPlainFileName(e.name) || !Array.isArray(e.tags) || !e.tags.includes('deploy-info'));
        return bad ? wrong(`kept the entry ${JSON.stringify(bad)}`) : undefined;
      } catch (error) {
        return typedOrCrash(error, [ParseError]);
      }
    });
    expect(failures(tally)).toBe('');
  });
});

describe('client scripts tarballs', () => {
  const memberName = fc.oneof(
    { weight: 5, arbitrary: fc.tuple(fc.constantFrom('commissioning/', 'out/', ''), fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,30}$/)).map(([dir, name]) => `${dir}${name}`) },
    { weight: 2, arbitrary: fc.constantFrom('../escape', '/abs/path', 'a/../../b', './x', '.', '..', '', 'x/', 'a\\b', `${'d'.repeat(120)}/long`, 'n'.repeat(250), 'index.json', 'commissioning/../..') },
    { weight: 1, arbitrary: nastyString },
  );
  const member = fc.record({ name: memberName, mode: fc.constantFrom(0o755, 0o644, 0o4777, 0o000, 0o7777), content: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) });
  // Members of other types, which tar-stream writes but the extractor must not follow.
  const special = fc.record({ name: memberName, type: fc.constantFrom('symlink', 'link', 'fifo', 'character-device', 'directory'), linkname: fc.constantFrom('/etc/passwd', '../../x', 'commissioning/a') });

  async function tarOf(members: { name: string; mode: number; content: Buffer }[], specials: { name: string; type: string; linkname: string }[]): Promise<Buffer> {
    const archive = pack();
    const chunks: Buffer[] = [];
    const done = new Promise<Buffer>((resolve, reject) => {
      archive.on('data', (c: unknown) => void chunks.push(c as Buffer));
      archive.on('end', () => resolve(Buffer.concat(chunks)));
      archive.on('error', reject);
    });
    for (const s of specials) archive.entry({ name: s.name || 'x', type: s.type as 'symlink', linkname: s.linkname, mode: 0o777 });
    for (const m of members) archive.entry({ name: m.name || 'x', mode: m.mode, size: m.content.length }, m.content);
    archive.finalize();
    return done;
  }

  /** Everything under `dir`: regular files and directories only, or the first other thing found. */
  function oddEntry(dir: string): string | undefined {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const info = lstatSync(path);
      if (info.isDirectory()) {
        const inside = oddEntry(path);
        if (inside) return inside;
      } else if (!info.isFile()) return path;
    }
    return undefined;
  }

  let serial = 0;
  test('any tarball is extracted inside its directory or refused with a ParseError; the server-built tarball round-trips', { timeout: TARGET_TIMEOUT_MS }, async () => {
    const safeMembers = fc.uniqueArray(fc.record({ name: fc.tuple(fc.constantFrom('commissioning/', 'out/', ''), fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9_-]{0,30}$/)).map(([d, n]) => `${d}${n}`), mode: fc.constantFrom(0o755, 0o644, 0o600), content: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) }), { selector: (m) => m.name, maxLength: 6 });
    const input = fc.oneof(
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('round-trip' as const), members: safeMembers, gzip: fc.boolean() }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('built' as const), members: fc.array(member, { maxLength: 5 }), specials: fc.array(special, { maxLength: 2 }), gzip: fc.boolean(), edits: fc.option(fc.array(fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 })), { minLength: 1, maxLength: 4 })) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: fc.oneof(fc.uint8Array({ maxLength: 1200 }).map((b) => Buffer.from(b)), fc.uint8Array({ maxLength: 600 }).map((b) => gzipSync(Buffer.from(b)))) }) },
    );
    const tally = await fuzz('client: scripts tarballs', input, async (item) => {
      serial += 1;
      const base = join(scratch, `tar-${serial}`);
      const target = join(base, 'run');
      mkdirSync(target, { recursive: true });
      try {
        if (item.kind === 'round-trip') {
          // The server's tarball builder and the client's extractor agree on every file and mode.
          const tar = await buildTar(item.members, new Date(1_800_000_000_000));
          const result = await extractTar(item.gzip ? gzipSync(tar) : tar, target);
          for (const m of item.members) {
            const path = join(target, m.name);
            if (!readFileSync(path).equals(m.content)) return wrong(`${m.name} came back with other content`);
            if ((statSync(path).mode & 0o777) !== m.mode) return wrong(`${m.name} came back with mode ${(statSync(path).mode & 0o777).toString(8)}`);
          }
          return result.skipped.length === 0 ? undefined : wrong(`skipped ${JSON.stringify(result.skipped)}`);
        }
        let bytes: Buffer;
        if (item.kind === 'bytes') bytes = item.bytes;
        else {
          const tar = await tarOf(item.members, item.specials);
          // Bytes overwritten anywhere: header fields, checksums, sizes, names, contents.
          const edited = Buffer.from(tar);
          for (const [at, patch] of item.edits ?? []) edited.set(patch.subarray(0, Math.max(0, edited.length - (at % (edited.length + 1)))), at % (edited.length + 1));
          bytes = item.gzip ? gzipSync(edited) : edited;
        }
        try {
          await extractTar(bytes, target);
        } catch (error) {
          const refused = typedOrCrash(error, [ParseError]);
          if (refused) return refused;
        }
        // Whatever happened, nothing was written beside the run directory and nothing in it is a
        // link, a device or a FIFO.
        const beside = readdirSync(base).filter((name) => name !== 'run');
        if (beside.length > 0) return wrong(`wrote outside the run directory: ${beside.join(', ')}`);
        const odd = oddEntry(target);
        return odd ? wrong(`left ${odd}, which is not a regular file or a directory`) : undefined;
      } finally {
        rmSync(base, { recursive: true, force: true });
      }
    });
    expect(failures(tally)).toBe('');
  });
});
