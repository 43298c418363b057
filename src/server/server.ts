// The bundled MAAS-compatible HTTP server: routing, body limits, OAuth, MAAS-style errors, and
// startMaasServer() which wires a store, an admin user and a listening socket together.
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Reply, RequestContext } from './context.js';
import { textReply } from './context.js';
import { ServerStartError } from './errors.js';
import { HttpError } from './http-error.js';
import { apiKeyString, newToken } from './ids.js';
import { memoryStore } from './memory-store.js';
import { authenticate, oauthParams } from './oauth.js';
import { BodyBudget, parseForm, readBody } from './request-body.js';
import { machineResource, machinesCollection, registerController } from './routes/machines.js';
import { maasScripts, versionIndex } from './routes/metadata.js';
import { scriptResource, scriptsCollection } from './routes/scripts.js';
import type { Store, TokenRecord } from './store.js';
import { hostnameProblem } from './validation.js';

/** Default request body limit: far above any deploy-info upload (lshw XML is a few MB). */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

/** Options of createMaasServer. */
export interface MaasServerOptions {
  store: Store;
  /** The server's clock (tests move it); also the `Date` header. */
  now?: () => Date;
  /** One line per notable event; never given secrets. */
  log?: (line: string) => void;
  maxBodyBytes?: number;
  /** Bytes all request bodies may hold at once (default: four times maxBodyBytes). */
  bodyBudget?: BodyBudget;
  /** The single-file CLI served at /MAAS/maas-run-scripts. */
  bundlePath?: string;
}

/** An http.Server speaking the MAAS API subset of docs/protocol.md; never crashes on bad input. */
export function createMaasServer(options: MaasServerOptions): http.Server {
  const { store } = options;
  const now = options.now ?? (() => new Date());
  const log = options.log ?? (() => {});
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  // Bodies are read whole before they are handled: bounding them together keeps many large
  // uploads at once from exhausting memory (they get 503 with Retry-After instead).
  const budget = options.bodyBudget ?? new BodyBudget(4 * limit);
  const bundlePath = options.bundlePath ?? defaultBundlePath();

  const server = http.createServer((request, response) => {
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
  // Unparseable HTTP (bad request line, oversized headers): a 400 that still carries a Date.
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end(`HTTP/1.1 400 Bad Request\r\nDate: ${now().toUTCString()}\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 11\r\n\r\nBad Request`);
    else socket.destroy();
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
    if (!route) {
      // Drain the body so the connection stays usable.
      request.resume();
      throw new HttpError(404, `Not Found: ${url.pathname} is not a path of this MAAS server`, 'text/plain');
    }
    if (route.kind === 'bundle') {
      request.resume();
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'Method Not Allowed: use GET', 'text/plain', { Allow: 'GET, HEAD' });
      return serveBundle(bundlePath);
    }
    if (route.kind === 'machine-resources') {
      request.resume();
      throw new HttpError(404, `This server ships no machine-resources binaries: its 20-maas-03-machine-resources script uses maas-run-scripts instead (GET /MAAS/maas-run-scripts).`, 'text/plain');
    }
    const body = await readBody(request, limit, budget);
    try {
      const form = await parseForm(request.headers['content-type'], body);
      const formFields = new Map<string, string>();
      for (const [name, values] of form.fields) formFields.set(name, values[values.length - 1] ?? '');
      const params = oauthParams(request.headers.authorization, url.searchParams, formFields);
      const caller = authenticate(store, params, Math.floor(now().getTime() / 1000));
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
          return versionIndex(ctx);
      }
    } finally {
      budget.used -= body.length;
    }
  }

  function send(response: http.ServerResponse, reply: Reply): void {
    if (response.headersSent || response.destroyed) return;
    const body = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
    response.writeHead(reply.status, {
      Date: now().toUTCString(),
      'Content-Type': reply.contentType,
      'Content-Length': String(body.length),
      ...reply.headers,
    });
    response.end(body);
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
  | { kind: 'machine-resources' };

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

function serveBundle(path: string | undefined): Reply {
  if (!path || !existsSync(path)) {
    throw new HttpError(
      404,
      'maas-run-scripts has not been built on this server: build it (npm run build) or start the server with the path of the single-file CLI.',
      'text/plain',
    );
  }
  return { status: 200, body: readFileSync(path), contentType: 'text/javascript; charset=utf-8' };
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
  log?: (line: string) => void;
  now?: () => Date;
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
    store = sqliteStore(options.db);
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
  const server = createMaasServer({ store, log: options.log, now: options.now, bundlePath: options.bundlePath });
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
