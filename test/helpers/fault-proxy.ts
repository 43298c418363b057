// A small HTTP proxy on 127.0.0.1 in front of the real bundled server, for fault tests: it
// records every request (with its multipart parts) and can refuse connections, or answer the
// next requests itself (503 with Retry-After, 401 with a skewed Date) before passing them on.
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the proxy saw it. */
export interface SeenRequest {
  at: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** oauth_* parameters of the Authorization header, decoded. */
  oauth: Record<string, string>;
  /** The multipart parts (fields and files), in order. */
  parts: { name: string; filename?: string; contentType?: string; value: Buffer }[];
  /** What the client got. */
  status: number;
}

/** An answer the proxy gives itself instead of forwarding. */
export interface Injected {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Only for requests matching this (default: all). */
  match?: (method: string, path: string) => boolean;
  /** Forward the request to the server, then cut the connection instead of answering (a lost answer). */
  loseAnswer?: boolean;
}

/** Rewrites the body of a forwarded answer (e.g. adds a script to the maas-scripts tarball). */
export type Rewrite = (body: Buffer, method: string, path: string) => Buffer | Promise<Buffer>;

export interface FaultProxy {
  /** The proxy's base URL, e.g. http://127.0.0.1:PORT */
  url: string;
  seen: SeenRequest[];
  /** Queues answers for the next matching requests, in order. */
  inject(...answers: Injected[]): void;
  /** Rewrites every 200 answer to requests whose path contains `pathPart` (undefined: stop). */
  rewrite(pathPart: string, fn: Rewrite | undefined): void;
  /** Stops listening: clients get "connection refused". */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy forwarding to `target` (an http://host:port URL). */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const seen: SeenRequest[] = [];
  const queue: Injected[] = [];
  const rewrites = new Map<string, Rewrite>();
  let server: Server = makeServer();
  let port = 0;

  function makeServer(): Server {
    return createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const record: SeenRequest = {
          at: Date.now(),
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body,
          oauth: parseOauth(req.headers.authorization),
          parts: parseMultipart(req.headers['content-type'], body),
          status: 0,
        };
        seen.push(record);
        const index = queue.findIndex((q) => !q.match || q.match(record.method, record.path));
        const lose = index >= 0 && queue[index]!.loseAnswer === true;
        if (lose) queue.splice(index, 1);
        if (index >= 0 && !lose) {
          const [answer] = queue.splice(index, 1) as [Injected];
          record.status = answer.status;
          res.writeHead(answer.status, { 'Content-Type': 'text/plain', ...answer.headers });
          res.end(answer.body ?? '');
          return;
        }
        const forward = httpRequest(
          { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
          (answer) => {
            record.status = answer.statusCode ?? 0;
            if (lose) {
              answer.resume();
              answer.on('end', () => req.socket.destroy());
              return;
            }
            const rewrite = [...rewrites].find(([part]) => record.path.includes(part))?.[1];
            if (!rewrite || answer.statusCode !== 200) {
              res.writeHead(answer.statusCode ?? 502, answer.headers);
              answer.pipe(res);
              return;
            }
            const parts: Buffer[] = [];
            answer.on('data', (c: Buffer) => parts.push(c));
            answer.on('end', () => {
              Promise.resolve(rewrite(Buffer.concat(parts), record.method, record.path)).then(
                (changed) => {
                  res.writeHead(200, { ...answer.headers, 'content-length': String(changed.length) });
                  res.end(changed);
                },
                (error: unknown) => {
                  record.status = 500;
                  res.writeHead(500);
                  res.end(String(error));
                },
              );
            });
          },
        );
        forward.on('error', (error) => {
          record.status = 502;
          res.writeHead(502);
          res.end(String(error));
        });
        forward.end(body);
      });
    });
  }

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });

  await listen();
  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    seen,
    inject: (...answers) => queue.push(...answers),
    rewrite: (pathPart, fn) => {
      if (fn) rewrites.set(pathPart, fn);
      else rewrites.delete(pathPart);
    },
    down: stop,
    up: async () => {
      server = makeServer();
      await listen();
    },
    close: stop,
  };
}

function parseOauth(header: string | undefined): Record<string, string> {
  const params: Record<string, string> = {};
  for (const m of (header ?? '').matchAll(/(oauth_\w+)="([^"]*)"/g)) params[m[1]!] = decodeURIComponent(m[2]!);
  return params;
}

function parseMultipart(contentType: string | undefined, body: Buffer): SeenRequest['parts'] {
  const boundary = /boundary=([^;]+)/.exec(contentType ?? '')?.[1];
  if (!boundary) return [];
  const parts: SeenRequest['parts'] = [];
  const delimiter = Buffer.from(`--${boundary}`);
  let start = body.indexOf(delimiter);
  while (start >= 0) {
    const next = body.indexOf(delimiter, start + delimiter.length);
    if (next < 0) break;
    const chunk = body.subarray(start + delimiter.length + 2, next - 2); // skip CRLF after the delimiter and before the next
    const split = chunk.indexOf('\r\n\r\n');
    const head = chunk.subarray(0, split).toString();
    const value = chunk.subarray(split + 4);
    const name = /name="([^"]*)"/.exec(head)?.[1] ?? '';
    const filename = /filename="([^"]*)"/.exec(head)?.[1];
    const type = /Content-Type: (.*)/i.exec(head)?.[1]?.trim();
    parts.push({ name, ...(filename !== undefined ? { filename } : {}), ...(type ? { contentType: type } : {}), value });
    start = next;
  }
  return parts;
}
