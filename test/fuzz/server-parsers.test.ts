// Fuzzing the server's parsers one by one, in process: the multipart/urlencoded form reader, the
// OAuth Authorization header (with the real client's signer for the round-trip), the
// machine-resources report the commissioning hook processes, and the script upload form. Bad
// input may only be refused with the server's own errors (an HttpError of status 4xx, a
// HookError); every valid input gives back what was sent.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { encodeMultipart } from '../../src/maas/http.js';
import { authorizationHeader } from '../../src/maas/oauth.js';
import type { Credentials } from '../../src/maas/types.js';
import { deriveHardware, emptyHardware, HookError } from '../../src/server/hooks/process-resources.js';
import { HttpError } from '../../src/server/http-error.js';
import { memoryStore } from '../../src/server/memory-store.js';
import { authenticate, oauthParams } from '../../src/server/oauth.js';
import { parseForm, type ParsedForm } from '../../src/server/request-body.js';
import { readScriptForm } from '../../src/server/scripts/script-form.js';
import { failures, fuzz, mutatedBytes, mutatedJson, mutatedText, nastyString, TARGET_TIMEOUT_MS, wrong, type Outcome } from './fuzz-kit.js';

/** Undefined for an HttpError of status 4xx (a refusal); a crash or a wrong status otherwise. */
function refusedCleanly(error: unknown): Outcome {
  if (error instanceof HttpError) return error.status >= 400 && error.status < 500 ? undefined : wrong(`HttpError ${error.status}: ${error.body}`);
  return { kind: 'crash', detail: error instanceof Error ? `${error.name}: ${error.message}\n${error.stack?.split('\n').slice(1, 4).join('\n')}` : String(error) };
}

// Text a form's names and values may hold and still come back the same from a multipart body: no
// quote or line end in a name (the client does not escape them), any Unicode in a value.
// (A part whose name is empty is refused: the client never sends one.)
const partName = fc.stringMatching(/^[A-Za-z0-9_.@+=:,-]{1,24}$/);
const FIELD_NAMES = ['op', 'status', 'name', 'exit_status', 'runtime', 'script_result_id', 'script_version_id', 'error', 'result', 'hostname', 'mac_addresses', 'architecture', 'deployed', 'script', 'tags', 'oauth_token'];
const fieldName = fc.oneof(fc.constantFrom(...FIELD_NAMES), partName);
const fieldValue = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 60 }), fc.constantFrom('OK', 'WORKING', 'FAILED', 'signal', '0', '-1', '1.5', ''));
const boundary = fc.stringMatching(/^[A-Za-z0-9]{1,70}$/);
const validForm = fc.record({
  fields: fc.array(fc.tuple(fieldName, fieldValue), { maxLength: 8 }),
  files: fc.array(fc.record({ name: partName, content: fc.uint8Array({ maxLength: 300 }) }), { maxLength: 4 }),
  boundary,
});

// A part written by hand, for what the client never sends: no name, a name in RFC 5987 form,
// another disposition, odd content types, a filename without a name.
/** RFC 5987 percent-encoding of any string, lone surrogates included (as their UTF-8 replacement). */
const pct = (text: string) => [...Buffer.from(text, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
const DISPOSITIONS = [
  (n: string) => `form-data; name="${n}"`,
  (n: string, f: string) => `form-data; name="${n}"; filename="${f}"`,
  (_n: string, f: string) => `form-data; filename="${f}"`,
  () => 'form-data',
  (n: string) => `form-data; name*=utf-8''${pct(n)}`,
  (n: string, f: string) => `form-data; name=${n}; filename*=UTF-8''${pct(f)}`,
  (n: string) => `attachment; name="${n}"`,
  (n: string) => `form-data; name="${n}"; name="${n}x"`,
  (n: string, f: string) => `form-data;name="${n}";filename=""${f}`,
];
const rawPart = fc.record({
  disposition: fc.oneof(fc.tuple(fc.nat(DISPOSITIONS.length - 1), nastyString, nastyString).map(([i, n, f]) => DISPOSITIONS[i]!(n, f)), nastyString),
  contentType: fc.option(fc.constantFrom('application/octet-stream', 'text/plain; charset=latin1', 'text/plain; charset=bogus', 'multipart/mixed; boundary=inner', '', ';;;')),
  body: fc.oneof(fc.string({ maxLength: 80 }), fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b).toString('latin1'))),
});
const handWrittenBody = fc.tuple(fc.array(rawPart, { maxLength: 5 }), boundary, fc.boolean()).map(([parts, b, closed]) => {
  const text = parts.map((p) => `--${b}\r\nContent-Disposition: ${p.disposition}\r\n${p.contentType === null ? '' : `Content-Type: ${p.contentType}\r\n`}\r\n${p.body}\r\n`).join('');
  return { contentType: `multipart/form-data; boundary=${b}`, body: Buffer.from(`${text}${closed ? `--${b}--\r\n` : ''}`, 'latin1') };
});
const CONTENT_TYPES = ['multipart/form-data', 'multipart/form-data; boundary=', 'multipart/form-data; boundary="a b"', 'application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=bogus', 'MULTIPART/FORM-DATA; BOUNDARY=x', 'text/plain', 'multipart/form-data; boundary=x; charset=utf-16'];
const contentType = fc.oneof(fc.constantFrom(...CONTENT_TYPES), mutatedText('multipart/form-data; boundary=AaB03x'), nastyString);

function formsEqual(form: ParsedForm, fields: readonly (readonly [string, string])[], files: readonly { name: string; content: Uint8Array }[]): string | undefined {
  const expected = new Map<string, string[]>();
  for (const [name, value] of fields) expected.set(name, [...(expected.get(name) ?? []), value]);
  if (JSON.stringify([...form.fields]) !== JSON.stringify([...expected])) return `fields ${JSON.stringify([...form.fields])} instead of ${JSON.stringify([...expected])}`;
  if (form.files.length !== files.length) return `${form.files.length} files instead of ${files.length}`;
  for (const [i, file] of files.entries()) {
    const got = form.files[i]!;
    // The filename only marks the part as a file (the server goes by the part name); busboy
    // keeps its last path component, so "." and ".." come back as "".
    if (got.name !== file.name || got.filename === undefined || !got.data.equals(Buffer.from(file.content))) return `file ${i} came back as ${got.name} (${got.data.length} bytes)`;
  }
  return undefined;
}

describe('server form parser (multipart and urlencoded bodies)', () => {
  test('refuses any body with a 4xx, never throws anything else, and reads back every form the client encodes', { timeout: TARGET_TIMEOUT_MS }, async () => {
    const input = fc.oneof(
      validForm.map((form) => ({ kind: 'valid' as const, form })),
      validForm.chain((form) => {
        const { body, contentType: type } = encodeMultipart(form.fields, form.files, form.boundary);
        return fc.record({ body: mutatedBytes(Buffer.from(body)), contentType: fc.oneof(fc.constant(type), contentType) });
      }).map((raw) => ({ kind: 'raw' as const, ...raw })),
      handWrittenBody.map((raw) => ({ kind: 'raw' as const, ...raw })),
      fc.record({ body: fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)), contentType }).map((raw) => ({ kind: 'raw' as const, ...raw })),
      fc.record({ body: mutatedText('op=signal&status=OK&name=x%20y&a=&=b&&c').map((t) => Buffer.from(t)), contentType: fc.constant('application/x-www-form-urlencoded') }).map((raw) => ({ kind: 'raw' as const, ...raw })),
    );
    const tally = await fuzz('server: multipart/form parser', input, async (item) => {
      if (item.kind === 'valid') {
        const { fields, files, boundary: b } = item.form;
        const { body, contentType: type } = encodeMultipart(fields, files, b);
        let form: ParsedForm;
        try {
          form = await parseForm(type, Buffer.from(body));
        } catch (error) {
          return refusedCleanly(error) ?? wrong(`a form the client encodes was refused: ${(error as Error).message}`);
        }
        const mismatch = formsEqual(form, fields, files);
        return mismatch === undefined ? undefined : wrong(mismatch);
      }
      try {
        await parseForm(item.contentType, item.body);
        return undefined;
      } catch (error) {
        return refusedCleanly(error);
      }
    });
    expect(failures(tally)).toBe('');
  });
});

describe('server OAuth Authorization header', () => {
  const store = memoryStore();
  let serial = 0;
  // Secrets, keys and nonces as anyone may choose them (an admin key is given on the command
  // line), including the characters OAuth must percent-encode.
  const keyText = fc.oneof(fc.stringMatching(/^[A-Za-z0-9]{18}$/), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).filter((s) => !s.includes(':')), fc.constantFrom('realm', 'a,b', 'x="y"', 'OAuth ', '%41', 'a b'));
  const credentials = fc.record({ consumerKey: keyText, tokenKey: keyText, tokenSecret: keyText, consumerSecret: fc.oneof(fc.constant(''), keyText) });
  const NOW = 1_800_000_000;

  function remember(creds: Credentials): string {
    serial += 1;
    const tokenKey = `${creds.tokenKey}#${serial}`;
    store.putUserWithKey({ username: `user${serial}`, isAdmin: false }, { ...creds, tokenKey, username: `user${serial}`, systemId: null });
    return tokenKey;
  }

  test('every header the client signs authenticates as its token; any other header is answered 4xx or anonymous, never with another error', { timeout: TARGET_TIMEOUT_MS }, async () => {
    const input = fc.oneof(
      fc.record({ kind: fc.constant('valid' as const), creds: credentials, skew: fc.integer({ min: -290, max: 290 }), nonce: fc.stringMatching(/^[0-9]{1,30}$/) }),
      fc.record({
        kind: fc.constant('mutated' as const),
        creds: credentials,
        nonce: fc.stringMatching(/^[0-9]{1,30}$/),
        mutations: fc.array(fc.tuple(fc.nat(), fc.nat(), fc.string({ maxLength: 12 })), { minLength: 1, maxLength: 4 }),
        query: fc.array(fc.tuple(fc.constantFrom('oauth_token', 'oauth_nonce', 'oauth_timestamp', 'oauth_signature', 'oauth_consumer_key', 'oauth_signature_method', 'oauth_version', 'x'), nastyString), { maxLength: 3 }),
      }),
      fc.record({ kind: fc.constant('raw' as const), header: fc.oneof(nastyString, mutatedText('OAuth oauth_nonce="1", oauth_timestamp="1800000000", oauth_version="1.0", oauth_signature_method="PLAINTEXT", oauth_consumer_key="ck", oauth_token="tk", oauth_signature="%26ts"', 6), fc.string({ maxLength: 200 }).map((s) => `OAuth ${s}`)) }),
    );
    const tally = await fuzz('server: OAuth Authorization header', input, (item) => {
      if (item.kind === 'raw') {
        try {
          authenticate(store, oauthParams(item.header, new URLSearchParams()), NOW);
          return undefined;
        } catch (error) {
          return refusedCleanly(error);
        }
      }
      const tokenKey = remember(item.creds);
      const signed = { ...item.creds, tokenKey };
      if (item.kind === 'valid') {
        const header = authorizationHeader(signed, { nowMs: NOW * 1000, skewSeconds: item.skew, nonce: item.nonce })!;
        try {
          const caller = authenticate(store, oauthParams(header, new URLSearchParams()), NOW);
          if (caller.kind !== 'token' || caller.token.tokenKey !== tokenKey) return wrong(`signed header read as ${caller.kind === 'token' ? `token ${caller.token.tokenKey}` : 'anonymous'}: ${header}`);
          return undefined;
        } catch (error) {
          return refusedCleanly(error) ?? wrong(`a header the client signed was refused: ${(error as Error).message}; header ${header}`);
        }
      }
      let header = authorizationHeader(signed, { nowMs: NOW * 1000, nonce: item.nonce })!;
      for (const [at, length, text] of item.mutations) {
        const from = at % (header.length + 1);
        header = `${header.slice(0, from)}${text}${header.slice(from + (length % 8))}`;
      }
      try {
        authenticate(store, oauthParams(header, new URLSearchParams(item.query)), NOW);
        return undefined;
      } catch (error) {
        return refusedCleanly(error);
      }
    });
    expect(failures(tally)).toBe('');
  });
});

describe('server machine-resources report (commissioning hook)', () => {
  const dir = join(import.meta.dirname, '../fixtures/maas-samples');
  const samples = ['lp1906834', 'lp1939456', 'lp2067998', 'machine-resources', 'no_numa'].map((name) => JSON.parse(readFileSync(join(dir, `maas-sample-${name}.json`), 'utf8')) as unknown);
  const earlier = deriveHardware({ document: samples[3], previous: emptyHardware(), deployed: true });

  test('any report is processed or refused with a HookError, never another exception', { timeout: TARGET_TIMEOUT_MS }, async () => {
    const sample = fc.constantFrom(...samples);
    const document = fc.oneof(
      { weight: 6, arbitrary: sample.chain((doc) => mutatedJson(doc, 4)).map((doc) => Buffer.from(JSON.stringify(doc))) },
      { weight: 2, arbitrary: mutatedBytes(sample.map((doc) => Buffer.from(JSON.stringify(doc))), 3) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((doc) => Buffer.from(JSON.stringify(doc) ?? 'null')) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
    );
    const input = fc.record({ document, deployed: fc.boolean(), again: fc.boolean() });
    const tally = await fuzz(
      'server: machine-resources JSON',
      input,
      (item) => {
        try {
          deriveHardware({ document: item.document, previous: item.again ? earlier : emptyHardware(), deployed: item.deployed });
          return undefined;
        } catch (error) {
          if (!(error instanceof HookError)) return refusedCleanly(error);
          // The hook turns an exception of its own code into a HookError "unexpected …": a report
          // it did not foresee, which should have been refused by name.
          return error.reason.startsWith('unexpected ') ? { kind: 'crash', detail: error.reason } : undefined;
        }
      },
      200,
    );
    expect(failures(tally)).toBe('');
  });
});

describe('server script upload form', () => {
  const script = [
    '#!/bin/bash',
    '# --- Start MAAS 1.0 script metadata ---',
    '# name: 76-embedded',
    '# title: Embedded metadata',
    '# script_type: commissioning',
    '# tags: [deploy-info, site]',
    '# parallel: instance',
    '# timeout: 00:00:45',
    '# hardware_type: node',
    '# packages: {apt: [lshw]}',
    '# for_hardware: [pci:8086:1572]',
    '# results: {a: {title: A}}',
    '# parameters: {storage: {type: storage}}',
    '# --- End MAAS 1.0 script metadata ---',
    'echo embedded',
    '',
  ].join('\n');
  const FORM_FIELDS = ['name', 'title', 'description', 'tags', 'type', 'script_type', 'hardware_type', 'parallel', 'timeout', 'destructive', 'comment', 'for_hardware', 'may_reboot', 'recommission', 'apply_configured_networking', 'script', 'packages'];

  test('any upload gives the fields or a 400 list of field errors, never an exception', { timeout: TARGET_TIMEOUT_MS }, async () => {
    const body = fc.oneof(mutatedText(script, 5), fc.string({ maxLength: 200 }).map((s) => `#!/bin/sh\n${s}`), fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b).toString('latin1')));
    const input = fc.record({
      fields: fc.array(fc.tuple(fc.constantFrom(...FORM_FIELDS), fc.oneof(nastyString, fc.constantFrom('true', 'no', '1:00', '00:00:45', '-5', 'testing', 'storage', 'any', 'deploy-info,x', '99999999999999999999'))), { maxLength: 6 }),
      script: fc.option(fc.tuple(fc.constantFrom('script', 'my-script', ''), body), { nil: undefined }),
      extraFile: fc.boolean(),
    });
    const tally = await fuzz('server: script upload form', input, (item) => {
      const form: ParsedForm = { fields: new Map(), files: [] };
      for (const [name, value] of item.fields) form.fields.set(name, [...(form.fields.get(name) ?? []), value]);
      if (item.script) form.files.push({ name: item.script[0], filename: item.script[0], data: Buffer.from(item.script[1], 'utf8') });
      if (item.extraFile) form.files.push({ name: 'other', filename: 'other', data: Buffer.from('#!/bin/sh\n') });
      try {
        const read = readScriptForm(form, (name) => name === '76-embedded-taken');
        if ('fields' in read && (read.fields.name === '' || read.fields.name.includes('/') || read.fields.name.startsWith('.'))) return wrong(`accepted the name ${JSON.stringify(read.fields.name)}`);
        return undefined;
      } catch (error) {
        return refusedCleanly(error);
      }
    });
    expect(failures(tally)).toBe('');
  });
});
