// Test harness for the bundled server: starts it on 127.0.0.1 port 0 with either store, and
// signs requests as the real client does (OAuth PLAINTEXT, fresh nonce each time).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract } from 'tar-stream';
import type { MachineJson } from '../../src/maas/types.js';
import { startMaasServer, type RunningServer } from '../../src/server/server.js';

export type StoreKind = 'memory' | 'sqlite';
export const STORE_KINDS: StoreKind[] = ['memory', 'sqlite'];

/** A running server plus its temp dir (for the SQLite file). */
export interface Harness extends RunningServer {
  dir: string;
  /** Base without /MAAS, e.g. http://127.0.0.1:41234 */
  origin: string;
  stop(): Promise<void>;
}

/** Starts a server with the given store kind; stop() closes it and removes its files. */
export async function startHarness(kind: StoreKind, options: { adminKey?: string } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'maas-server-test-'));
  const running = await startMaasServer({ db: kind === 'sqlite' ? join(dir, 'maas.db') : undefined, ...options });
  return {
    ...running,
    dir,
    origin: running.url.replace(/\/MAAS$/, ''),
    async stop() {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The three parts of a "ck:tk:ts" key. */
export function splitKey(key: string): { ck: string; tk: string; ts: string } {
  const [ck = '', tk = '', ts = ''] = key.split(':');
  return { ck, tk, ts };
}

/** An Authorization header as the upstream client sends it (docs/protocol.md §2.3). */
export function oauthHeader(key: string, options: { timestamp?: number; nonce?: string } = {}): string {
  const { ck, tk, ts } = splitKey(key);
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const nonce = options.nonce ?? `${randomBytes(8).readBigUInt64BE()}${timestamp}`;
  return `OAuth oauth_nonce="${nonce}", oauth_timestamp="${timestamp}", oauth_version="1.0", oauth_signature_method="PLAINTEXT", oauth_consumer_key="${ck}", oauth_token="${tk}", oauth_signature="%26${ts}"`;
}

/** Fields and files of a multipart body. */
export interface FormSpec {
  fields?: Record<string, string | string[]>;
  files?: Record<string, string | Buffer>;
}

export function formData(spec: FormSpec): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(spec.fields ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) form.append(name, v);
  }
  for (const [name, content] of Object.entries(spec.files ?? {})) form.append(name, new Blob([content]), name);
  return form;
}

/** A signed request (key undefined → unsigned). */
/** What a request needs of a server: its URL (…/MAAS) and admin key. A Harness is one. */
export type Endpoint = Pick<Harness, 'url' | 'adminKey'>;

export async function call(
  h: Endpoint,
  method: string,
  path: string,
  key: string | undefined,
  form?: FormSpec,
): Promise<Response> {
  return fetch(`${h.url}${path}`, {
    method,
    headers: key ? { Authorization: oauthHeader(key) } : {},
    body: form ? formData(form) : undefined,
    redirect: 'manual',
  });
}

/** Creates a deployed machine as admin; returns its system id and machine token "ck:tk:ts". */
export async function createDeployed(h: Endpoint, fields: Record<string, string | string[]> = {}): Promise<{ systemId: string; token: string }> {
  const created = await call(h, 'POST', '/api/2.0/machines/', h.adminKey, { fields: { deployed: 'true', ...fields } });
  if (created.status !== 200) throw new Error(`create failed: ${created.status} ${await created.text()}`);
  const { system_id: systemId } = (await created.json()) as { system_id: string };
  return { systemId, token: await machineToken(h, systemId, h.adminKey) };
}

/** Reads a machine's token with `key`; throws when the answer is not 200 with a token. */
export async function machineToken(h: Endpoint, systemId: string, key: string): Promise<string> {
  const response = await call(h, 'GET', `/api/2.0/machines/${systemId}/?op=get_token`, key);
  if (response.status !== 200) throw new Error(`get_token failed: ${response.status}`);
  const t = (await response.json()) as { consumer_key: string; token_key: string; token_secret: string };
  return `${t.consumer_key}:${t.token_key}:${t.token_secret}`;
}

/** Sends one signal as the client does (docs/protocol.md §4.1): fields, then .out/.err/combined files. */
export async function signal(
  h: Endpoint,
  token: string,
  name: string,
  options: { status?: string; exitStatus?: number; resultId?: number; stdout?: string | Buffer; stderr?: string; extraFields?: Record<string, string> } = {},
): Promise<Response> {
  const stdout = options.stdout ?? '';
  const stderr = options.stderr ?? '';
  const fields: Record<string, string> = { op: 'signal', status: options.status ?? 'WORKING' };
  if (options.resultId !== undefined) fields.script_result_id = String(options.resultId);
  Object.assign(fields, { runtime: '0.25', exit_status: String(options.exitStatus ?? 0), name }, options.extraFields);
  return call(h, 'POST', '/metadata/2012-03-01/', token, {
    fields,
    files: { [`${name}.out`]: stdout, [`${name}.err`]: stderr, [name]: Buffer.concat([Buffer.from(stdout), Buffer.from(stderr)]) },
  });
}

/** GETs a machine's JSON as admin. */
export async function readMachine(h: Harness, systemId: string): Promise<MachineJson> {
  const response = await call(h, 'GET', `/api/2.0/machines/${systemId}/`, h.adminKey);
  if (response.status !== 200) throw new Error(`read failed: ${response.status}`);
  return (await response.json()) as MachineJson;
}

/** One member of a tarball. */
export interface Member {
  name: string;
  mode: number;
  content: Buffer;
}

/** The members of an uncompressed tar, in order. */
export async function untar(tar: Buffer): Promise<Member[]> {
  const members: Member[] = [];
  const reader = extract();
  reader.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => void chunks.push(c as Buffer));
    stream.on('end', () => {
      members.push({ name: header.name, mode: header.mode ?? 0, content: Buffer.concat(chunks) });
      next();
    });
  });
  const done = new Promise<void>((resolve, reject) => {
    reader.on('finish', resolve);
    reader.on('error', reject);
  });
  reader.end(tar);
  await done;
  return members;
}
