// One HTTP exchange over node:http/https, in the shape of the part of fetch() the HTTP layer
// uses. Node's fetch would do, but loading it (its HTTP parser is WebAssembly, its bodies web
// streams) costs a short run more CPU and memory than everything else it does; node:http is
// already part of every Node process.
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type RequestOptions } from 'node:http';
import type * as Https from 'node:https';
import { requireBuiltin } from '../builtin.js';

/** The request options the HTTP layer passes; fetch's RequestInit has them all. */
export interface TransportInit {
  method: string;
  headers: Record<string, string>;
  body?: Uint8Array | undefined;
  /** Never followed: a 3xx answer is returned as it is. */
  redirect: 'manual';
  /** Aborts the exchange, body included; its reason is the error thrown (a TimeoutError for AbortSignal.timeout). */
  signal: AbortSignal;
}

/** The parts of fetch's Response the HTTP layer reads. */
export interface TransportResponse {
  status: number;
  statusText: string;
  headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
}

export type Transport = (url: string, init: TransportInit) => Promise<TransportResponse>;

/** Sends one request and reads the whole answer; rejects with the socket's or the signal's error. */
export const nodeTransport: Transport = (url, init) => {
  const target = new URL(url);
  // node:https (and TLS under it) is loaded only for an https URL. Through require, not import():
  // the standalone executable runs without a loader for dynamic imports.
  const request = target.protocol === 'https:' ? (requireBuiltin('node:https') as typeof Https).request : httpRequest;
  const headers: Record<string, string> = { ...init.headers };
  // As fetch does: a POST without a body says so with a zero length.
  if (init.body !== undefined || init.method === 'POST') headers['Content-Length'] = String(init.body?.length ?? 0);
  const options: RequestOptions = { method: init.method, headers, signal: init.signal };
  return new Promise<TransportResponse>((resolve, reject) => {
    const failed = (error: unknown) => reject(init.signal.aborted ? init.signal.reason : error);
    const req = request(target, options, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', failed);
      // A connection cut mid-body (or the signal) ends the answer without 'end'.
      res.on('close', () => {
        if (!res.complete) failed(new Error('the connection closed before the whole answer arrived'));
      });
      res.on('end', () => {
        const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? '',
          headers: { get: (name) => headerValue(res.headers, name) },
          arrayBuffer: async () => body.buffer.slice(body.byteOffset, body.byteOffset + body.length) as ArrayBuffer,
        });
      });
    });
    req.on('error', failed);
    req.end(init.body === undefined ? undefined : Buffer.from(init.body.buffer, init.body.byteOffset, init.body.length));
  });
};

function headerValue(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name.toLowerCase()];
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}
