// The bundled MAAS-compatible HTTP server: routing, body limits, OAuth, MAAS-style errors, and
// startMaasServer() which wires a store, an admin user and a listening socket together.
import { closeSync, createReadStream, existsSync, fstatSync, openSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isStandalone, STANDALONE_ARCHES, standaloneName } from '../standalone.js';
import type { Reply, RequestContext } from './context.js';
import { textReply } from './context.js';
import { ServerStartError } from './errors.js';
import { HttpError } from './http-error.js';
import { apiKeyString, newToken } from './ids.js';
import { memoryStore } from './memory-store.js';
import { authenticate, oauthParams } from './oauth.js';
import { DEFAULT_LIMITS, type ServerLimits } from './limits.js';
import type { Caller } from './oauth.js';
import { BodyBudget, type BodyAllowance, parseForm, readBody } from './request-body.js';
import { machineResource, machinesCollection, registerController } from './routes/machines.js';
import { maasScripts, versionIndex } from './routes/metadata.js';
import { scriptResource, scriptsCollection } from './routes/scripts.js';
import type { Store, TokenRecord } from './store.js';
import { hostnameProblem } from './validation.js';

// serve checks start-up failures against this class; it takes it from here, as the server's code
// is loaded only when the server starts (scripts/build-bundle.mjs keeps it out of other runs).
export { ServerStartError };

/** Default cap of the largest bodies (a machine's signal, an admin's script upload). */
export const DEFAULT_MAX_BODY_BYTES = DEFAULT_LIMITS.signalBytes;

/** Options of createMaasServer. */
export interface MaasServerOptions {
  store: Store;
  /** The server's clock (tests move it); also the `Date` header. */
  now?: () => Date;
  /** One line per notable event; never given secrets. */
  log?: (line: string) => void;
  /** Caps, budgets and timeouts of requests (src/server/limits.ts); each one not given is the default. */
  limits?: Partial<ServerLimits>;
  /** Cap of the largest bodies: sets limits.signalBytes, scriptUploadBytes and perCallerBytes. */
  maxBodyBytes?: number;
  /** Bytes the bodies of signed requests may hold at once (default: limits.budgetBytes). */
  bodyBudget?: BodyBudget;
  /** The single-file CLI served at /MAAS/maas-run-scripts. */
  bundlePath?: string;
  /**
   * Standalone executables served at /MAAS/maas-run-scripts-linux-<arch>, by architecture
   * (x64, arm64). By default: those beside the single file; in the standalone, the executable
   * itself for its own architecture and those beside it for the others.
   */
  standalonePaths?: Partial<Record<string, string>>;
}

/** An http.Server speaking the MAAS API subset of docs/protocol.md; never crashes on bad input. */
export function createMaasServer(options: MaasServerOptions): http.Server {
  const { store } = options;
  const now = options.now ?? (() => new Date());
  // Log lines carry text machines and clients sent (host names, script names, URLs): control
  // characters are shown escaped, so nobody can forge lines or drive the operator's terminal.
  const sink = options.log ?? (() => {});
  const log = (line: string) => sink(printable(line));
  const limits = resolveLimits(options);
  // Bodies are read whole before they are handled: bounding them together keeps many large
  // uploads at once from exhausting memory (they get 503 with Retry-After instead). Only signed
  // requests draw on this budget; unsigned enlistments have a small pool of their own.
  const budget = options.bodyBudget ?? new BodyBudget(limits.budgetBytes);
  const anonymousBudget = new BodyBudget(limits.anonymousBudgetBytes);
  const timeouts = { bodyMs: limits.bodyTimeoutMs, idleMs: limits.idleTimeoutMs, minBytesPerSecond: limits.minBytesPerSecond, rateGraceMs: limits.rateGraceMs };
  const downloads = findDownloads(options);

  // Node checks the header timeout every connectionsCheckingInterval: a fraction of it here.
  const server = http.createServer({ connectionsCheckingInterval: Math.max(10, Math.min(1000, limits.headersTimeoutMs / 4)) }, (request, response) => {
    handle(request).then(
      (reply) => send(response, reply),
      (error: unknown) => {
        if (error instanceof HttpError) {
          send(response, { status: error.status, body: error.body, contentType: error.contentType, headers: error.headers });
          return;
        }
        const where = `${request.method} ${request.url?.split('?')[0]}`;
        if (!request.complete && request.destroyed) {
          log(`${where}: the client closed the connection before the whole request arrived; nothing stored`);
          return;
        }
        log(`internal error on ${where}: ${error instanceof Error ? error.message : String(error)}`);
        send(response, textReply(500, 'Internal server error: the request was not stored; see the server log.'));
      },
    );
  });
  server.headersTimeout = limits.headersTimeoutMs;
  // A backstop only: the body's own timers (readBody) close a slow body first.
  server.requestTimeout = limits.headersTimeoutMs + limits.bodyTimeoutMs + 5000;
  // A connection that sends and receives nothing for twice the idle timeout is closed, whatever
  // it is waiting for (a stalled body is answered 408 after one idle timeout, before this; between
  // requests, Node's shorter keep-alive timeout closes it first).
  server.setTimeout(2 * limits.idleTimeoutMs, (socket) => socket.destroy());
  // Unparseable HTTP (bad request line, oversized headers): a 400 that still carries a Date;
  // headers that did not arrive in time: 408.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const [status, text] = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? ['408', 'Request Timeout'] : ['400', 'Bad Request'];
    socket.end(`HTTP/1.1 ${status} ${text}\r\nDate: ${now().toUTCString()}\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
    setTimeout(() => socket.destroy(), 1000).unref();
  });

  async function handle(request: http.IncomingMessage): Promise<Reply> {
    const method = (request.method ?? 'GET').toUpperCase();
    let url: URL;
    try {
      url = new URL(request.url ?? '/', 'http://server');
    } catch {
      throw new HttpError(400, 'Bad request: the request target is not a valid URL');
    }
    const route = matchRoute(url.pathname);
    // Nothing below reads a body it has not first decided to accept: answers given before the
    // body is read close the connection (send()), so an unread body costs no memory.
    if (!route) throw new HttpError(404, `Not Found: ${url.pathname} is not a path of this MAAS server`, 'text/plain');
    if (route.kind === 'bundle' || route.kind === 'standalone') {
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'Method Not Allowed: use GET', 'text/plain', { Allow: 'GET, HEAD' });
      return route.kind === 'bundle' ? serveBundle(downloads) : serveStandalone(downloads, route.arch);
    }
    if (route.kind === 'machine-resources') {
      throw new HttpError(404, `This server ships no machine-resources binaries: its 20-maas-03-machine-resources script uses maas-run-scripts instead (GET /MAAS/maas-run-scripts).`, 'text/plain');
    }
    // Who is asking is known from the headers (and query) alone, before any body is read.
    const params = oauthParams(request.headers.authorization, url.searchParams);
    const caller = authenticate(store, params, Math.floor(now().getTime() / 1000));
    const allowance = bodyAllowance(route, method, caller);
    if (!allowance) {
      if (hasBody(request)) throw new HttpError(401, 'Forbidden', 'text/plain');
    }
    const body = allowance ? await readBody(request, allowance) : { data: Buffer.alloc(0), release() {} };
    try {
      const form = await parseForm(request.headers['content-type'], body.data);
      const ctx: RequestContext = { store, now, log, method, url, form, caller };
      switch (route.kind) {
        case 'machines':
          return machinesCollection(ctx);
        case 'machine':
          return machineResource(ctx, route.systemId);
        case 'scripts':
          return scriptsCollection(ctx);
        case 'script':
          return scriptResource(ctx, route.name);
        case 'maas-scripts':
          return await maasScripts(ctx);
        case 'metadata-version':
          // Signals: many at once on the SQLite store, so they share commits.
          return method === 'POST' && store.groupCommit ? await inGroupCommit(() => versionIndex(ctx)) : versionIndex(ctx);
      }
    } finally {
      body.release();
    }
  }

  // Requests ready in the same turn of the event loop run in one store transaction, each in a
  // nested one of its own (a savepoint: one that fails is undone alone), and are answered once
  // that transaction has committed: one commit, and one copy of each page it touched, for all of
  // them instead of one per request. Nothing is answered before it is stored.
  const groupQueue: { run: () => Reply; resolve: (reply: Reply) => void; reject: (error: unknown) => void }[] = [];
  function inGroupCommit(run: () => Reply): Promise<Reply> {
    return new Promise((resolve, reject) => {
      groupQueue.push({ run, resolve, reject });
      if (groupQueue.length === 1) setImmediate(commitGroup);
    });
  }
  function commitGroup(): void {
    const jobs = groupQueue.splice(0);
    const outcomes: { reply?: Reply; error?: unknown }[] = [];
    try {
      store.transaction(() => {
        for (const job of jobs) {
          try {
            outcomes.push({ reply: store.transaction(job.run) });
          } catch (error) {
            outcomes.push({ error });
          }
        }
      });
    } catch (error) {
      // The commit itself failed: none of them is stored.
      for (const job of jobs) job.reject(error);
      return;
    }
    jobs.forEach((job, i) => {
      const { reply, error } = outcomes[i]!;
      if (reply) job.resolve(reply);
      else job.reject(error);
    });
  }

  // The body a request may send, by route and by who is asking; undefined: none (an unsigned
  // request anywhere but enlistment, which is answered 401 without reading what it sent).
  function bodyAllowance(route: Route, method: string, caller: Caller): BodyAllowance | undefined {
    if (caller.kind === 'anonymous') {
      if (route.kind !== 'machines' || method !== 'POST') return undefined;
      return { limit: limits.anonymousBytes, budget: anonymousBudget, holder: '', perHolder: limits.anonymousBudgetBytes, timeouts };
    }
    const { token } = caller;
    let limit = limits.apiBytes;
    if (token.systemId !== null && (route.kind === 'metadata-version' || route.kind === 'maas-scripts') && method === 'POST') limit = limits.signalBytes;
    else if ((route.kind === 'scripts' || route.kind === 'script') && (method === 'POST' || method === 'PUT') && token.username !== null && store.getUser(token.username)?.isAdmin) {
      limit = limits.scriptUploadBytes;
    }
    return { limit, budget, holder: token.tokenKey, perHolder: limits.perCallerBytes, timeouts };
  }

  function send(response: http.ServerResponse, reply: Reply): void {
    if (response.headersSent || response.destroyed) {
      if (reply.file) closeSync(reply.file.fd);
      return;
    }
    // Answered before its body was read (refused, too large, too slow): the rest of the body is
    // not wanted, so the connection is closed once the answer is out rather than drained.
    if (!response.req.complete) {
      reply = { ...reply, headers: { ...reply.headers, Connection: 'close' } };
      response.once('finish', () => {
        const { socket } = response.req;
        // A moment for the answer to reach the client before the socket goes.
        setTimeout(() => socket.destroy(), 1000).unref();
      });
    }
    if (reply.file) {
      sendFile(response, reply, reply.file);
      return;
    }
    const body = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
    response.writeHead(reply.status, {
      Date: now().toUTCString(),
      'Content-Type': reply.contentType,
      'Content-Length': String(body.length),
      ...reply.headers,
    });
    response.end(body);
  }

  // An open file streamed as it is read, so a large download does not sit whole in memory.
  function sendFile(response: http.ServerResponse, reply: Reply, file: { fd: number; size: number }): void {
    response.writeHead(reply.status, {
      Date: now().toUTCString(),
      'Content-Type': reply.contentType,
      'Content-Length': String(file.size),
      ...reply.headers,
    });
    if (response.req.method === 'HEAD' || file.size === 0) {
      closeSync(file.fd);
      response.end();
      return;
    }
    const stream = createReadStream('', { fd: file.fd, start: 0, end: file.size - 1, autoClose: true });
    stream.on('error', (error) => {
      log(`GET ${response.req.url}: reading the file failed (${error.message}); the download was cut off`);
      response.destroy();
    });
    response.on('close', () => stream.destroy());
    stream.pipe(response);
  }

  return server;
}

type Route =
  | { kind: 'machines' }
  | { kind: 'machine'; systemId: string }
  | { kind: 'scripts' }
  | { kind: 'script'; name: string }
  | { kind: 'maas-scripts' }
  | { kind: 'metadata-version' }
  | { kind: 'bundle' }
  | { kind: 'standalone'; arch: string }
  | { kind: 'machine-resources' };

// Whether a request comes with a body (declared length above 0, or chunked).
function hasBody(request: http.IncomingMessage): boolean {
  if (request.complete && request.readableLength === 0) return false;
  return Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined;
}

function resolveLimits(options: MaasServerOptions): ServerLimits {
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...options.limits };
  if (options.maxBodyBytes !== undefined) {
    limits.signalBytes = options.maxBodyBytes;
    limits.scriptUploadBytes = options.maxBodyBytes;
    limits.perCallerBytes = options.maxBodyBytes;
    limits.apiBytes = Math.min(limits.apiBytes, options.maxBodyBytes);
  }
  return limits;
}

function matchRoute(path: string): Route | undefined {
  if (/^\/MAAS\/api\/2\.0\/machines\/?$/.test(path)) return { kind: 'machines' };
  const machine = /^\/MAAS\/api\/2\.0\/machines\/([^/]+)\/?$/.exec(path);
  if (machine) return { kind: 'machine', systemId: decodePathSegment(machine[1]!) };
  if (/^\/MAAS\/api\/2\.0\/scripts\/?$/.test(path)) return { kind: 'scripts' };
  const script = /^\/MAAS\/api\/2\.0\/scripts\/([^/]+)\/?$/.exec(path);
  if (script) return { kind: 'script', name: decodePathSegment(script[1]!) };
  // Metadata paths tolerate extra slashes; the version segment is not validated
  // (docs/protocol.md §2.1).
  const metadata = /^\/MAAS\/metadata\/+([^/]+)\/(.*)$/.exec(path);
  if (metadata) {
    const rest = metadata[2]!;
    if (/^maas-scripts(\/.*)?$/.test(rest)) return { kind: 'maas-scripts' };
    if (rest === '') return { kind: 'metadata-version' };
    return undefined;
  }
  if (path === '/MAAS/maas-run-scripts') return { kind: 'bundle' };
  const standalone = /^\/MAAS\/maas-run-scripts-linux-([^/]+)$/.exec(path);
  if (standalone) return { kind: 'standalone', arch: decodePathSegment(standalone[1]!) };
  if (/^\/MAAS\/machine-resources\/[^/]+$/.test(path)) return { kind: 'machine-resources' };
  return undefined;
}

// A %-escaped path segment; one with a broken escape is taken as it is (and then found nowhere).
function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** `line` with every control character (C0, DEL, C1) written as \\xNN, so it stays one plain line. */
export function printable(line: string): string {
  return line.replace(/[\u0000-\u001f\u007f-\u009f\\]/g, (c) => (c === '\\' ? '\\\\' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

// What the server offers for download: the single-file CLI and the standalone executables.
interface Downloads {
  bundle: string | undefined;
  standalone: Map<string, string>;
  /** The standalone executable this server runs as, if it does. */
  self: string | undefined;
}

function findDownloads(options: MaasServerOptions): Downloads {
  const self = isStandalone() ? process.execPath : undefined;
  const bundle = options.bundlePath ?? (self ? join(dirname(self), 'maas-run-scripts') : defaultBundlePath());
  const dir = self ? dirname(self) : bundle ? dirname(bundle) : undefined;
  const standalone = new Map<string, string>();
  for (const arch of STANDALONE_ARCHES) {
    const path = options.standalonePaths ? options.standalonePaths[arch] : self && arch === process.arch ? self : dir && join(dir, standaloneName(arch));
    if (path) standalone.set(arch, path);
  }
  return { bundle, standalone, self };
}

function serveBundle(downloads: Downloads): Reply {
  const path = downloads.bundle;
  // Beside the standalone, a file of that name may be the standalone itself (installed under the
  // single file's name): only the single file is served here.
  if (!path || !existsSync(path) || (downloads.self && sameFile(path, downloads.self))) {
    if (downloads.self) {
      throw new HttpError(
        404,
        `This server runs as the standalone executable and has no single-file CLI beside it: download /MAAS/${standaloneName(process.arch)} instead, or put the single file maas-run-scripts next to the executable.`,
        'text/plain',
      );
    }
    throw new HttpError(
      404,
      'maas-run-scripts has not been built on this server: build it (npm run build) or start the server with the path of the single-file CLI.',
      'text/plain',
    );
  }
  return { status: 200, body: readFileSync(path), contentType: 'text/javascript; charset=utf-8' };
}

function serveStandalone(downloads: Downloads, arch: string): Reply {
  const path = downloads.standalone.get(arch);
  let fd: number | undefined;
  try {
    if (path) fd = openSync(path, 'r');
  } catch {
    fd = undefined;
  }
  if (fd === undefined) {
    const known = STANDALONE_ARCHES.some((name) => name === arch);
    const what = known ? `${standaloneName(arch)} has not been built on this server` : `there is no standalone executable for linux-${arch} (it is built for ${STANDALONE_ARCHES.map((name) => `linux-${name}`).join(' and ')})`;
    const offered = offeredDownloads(downloads);
    throw new HttpError(404, `Not Found: ${what}; ${offered.length > 0 ? `this server offers ${offered.join(' and ')}` : 'this server has none of its downloads built (npm run build makes them)'}.`, 'text/plain');
  }
  return { status: 200, body: '', contentType: 'application/octet-stream', file: { fd, size: fstatSync(fd).size } };
}

// What the download routes would serve now, as the paths to GET.
function offeredDownloads(downloads: Downloads): string[] {
  const offered = [...downloads.standalone].filter(([, file]) => existsSync(file)).map(([arch]) => `/MAAS/${standaloneName(arch)}`);
  const bundle = downloads.bundle;
  if (bundle && existsSync(bundle) && !(downloads.self && sameFile(bundle, downloads.self))) offered.push('/MAAS/maas-run-scripts (the single file, for any Linux host with Node)');
  return offered;
}

function sameFile(a: string, b: string): boolean {
  try {
    const [x, y] = [statSync(a), statSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

// The single-file CLI: this very file when the server runs from it, else the project's build
// (found from dist/src/server/ or, in tests, from src/server/).
function defaultBundlePath(): string | undefined {
  const self = fileURLToPath(import.meta.url);
  if (self.endsWith('/maas-run-scripts')) return self;
  const candidates = ['../../../build/maas-run-scripts', '../../build/maas-run-scripts'].map((p) => resolve(dirname(self), p));
  return candidates.find((p) => existsSync(p) && existsSync(resolve(dirname(p), '../package.json')));
}

/** Options of startMaasServer. */
export interface StartOptions {
  host?: string;
  port?: number;
  /** SQLite file; state is kept in memory when absent. */
  db?: string;
  /** The admin's API key "ck:tk:ts", replacing any earlier one; a fresh one is made (or the stored one reused) when absent. */
  adminKey?: string;
  bundlePath?: string;
  standalonePaths?: Partial<Record<string, string>>;
  log?: (line: string) => void;
  now?: () => Date;
  /** Caps, budgets and timeouts of requests; each one not given is the default (src/server/limits.ts). */
  limits?: Partial<ServerLimits>;
  /** List the host running the server as a locked, annotated Deployed machine of this name (docs/design.md requirement 6). */
  controllerHostname?: string;
}

/** A running server. */
export interface RunningServer {
  /** http://HOST:PORT/MAAS */
  url: string;
  adminKey: string;
  store: Store;
  server: http.Server;
  close(): Promise<void>;
}

/** Starts a server with an admin user ("admin") and listens; resolves once it accepts requests. */
export async function startMaasServer(options: StartOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  let store: Store;
  if (options.db) {
    const { sqliteStore } = await import('./sqlite-store.js');
    store = sqliteStore(options.db, { warn: options.log });
  } else store = memoryStore();
  let adminKey: string;
  try {
    adminKey = ensureAdmin(store, options.adminKey);
    if (options.controllerHostname) {
      const problem = hostnameProblem(options.controllerHostname);
      if (problem || options.controllerHostname.includes('.')) throw new ServerStartError('MRS_SERVER_CONFIG', `cannot list the controller as a machine: ${problem ?? 'give a host name without a domain'}`);
      registerController(store, options.controllerHostname, 'admin', (options.now ?? (() => new Date()))());
    }
  } catch (error) {
    store.close();
    throw error;
  }
  const server = createMaasServer({ store, log: options.log, now: options.now, limits: options.limits, bundlePath: options.bundlePath, standalonePaths: options.standalonePaths });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    // A deep accept queue: a fleet reporting at once opens many connections together.
    server.listen({ port: options.port ?? 0, host, backlog: 4096 }, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const { port } = server.address() as AddressInfo;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${hostPart}:${port}/MAAS`,
    adminKey,
    store,
    server,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => {
          store.close();
          resolveClose();
        });
        server.closeAllConnections();
      }),
  };
}

// Makes sure user "admin" exists with the given key (or any key) and returns that key.
function ensureAdmin(store: Store, adminKey: string | undefined): string {
  if (adminKey !== undefined) {
    const parts = adminKey.split(':');
    if (parts.length !== 3 || parts.some((p) => p === '')) {
      throw new ServerStartError('MRS_SERVER_CONFIG', 'the admin API key must look like consumer-key:token-key:token-secret (three non-empty parts without ":")');
    }
    const [consumerKey, tokenKey, tokenSecret] = parts as [string, string, string];
    const existing = store.getToken(tokenKey);
    if (existing && existing.username !== 'admin') throw new ServerStartError('MRS_SERVER_CONFIG', 'the admin API key given is already used by another user or machine: choose another key');
    const token: TokenRecord = { consumerKey, consumerSecret: '', tokenKey, tokenSecret, username: 'admin', systemId: null };
    // The given key replaces any earlier one, so a rotated key leaves the old one useless.
    store.transaction(() => {
      for (const old of store.apiKeysOf('admin')) if (old.tokenKey !== tokenKey) store.deleteToken(old.tokenKey);
      store.putUserWithKey({ username: 'admin', isAdmin: true }, token);
    });
    return adminKey;
  }
  if (store.getUser('admin')) {
    const [first] = store.apiKeysOf('admin');
    if (first) return apiKeyString(first);
    const token = newToken({ username: 'admin' });
    store.putUserWithKey({ username: 'admin', isAdmin: true }, token);
    return apiKeyString(token);
  }
  return store.addUser('admin', { admin: true });
}
