// Fuzzing the real server over TCP: a server started on 127.0.0.1 port 0 gets fuzzed requests
// written byte by byte on a socket (so nothing in an HTTP client tidies them first): methods,
// paths, query strings, headers, OAuth signatures of an admin, a plain user and a machine, and
// bodies (forms the client sends, forms no client sends, result files, machine-resources reports,
// script uploads, random bytes). Whatever arrives, the server answers, and never with 500.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { encodeMultipart } from '../../src/maas/http.js';
import { NodeStatus, SIGNAL_STATUSES } from '../../src/maas/types.js';
import { allScripts, isBuiltin } from '../../src/server/scripts/script-library.js';
import { startMaasServer, type RunningServer } from '../../src/server/server.js';
import { createDeployed, oauthHeader } from '../server/server-harness.js';
import { failures, fuzz, mutatedBytes, mutatedJson, mutatedText, nastyString, TARGET_TIMEOUT_MS, wrong, type Outcome } from './fuzz-kit.js';

/** The server under test and the keys requests are signed with; renewed now and then so state stays small. */
interface World {
  server: RunningServer;
  port: number;
  adminKey: string;
  userKey: string;
  machine: { systemId: string; token: string };
  logged: string[];
}

let world: World;
let served = 0;
const downloadsDir = mkdtempSync(join(tmpdir(), 'fuzz-downloads-'));
const downloads = { bundle: join(downloadsDir, 'maas-run-scripts'), x64: join(downloadsDir, 'maas-run-scripts-linux-x64') };
writeFileSync(downloads.bundle, '#!/usr/bin/env node\n');
writeFileSync(downloads.x64, Buffer.alloc(4096, 1));

async function newWorld(): Promise<World> {
  const logged: string[] = [];
  // Small stand-ins for the downloads, so a fuzzed GET of them does not stream the real
  // executables (tens of MB) thousands of times.
  const server = await startMaasServer({ log: (line) => void logged.push(line), bundlePath: downloads.bundle, standalonePaths: { x64: downloads.x64 } });
  const port = Number(new URL(server.url).port);
  const userKey = server.store.addUser('plain', { admin: false });
  const machine = await createDeployed({ url: server.url, adminKey: server.adminKey }, { hostname: 'fuzzed' });
  return { server, port, adminKey: server.adminKey, userKey, machine, logged };
}

/**
 * Before each case: a fresh server every 2,000 requests (machines and scripts the fuzzer created
 * would otherwise pile up), and a deployed machine with a live token (a signal of OK releases it).
 */
async function ready(): Promise<World> {
  served += 1;
  if (served % 2000 === 0) {
    await world.server.close();
    world = await newWorld();
  }
  const { store } = world.server;
  const machine = store.getMachine(world.machine.systemId);
  const token = store.machineToken(world.machine.systemId);
  if (!machine || machine.status !== NodeStatus.DEPLOYED || !token || !world.machine.token.includes(token.tokenKey) || !store.getToken(world.adminKey.split(':')[1]!)) {
    world.machine = await createDeployed({ url: world.server.url, adminKey: world.adminKey }, { hostname: `fuzzed-${served}` });
  }
  // Uploaded deploy-info scripts join every tarball: removed before they make each case slower.
  if (served % 200 === 0) for (const script of allScripts(store)) if (!isBuiltin(script)) store.deleteScript(script.name);
  return world;
}

beforeAll(async () => {
  world = await newWorld();
});
afterAll(async () => {
  await world.server.close();
  rmSync(downloadsDir, { recursive: true, force: true });
});

/** What the server wrote back: the final status (after any 100 Continue), or none. */
interface Answer {
  status: number | undefined;
  text: string;
}

/**
 * Writes `bytes` on a new connection and reads until the server closes it (every request says
 * Connection: close). A request whose framing was broken on purpose may leave the server waiting
 * for more: its connection is half-closed at once, as a client that gives up would.
 */
function exchange(port: number, bytes: Buffer, halfClose = false): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A reset after the server answered (or refused) is how some refusals end: not a failure.
    socket.on('error', () => {});
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const statuses = [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
      resolve({ status: statuses.find((s) => s >= 200), text });
    });
    if (halfClose) socket.end(bytes);
    else socket.write(bytes);
  });
}

// ---------------------------------------------------------------------------------------------
// Requests

type Auth = 'none' | 'admin' | 'user' | 'machine' | 'mangled' | 'stale' | 'foreign';

interface RequestSpec {
  method: string;
  path: (w: World) => string;
  query: string;
  auth: Auth;
  body: { contentType: string | undefined; bytes: Buffer } | undefined;
  headers: [string, string][];
}

function signedBy(w: World, auth: Auth, mangle: (header: string) => string): string | undefined {
  switch (auth) {
    case 'none':
      return undefined;
    case 'admin':
      return oauthHeader(w.adminKey);
    case 'user':
      return oauthHeader(w.userKey);
    case 'machine':
      return oauthHeader(w.machine.token);
    case 'mangled':
      return mangle(oauthHeader(w.adminKey));
    case 'stale':
      return oauthHeader(w.machine.token, { timestamp: 1000 });
    case 'foreign':
      return oauthHeader('ck:tk:ts');
  }
}

const PATHS: ((w: World) => string)[] = [
  () => '/MAAS/api/2.0/machines/',
  (w) => `/MAAS/api/2.0/machines/${w.machine.systemId}/`,
  () => '/MAAS/api/2.0/machines/xyz123/',
  () => '/MAAS/api/2.0/scripts/',
  () => '/MAAS/api/2.0/scripts/50-maas-01-commissioning',
  () => '/MAAS/api/2.0/scripts/76-fuzzed',
  () => '/MAAS/metadata/2012-03-01/',
  () => '/MAAS/metadata/2012-03-01/maas-scripts',
  () => '/MAAS/metadata/latest/maas-scripts/x',
  () => '/MAAS/metadata//status/abc',
  () => '/MAAS/maas-run-scripts',
  () => '/MAAS/maas-run-scripts-linux-x64',
  () => '/MAAS/maas-run-scripts-linux-%zz',
  () => '/MAAS/machine-resources/amd64',
  () => '/',
  () => '*',
  () => 'http://other.example/MAAS/api/2.0/machines/',
];
const path = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...PATHS) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...PATHS), fc.array(fc.tuple(fc.nat(), fc.constantFrom('%', '%2F', '%00', '/..', '//', '%zz', '.', '~', 'é', '%C0%AF', '\\', ';x', '%0d%0a')), { minLength: 1, maxLength: 3 })).map(([base, edits]) => (w: World) => {
    let text = base(w);
    for (const [at, insert] of edits) text = `${text.slice(0, at % (text.length + 1))}${insert}${text.slice(at % (text.length + 1))}`;
    return text;
  }) },
  { weight: 1, arbitrary: fc.stringMatching(/^\/[!-~]{0,60}$/).map((text) => () => text) },
);

const QUERY_NAMES = ['op', 'hostname', 'mac_address', 'id', 'type', 'hardware_type', 'filters', 'include_script', 'oauth_token', 'oauth_nonce', 'oauth_timestamp', 'oauth_signature', 'oauth_consumer_key', 'oauth_signature_method', 'status', 'x'];
const OPS = ['get_token', 'regenerate_token', 'release', 'signal', 'download', 'list', 'read', 'set_workload_annotations', 'details', 'power_parameters', ''];
const queryValue = fc.oneof(fc.constantFrom(...OPS), fc.constantFrom('52:54:00:12:34:56', '5254.0012.3456', 'commissioning', 'testing', 'storage', 'cpu', 'node', 'true', 'false', 'deploy-info', 'fuzzed'), nastyString);
/** A query string: encoded as a client would, or written raw (broken escapes, odd separators). */
const query = fc.oneof(
  fc.array(fc.tuple(fc.oneof(fc.constantFrom(...QUERY_NAMES), nastyString), queryValue), { maxLength: 5 }).map((pairs) => (pairs.length ? `?${new URLSearchParams(pairs).toString()}` : '')),
  fc.array(fc.tuple(fc.constantFrom(...QUERY_NAMES), fc.stringMatching(/^[!-~]{0,20}$/)), { maxLength: 4 }).map((pairs) => `?${pairs.map(([n, v]) => `${n}=${v.replace(/#/g, '')}`).join('&')}`),
  fc.constantFrom('', '?', '?&', '?=', '?op', '?op=', '?op=get_token&op=release', '?op=%zz', '?%=%', '?hostname[]=a', '?mac_address=zz'),
);

// Forms the real client and scripts send, then edited.
const samplesDir = join(import.meta.dirname, '../fixtures/maas-samples');
const resourcesSample = JSON.parse(readFileSync(join(samplesDir, 'maas-sample-machine-resources.json'), 'utf8')) as unknown;
const scriptText = ['#!/bin/bash', '# --- Start MAAS 1.0 script metadata ---', '# name: 76-fuzzed', '# script_type: commissioning', '# tags: [deploy-info]', '# timeout: 00:00:45', '# --- End MAAS 1.0 script metadata ---', 'echo hi', ''].join('\n');
const YAML_RESULTS = ['', 'status: passed', 'status: failed', 'status: bogus', '[1, 2]', 'a: &a [*a]', '{', 'status: {x: 1}', '- status', 'results: {}', 'status: degraded\nresults: {a: 1}'];

const resultFile = fc.oneof(
  fc.record({ name: fc.constantFrom('50-maas-01-commissioning.out'), content: fc.oneof(mutatedJson(resourcesSample, 3).map((d) => JSON.stringify(d)), fc.constant(JSON.stringify(resourcesSample)), fc.string({ maxLength: 40 })) }),
  fc.record({ name: fc.constantFrom('maas-list-modaliases.out'), content: fc.oneof(fc.constant('pci:v00008086d00001572sv*\nusb:v1D6Bp0002*\n'), fc.string({ maxLength: 60 }), fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('latin1'))) }),
  fc.record({ name: fc.constantFrom('40-maas-01-network-interfaces.yaml', 'x.yaml', 'lshw.yaml'), content: fc.oneof(fc.constantFrom(...YAML_RESULTS), mutatedText('status: passed\nresults:\n  a: 1\n')) }),
  fc.record({ name: fc.oneof(fc.constantFrom('lshw.out', 'lshw.err', 'lshw', '.out', '.', '..', 'a.b.c.err', 'x.OUT', '../../x'), nastyString.filter((s) => !/["\r\n]/.test(s))), content: fc.string({ maxLength: 60 }) }),
);
const signalFields = fc.tuple(
  fc.oneof(fc.constantFrom(...SIGNAL_STATUSES), nastyString),
  fc.oneof(fc.constantFrom('1', '2', '3', '4', '-1', '0', ' 7 ', '99999999999999999999', '1e3', ''), nastyString),
  fc.oneof(fc.constantFrom('0', '1', '-9', '255', 'x', ''), nastyString),
  fc.oneof(fc.constantFrom('0.25', '1.0', 'NaN', 'Infinity', '-1', '1e400', ''), nastyString),
  fc.oneof(fc.constantFrom('50-maas-01-commissioning', 'maas-list-modaliases', 'lshw', ''), nastyString),
  fc.option(fc.constantFrom('1', 'x', '-5')),
).map(([status, resultId, exit, runtime, name, versionId]) => {
  const fields: [string, string][] = [['op', 'signal'], ['status', status], ['script_result_id', resultId], ['runtime', runtime], ['exit_status', exit], ['name', name]];
  if (versionId !== null) fields.push(['script_version_id', versionId]);
  return fields;
});
const machineFields = fc.array(
  fc.tuple(fc.constantFrom('hostname', 'mac_addresses', 'architecture', 'deployed', 'power_type', 'domain', 'description', 'commission', 'power_parameters_power_address', 'hostname'), fc.oneof(fc.constantFrom('fuzz-1', 'amd64', 'amd64/generic', 'true', 'manual', '52:54:00:aa:bb:cc', '52-54-00-AA-BB-CC', 'ipmi', 'x'.repeat(300), ''), nastyString)),
  { maxLength: 6 },
);
const scriptUploadFields = fc.array(fc.tuple(fc.constantFrom('name', 'title', 'tags', 'type', 'timeout', 'parallel', 'hardware_type', 'comment', 'destructive'), nastyString), { maxLength: 4 });

const multipartBody = fc.tuple(
  fc.oneof(signalFields, machineFields, scriptUploadFields, fc.constant([] as [string, string][])),
  fc.oneof(fc.array(resultFile, { maxLength: 4 }), fc.tuple(fc.constantFrom('script', '76-fuzzed'), mutatedText(scriptText)).map(([name, content]) => [{ name, content }])),
  fc.boolean(),
).map(([fields, files, mangle]) => {
  const { body, contentType } = encodeMultipart(fields, files.map((f) => ({ name: f.name, content: f.content })), 'FuzzBoundary0123456789');
  return { contentType, bytes: Buffer.from(body), mangle };
});

/** Parts no client sends: no name, a name only in RFC 5987 form, odd dispositions. */
const oddParts = fc.array(
  fc.tuple(fc.constantFrom('form-data', 'form-data; filename="f"', 'form-data; name*=utf-8\'\'op', 'form-data; name="op"', 'form-data; name="x"; filename="x.out"', 'attachment', 'form-data; name=""', 'form-data; filename=""'), fc.string({ maxLength: 30 })),
  { minLength: 1, maxLength: 4 },
).map((parts) => ({
  contentType: 'multipart/form-data; boundary=b0',
  bytes: Buffer.from(`${parts.map(([d, v]) => `--b0\r\nContent-Disposition: ${d}\r\n\r\n${v}\r\n`).join('')}--b0--\r\n`),
}));

const body = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: multipartBody.chain(({ contentType, bytes, mangle }) => (mangle ? mutatedBytes(bytes, 3) : fc.constant(bytes)).map((b) => ({ contentType, bytes: b }))) },
  { weight: 2, arbitrary: oddParts },
  { weight: 1, arbitrary: fc.record({ contentType: fc.constant('application/x-www-form-urlencoded'), bytes: mutatedText('op=signal&status=OK&name=lshw&exit_status=0').map((t) => Buffer.from(t)) }) },
  { weight: 1, arbitrary: fc.record({ contentType: fc.oneof(fc.constant(undefined), fc.constantFrom('multipart/form-data', 'multipart/form-data; boundary=', 'application/json', 'text/plain; charset=utf-16'), nastyString.filter((s) => !/[\r\n\0]/.test(s) && s.length < 200)), bytes: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) }) },
);

const extraHeaders = fc.array(
  fc.oneof(
    fc.constantFrom<[string, string]>(['Expect', '100-continue'], ['Accept', '*/*'], ['Accept-Encoding', 'gzip'], ['Connection', 'keep-alive'], ['X-Forwarded-For', '10.0.0.1'], ['Cookie', 'a=b'], ['Authorization', 'Basic YTpi'], ['Authorization', 'OAuth '], ['Authorization', 'OAuth realm="OAuth"'], ['Content-Language', 'x']),
    fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/), fc.stringMatching(/^[ -~]{0,80}$/)),
  ),
  { maxLength: 3 },
);

const request: fc.Arbitrary<RequestSpec> = fc.record({
  method: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'HEAD', 'PATCH', 'OPTIONS') }, { weight: 1, arbitrary: fc.stringMatching(/^[A-Z]{1,8}$/) }),
  path,
  query,
  auth: fc.constantFrom<Auth>('none', 'admin', 'admin', 'user', 'machine', 'machine', 'mangled', 'stale', 'foreign'),
  body,
  headers: extraHeaders,
});

/** The request's bytes, framed correctly (Content-Length matches the body). */
function render(w: World, spec: RequestSpec, mangle: (header: string) => string): Buffer {
  const target = `${spec.path(w)}${spec.query}`.replace(/[\s]/g, '');
  const lines = [`${spec.method} ${target} HTTP/1.1`, `Host: 127.0.0.1:${w.port}`, 'Connection: close'];
  const authorization = signedBy(w, spec.auth, mangle);
  if (authorization !== undefined) lines.push(`Authorization: ${authorization.replace(/[\r\n]/g, '')}`);
  for (const [name, value] of spec.headers) if (!/^(content-length|transfer-encoding|host|connection|upgrade)$/i.test(name)) lines.push(`${name}: ${value}`);
  if (spec.body?.contentType !== undefined) lines.push(`Content-Type: ${spec.body.contentType}`);
  const bytes = spec.body?.bytes ?? Buffer.alloc(0);
  if (spec.body) lines.push(`Content-Length: ${bytes.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), bytes]);
}

/** A well-framed request must be answered, and never with 500. */
function judge(answer: Answer, framed: boolean, what: string): Outcome {
  if (answer.status === 500) return { kind: 'status500', detail: `${what}\n  answer: ${answer.text.slice(0, 300)}` };
  if (answer.status === undefined && framed) return wrong(`no answer to a well-framed request: ${what}`);
  return undefined;
}

const mangler = fc.array(fc.tuple(fc.nat(), fc.nat(6), fc.string({ maxLength: 6 })), { minLength: 1, maxLength: 3 }).map((edits) => (header: string) => {
  let text = header;
  for (const [at, length, insert] of edits) {
    const from = at % (text.length + 1);
    text = `${text.slice(0, from)}${insert}${text.slice(from + length)}`;
  }
  return text;
});

describe('the HTTP server under fuzzed requests', () => {
  test('answers every request (methods, paths, headers, bodies, signatures), never with 500, and keeps serving', { timeout: TARGET_TIMEOUT_MS }, async () => {
    const input = fc.record({ spec: request, mangle: mangler, rawEdits: fc.option(fc.array(fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 8 }), fc.nat(8)), { minLength: 1, maxLength: 3 }), { freq: 4 }) });
    const tally = await fuzz(
      'server: HTTP requests (methods, paths, headers, bodies)',
      input,
      async ({ spec, mangle, rawEdits }) => {
        const w = await ready();
        let bytes = render(w, spec, mangle);
        // Now and then the framing itself is broken: bytes replaced anywhere in the request.
        if (rawEdits) for (const [at, insert, cut] of rawEdits) bytes = Buffer.concat([bytes.subarray(0, at % (bytes.length + 1)), Buffer.from(insert), bytes.subarray((at % (bytes.length + 1)) + cut)]);
        const answer = await exchange(w.port, bytes, rawEdits !== null);
        return judge(answer, rawEdits === null, bytes.subarray(0, 400).toString('latin1'));
      },
      200,
    );
    // The server is still up and answers a plain request.
    expect((await exchange(world.port, Buffer.from('GET /MAAS/metadata/2012-03-01/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'))).status).toBe(200);
    expect(failures(tally)).toBe('');
  });

  test('answers every query string an admin sends to any route, never with 500', { timeout: TARGET_TIMEOUT_MS }, async () => {
    const input = fc.record({ method: fc.constantFrom('GET', 'POST', 'DELETE', 'GET'), path, query, auth: fc.constantFrom<Auth>('admin', 'admin', 'user', 'machine') });
    const tally = await fuzz(
      'server: query strings',
      input,
      async (item) => {
        const w = await ready();
        const bytes = render(w, { ...item, body: item.method === 'POST' ? { contentType: undefined, bytes: Buffer.alloc(0) } : undefined, headers: [] }, (h) => h);
        return judge(await exchange(w.port, bytes), true, bytes.toString('latin1').split('\r\n')[0]!);
      },
      200,
    );
    expect(failures(tally)).toBe('');
  });

  test('answers every signal a machine sends (fields, result files, resources reports, YAML results), never with 500', { timeout: TARGET_TIMEOUT_MS }, async () => {
    const input = fc.record({ fields: signalFields, files: fc.array(resultFile, { maxLength: 5 }), version: fc.constantFrom('2012-03-01', 'latest', '1.0') });
    const tally = await fuzz(
      'server: signals with result files',
      input,
      async (item) => {
        const w = await ready();
        const form = encodeMultipart(item.fields, item.files, 'SignalBoundary42');
        const spec: RequestSpec = { method: 'POST', path: () => `/MAAS/metadata/${item.version}/`, query: '', auth: 'machine', body: { contentType: form.contentType, bytes: Buffer.from(form.body) }, headers: [] };
        const bytes = render(w, spec, (h) => h);
        const answer = await exchange(w.port, bytes);
        if (answer.status === undefined || answer.status === 500) return judge(answer, true, bytes.subarray(0, 600).toString('latin1'));
        // The signalled machine is still there and readable by its owner.
        const read = await exchange(w.port, render(w, { method: 'GET', path: (x) => `/MAAS/api/2.0/machines/${x.machine.systemId}/`, query: '', auth: 'admin', body: undefined, headers: [] }, (h) => h));
        return read.status === 200 ? undefined : judge(read, true, `reading the machine after the signal: ${bytes.subarray(0, 600).toString('latin1')}`) ?? wrong(`machine read answered ${read.status} after the signal`);
      },
      200,
    );
    expect(failures(tally)).toBe('');
    expect(world.logged.filter((line) => line.startsWith('internal error'))).toEqual([]);
  });
});
