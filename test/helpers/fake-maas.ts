// The recording MAAS stand-in on 127.0.0.1 (port 0) for client and runner tests. It records every
// request raw (headers in order, body, multipart parts, OAuth parameters) and what the client got,
// and lets each test script faults in front of it: answers of its own, a hang, a hang-up, an
// answer lost after the request was handled, a rewritten answer, a server that is down. Behind
// that it either forwards to a real server (`forwardTo`, the bundled one: outage, Retry-After,
// lost-answer and wire tests) or answers from a small model of the admin API the client uses
// (create, list with hostname/mac_address/id filters, read, get_token, regenerate_token, lock,
// unlock, set_workload_annotations, answering as MAAS does: 409 to a second lock) with
// PLAINTEXT OAuth checks like MAAS's (stale timestamps, reused nonces).
import { randomBytes, randomInt } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One multipart part as it arrived: its header lines and raw value. */
export interface RecordedPart {
  headers: string[];
  name: string;
  filename?: string;
  /** Its Content-Type header's value, if it has one. */
  contentType?: string;
  value: Buffer;
}

/** A request as the server saw it. */
export interface RecordedRequest {
  method: string;
  /** Path and query, e.g. /MAAS/api/2.0/machines/?hostname=web01 */
  path: string;
  /** Header names and values in arrival order, names as sent. */
  rawHeaders: [string, string][];
  body: Buffer;
  /** A header's value (case-insensitive name). */
  header(name: string): string | undefined;
  /** Percent-decoded OAuth parameters from the Authorization header, if any. */
  oauth?: Record<string, string>;
  multipart?: { boundary: string; parts: RecordedPart[]; endsWithClosingCrlf: boolean };
  /** The server's clock (ms) when it arrived. */
  receivedAt: number;
  /** The HTTP status the client got (0 while unanswered, or when the answer was cut). */
  status: number;
}

/** A scripted answer. */
export interface Reply {
  status: number;
  reason?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Close the connection without answering. */
  hangUp?: boolean;
  /** Never answer (until the server closes). */
  hang?: boolean;
  /** Let the request through (to the real server or the model), then cut the connection instead of answering: a lost answer. */
  loseAnswer?: boolean;
}

/** Consulted before the model for each request; undefined lets the model answer. */
export type Interceptor = (request: RecordedRequest) => Reply | undefined;

export interface FakeMachine {
  system_id: string;
  hostname: string;
  architecture: string;
  macs: string[];
  token: { consumer_key: string; token_key: string; token_secret: string } | null;
  /** Absent: not locked. */
  locked?: boolean;
  /** Absent: none. */
  workload_annotations?: Record<string, string>;
}

export interface FakeMaasOptions {
  /** "ck:tk:ts" of the administrator (default: random). */
  adminKey?: string;
  /** Architectures with "boot images" (default amd64/generic, arm64/generic). */
  architectures?: string[];
  /** Whether op=regenerate_token exists (the bundled server's extension; default true). */
  regenerate?: boolean;
  /** The server's clock runs this far ahead of the real one. */
  clockOffsetMs?: number;
  /** system_ids handed out first (then random ones). */
  systemIds?: string[];
  /** Forward what no interceptor answers to this server (an http://host:port URL) instead of the model. */
  forwardTo?: string;
}

/** Rewrites the body of a forwarded 200 answer (e.g. adds a script to the maas-scripts tarball). */
export type Rewrite = (body: Buffer, request: RecordedRequest) => Buffer | Promise<Buffer>;

export interface FakeMaas {
  /** http://127.0.0.1:PORT/MAAS */
  url: string;
  /** http://127.0.0.1:PORT */
  origin: string;
  port: number;
  /** The model's administrator key (meaningless when forwarding). */
  adminKey: string;
  requests: RecordedRequest[];
  /** The model's machines (empty when forwarding). */
  machines: FakeMachine[];
  /** Adds an interceptor (consulted in the order added). */
  intercept(interceptor: Interceptor): void;
  /** The next `count` requests matching `match` get `reply`. */
  failNext(count: number, reply: Reply, match?: (request: RecordedRequest) => boolean): void;
  /** Rewrites every forwarded 200 answer to requests whose path contains `pathPart` (undefined: stop). */
  rewrite(pathPart: string, fn: Rewrite | undefined): void;
  /** Stops listening: clients get "connection refused". */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

const ALPHABET = '34678abcdefghkmnpqrstwxy';
const KEY_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789';

function randomKey(length: number): string {
  let key = '';
  for (let i = 0; i < length; i++) key += KEY_ALPHABET[randomInt(KEY_ALPHABET.length)];
  return key;
}

function newToken() {
  return { consumer_key: randomKey(18), token_key: randomKey(18), token_secret: randomKey(32) };
}

/** Parses a multipart body the way a strict reader would, keeping header lines verbatim. */
export function parseMultipart(body: Buffer, boundary: string): { parts: RecordedPart[]; endsWithClosingCrlf: boolean } {
  const text = body.toString('latin1');
  const delimiter = `--${boundary}`;
  const segments = text.split(delimiter);
  const parts: RecordedPart[] = [];
  for (const segment of segments.slice(1)) {
    if (segment.startsWith('--')) break;
    const content = segment.replace(/^\r\n/, '').replace(/\r\n$/, '');
    const split = content.indexOf('\r\n\r\n');
    const headers = (split < 0 ? content : content.slice(0, split)).split('\r\n').filter(Boolean);
    const value = Buffer.from(split < 0 ? '' : content.slice(split + 4), 'latin1');
    const disposition = headers.find((h) => /^content-disposition:/i.test(h)) ?? '';
    const name = /\bname="([^"]*)"/.exec(disposition)?.[1] ?? '';
    const filename = /\bfilename="([^"]*)"/.exec(disposition)?.[1];
    const contentType = headers.find((h) => /^content-type:/i.test(h))?.replace(/^content-type:\s*/i, '').trim();
    parts.push({ headers, name, value, ...(filename === undefined ? {} : { filename }), ...(contentType ? { contentType } : {}) });
  }
  return { parts, endsWithClosingCrlf: text.endsWith(`${delimiter}--\r\n`) };
}

/** Parses an OAuth Authorization header into percent-decoded parameters (as MAAS does, docs/protocol.md §2.4). */
export function parseOAuthHeader(value: string | undefined): Record<string, string> | undefined {
  if (!value?.startsWith('OAuth ')) return undefined;
  const params: Record<string, string> = {};
  for (const item of value.slice(6).split(',')) {
    const [name, ...rest] = item.trim().split('=');
    if (!name) continue;
    params[name] = decodeURIComponent(rest.join('=').replace(/^"|"$/g, ''));
  }
  return params;
}

function normaliseMac(value: string): string | undefined {
  const hex = value.toLowerCase().replace(/[-:.]/g, '');
  return /^[0-9a-f]{12}$/.test(hex) ? hex.match(/../g)!.join(':') : undefined;
}

/** Starts the fake on 127.0.0.1, port 0. */
export async function startFakeMaas(options: FakeMaasOptions = {}): Promise<FakeMaas> {
  const adminKey = options.adminKey ?? `${randomKey(18)}:${randomKey(18)}:${randomKey(32)}`;
  const [adminConsumer, adminToken, adminSecret] = adminKey.split(':') as [string, string, string];
  const architectures = options.architectures ?? ['amd64/generic', 'arm64/generic'];
  const systemIds = [...(options.systemIds ?? [])];
  const offset = options.clockOffsetMs ?? 0;
  const interceptors: Interceptor[] = [];
  const requests: RecordedRequest[] = [];
  const machines: FakeMachine[] = [];
  const nonces = new Set<string>();
  const sockets = new Set<Socket>();
  const serverNow = () => Date.now() + offset;

  const machineJson = (m: FakeMachine) => ({
    system_id: m.system_id,
    hostname: m.hostname,
    fqdn: `${m.hostname}.maas`,
    status: 6,
    status_name: 'Deployed',
    architecture: m.architecture,
    interface_set: m.macs.map((mac, i) => ({ name: `eth${i}`, type: 'physical', mac_address: mac })),
    resource_uri: `/MAAS/api/2.0/machines/${m.system_id}/`,
    locked: m.locked === true,
    workload_annotations: { ...m.workload_annotations },
  });

  const json = (status: number, value: unknown): Reply => ({
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8' },
    body: JSON.stringify(value, null, 4),
  });
  const text = (status: number, body: string, headers: Record<string, string> = {}): Reply => ({
    status,
    headers: { 'Content-Type': 'text/plain; charset=utf-8', ...headers },
    body,
  });

  // PLAINTEXT OAuth as MAAS checks it; only the administrator may use the api/2.0 endpoints here.
  const authenticate = (request: RecordedRequest): Reply | undefined => {
    const oauth = request.oauth;
    const challenge = { 'WWW-Authenticate': 'OAuth realm="OAuth"' };
    if (!oauth) return text(401, 'Forbidden');
    if (oauth.oauth_consumer_key !== adminConsumer) return text(401, 'Authorization Error: Invalid API key.', challenge);
    if (oauth.oauth_token !== adminToken) return text(401, `Authorization Error: 'Invalid access token: ${oauth.oauth_token}'`, challenge);
    const now = Math.floor(serverNow() / 1000);
    const timestamp = Number(oauth.oauth_timestamp);
    if (!(now - timestamp <= 300)) {
      return text(401, `Authorization Error: 'Expired timestamp: given ${timestamp} and now ${now} has a greater difference than threshold 300'`, challenge);
    }
    const nonceKey = `${oauth.oauth_consumer_key}:${oauth.oauth_token}:${oauth.oauth_nonce}`;
    if (nonces.has(nonceKey)) return text(401, `Authorization Error: 'Nonce already used: ${oauth.oauth_nonce}'`, challenge);
    nonces.add(nonceKey);
    if (oauth.oauth_signature !== `&${encodeURIComponent(adminSecret)}`) return text(401, "Authorization Error: 'Invalid signature.'", challenge);
    return undefined;
  };

  const model = (request: RecordedRequest): Reply => {
    const denied = authenticate(request);
    if (denied) return denied;
    const url = new URL(request.path, 'http://fake');
    const op = url.searchParams.get('op');
    if (url.pathname === '/MAAS/api/2.0/machines/' && request.method === 'POST') return createMachine(request);
    if (url.pathname === '/MAAS/api/2.0/machines/' && request.method === 'GET') return listMachines(url.searchParams);
    const match = /^\/MAAS\/api\/2\.0\/machines\/([^/]+)\/$/.exec(url.pathname);
    if (!match) return text(404, 'Not found');
    const machine = machines.find((m) => m.system_id === match[1]);
    if (!machine) return text(404, 'No Machine matches the given query.');
    if (request.method === 'GET' && op === null) return json(200, machineJson(machine));
    if (request.method === 'GET' && op === 'get_token') return json(200, machine.token);
    if (request.method === 'POST' && op === 'regenerate_token' && options.regenerate !== false) {
      machine.token = newToken();
      return json(200, machine.token);
    }
    // As MAAS's machine handler: a second lock is a NodeStateViolation (409); an annotation with
    // an empty value removes its key; both answer with the machine.
    if (request.method === 'POST' && op === 'lock') {
      if (machine.locked) return text(409, 'Machine is already locked');
      machine.locked = true;
      return json(200, machineJson(machine));
    }
    if (request.method === 'POST' && op === 'unlock') {
      if (!machine.locked) return text(409, 'Cannot unlock an already unlocked machine');
      machine.locked = false;
      return json(200, machineJson(machine));
    }
    if (request.method === 'POST' && op === 'set_workload_annotations') {
      const annotations = (machine.workload_annotations ??= {});
      for (const part of request.multipart?.parts ?? []) {
        if (part.name === 'op' || part.filename !== undefined) continue;
        const value = part.value.toString('utf8');
        if (value === '') delete annotations[part.name];
        else annotations[part.name] = value;
      }
      return json(200, machineJson(machine));
    }
    return text(400, `Unrecognised signature: method=${request.method} op=${op}`);
  };

  const createMachine = (request: RecordedRequest): Reply => {
    const fields = new Map<string, string[]>();
    for (const part of request.multipart?.parts ?? []) {
      if (part.filename !== undefined) continue;
      fields.set(part.name, [...(fields.get(part.name) ?? []), part.value.toString('utf8')]);
    }
    const hostname = fields.get('hostname')?.[0] ?? '';
    if (!/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(hostname)) return json(400, { hostname: ['Invalid hostname.'] });
    if (machines.some((m) => m.hostname === hostname)) return json(400, { hostname: ['Node with this Hostname already exists.'] });
    if ((fields.get('deployed')?.[0] ?? '').toLowerCase() !== 'true') return json(400, { deployed: ['this fake only registers deployed machines'] });
    let architecture = fields.get('architecture')?.[0] ?? '';
    if (architecture && !architecture.includes('/')) architecture += '/generic';
    if (architecture && !architectures.includes(architecture)) {
      return json(400, { architecture: [`'${architecture}' is not a valid architecture.  It should be one of: ${architectures.map((a) => `'${a}'`).join(', ')}.`] });
    }
    const macs: string[] = [];
    for (const raw of fields.get('mac_addresses') ?? []) {
      const mac = normaliseMac(raw);
      if (!mac) return json(400, { mac_addresses: [`'${raw}' is not a valid MAC address.`] });
      const owner = machines.find((m) => m.macs.includes(mac));
      if (owner) return json(400, { mac_addresses: [`MAC address ${mac} already in use on ${owner.hostname}.`] });
      macs.push(mac);
    }
    let systemId = systemIds.shift();
    while (!systemId || machines.some((m) => m.system_id === systemId)) {
      systemId = Array.from({ length: 6 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
    }
    // Like MAAS: MACs sent without an architecture are validated, then dropped.
    const machine: FakeMachine = { system_id: systemId, hostname, architecture, macs: architecture ? macs : [], token: newToken(), locked: false, workload_annotations: {} };
    machines.push(machine);
    return json(200, machineJson(machine));
  };

  const listMachines = (query: URLSearchParams): Reply => {
    const hostnames = query.getAll('hostname');
    const ids = [...query.getAll('id'), ...query.getAll('system_id')];
    const macs: string[] = [];
    for (const raw of query.getAll('mac_address')) {
      const mac = normaliseMac(raw);
      if (!mac) return json(400, { mac_address: [`'${raw}' is not a valid MAC address.`] });
      macs.push(mac);
    }
    const found = machines.filter(
      (m) =>
        (hostnames.length === 0 || hostnames.includes(m.hostname)) &&
        (ids.length === 0 || ids.includes(m.system_id)) &&
        (macs.length === 0 || m.macs.some((mac) => macs.includes(mac))),
    );
    return json(200, found.map(machineJson));
  };

  const answer = (request: RecordedRequest, response: ServerResponse, reply: Reply) => {
    const body = reply.body === undefined ? Buffer.alloc(0) : Buffer.from(reply.body);
    request.status = reply.status;
    response.writeHead(reply.status, reply.reason ?? undefined, {
      Date: new Date(serverNow()).toUTCString(),
      'Content-Length': String(body.length),
      ...reply.headers,
    });
    response.end(body);
  };

  const rewrites = new Map<string, Rewrite>();
  // Passes the request to the real server; its answer goes back (rewritten, or cut when `lose`).
  const forward = (target: URL, request: RecordedRequest, req: IncomingMessage, res: ServerResponse, lose: boolean) => {
    const out = httpRequest(
      { host: target.hostname, port: target.port, method: request.method, path: request.path, headers: { ...req.headers, host: target.host } },
      (upstream) => {
        const chunks: Buffer[] = [];
        upstream.on('data', (c: Buffer) => chunks.push(c));
        upstream.on('end', () => {
          if (lose) {
            req.socket.destroy();
            return;
          }
          const status = upstream.statusCode ?? 502;
          const rewrite = [...rewrites].find(([part]) => request.path.includes(part))?.[1];
          if (!rewrite || status !== 200) {
            request.status = status;
            res.writeHead(status, upstream.headers);
            res.end(Buffer.concat(chunks));
            return;
          }
          Promise.resolve(rewrite(Buffer.concat(chunks), request)).then(
            (changed) => {
              request.status = 200;
              res.writeHead(200, { ...upstream.headers, 'content-length': String(changed.length) });
              res.end(changed);
            },
            (error: unknown) => answer(request, res, { status: 500, body: String(error) }),
          );
        });
      },
    );
    out.on('error', (error) => answer(request, res, { status: 502, body: String(error) }));
    out.end(request.body);
  };

  const target = options.forwardTo === undefined ? undefined : new URL(options.forwardTo);
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const rawHeaders: [string, string][] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) rawHeaders.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
      const header = (name: string) => rawHeaders.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
      const boundary = /^multipart\/form-data; boundary=(.+)$/.exec(header('content-type') ?? '')?.[1];
      const oauth = parseOAuthHeader(header('authorization'));
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        rawHeaders,
        body,
        header,
        receivedAt: serverNow(),
        status: 0,
        ...(oauth ? { oauth } : {}),
        ...(boundary ? { multipart: { boundary, ...parseMultipart(body, boundary) } } : {}),
      };
      requests.push(recorded);
      let reply: Reply | undefined;
      for (const interceptor of interceptors) {
        reply = interceptor(recorded);
        if (reply) break;
      }
      if (reply?.hang) return;
      if (reply?.hangUp) {
        req.socket.destroy();
        return;
      }
      const lose = reply?.loseAnswer === true;
      if (reply && !lose) return answer(recorded, res, reply);
      if (target) return forward(target, recorded, req, res, lose);
      const modelled = model(recorded);
      if (lose) req.socket.destroy();
      else answer(recorded, res, modelled);
    });
  };

  let server: Server;
  let port = 0;
  const listen = async () => {
    server = createServer(handle);
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  };
  const stop = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  await listen();

  return {
    url: `http://127.0.0.1:${port}/MAAS`,
    origin: `http://127.0.0.1:${port}`,
    port,
    adminKey,
    requests,
    machines,
    intercept: (interceptor) => interceptors.push(interceptor),
    failNext: (count, reply, match = () => true) => {
      let left = count;
      interceptors.push((request) => {
        if (left <= 0 || !match(request)) return undefined;
        left -= 1;
        return reply;
      });
    },
    rewrite: (pathPart, fn) => {
      if (fn) rewrites.set(pathPart, fn);
      else rewrites.delete(pathPart);
    },
    down: stop,
    up: listen,
    close: stop,
  };
}

/** A random secret-looking string, for tests that check secrets never reach output. */
export function randomSecret(): string {
  return randomBytes(12).toString('hex');
}
