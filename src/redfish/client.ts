// A minimal Redfish reader: GET one resource as JSON over node:http or node:https, with Basic
// auth. node:https rather than fetch because BMCs mostly have self-signed certificates and only
// node's agent can be told to accept one without an extra dependency.
import http from 'node:http';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import { CliError } from '../errors.js';

export interface RedfishClientOptions {
  /** BMC base URL, e.g. https://10.0.0.5 or http://127.0.0.1:8000 (the service root is <url>/redfish/v1/). */
  url: string;
  user?: string;
  password?: string;
  /** Accept a self-signed BMC certificate (BMCs usually have one); off by default. */
  insecure?: boolean;
  /** Per-request timeout, default 20 s. */
  timeoutMs?: number;
}

/** A Redfish request the BMC answered with an error status; `status` lets callers tolerate a 404. */
export class RedfishHttpError extends CliError {
  override name = 'RedfishHttpError';
  constructor(
    readonly status: number,
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

const DEFAULT_TIMEOUT_MS = 20_000;
const MAX_BODY_BYTES = 32 * 1024 * 1024;
const MAX_REDIRECTS = 5;

// Error codes node's TLS layer gives for a certificate it does not trust.
const CERTIFICATE_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Reads resources of one BMC's Redfish service. */
export class RedfishClient {
  private readonly origin: URL;
  /** The URL as shown in messages: scheme, host, port, no credentials. */
  private readonly shown: string;
  private readonly authorization: string | undefined;
  private readonly agent: http.Agent;
  private readonly timeoutMs: number;

  constructor(options: RedfishClientOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new CliError(`the BMC URL '${safeUrlText(options.url)}' is not a URL: give it as https://HOST or http://HOST:PORT`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new CliError(`the BMC URL '${safeUrlText(options.url)}' must start with https:// or http://`);
    }
    // Credentials in the URL work but never show; an explicit user wins.
    const user = options.user ?? (url.username ? decodeURIComponent(url.username) : undefined);
    const password = options.user !== undefined ? options.password : url.password ? decodeURIComponent(url.password) : options.password;
    url.username = '';
    url.password = '';
    // Links in Redfish bodies are absolute paths, so only scheme, host and port of the URL count.
    this.origin = new URL(url.origin);
    this.shown = url.origin;
    this.authorization = user === undefined ? undefined : `Basic ${Buffer.from(`${user}:${password ?? ''}`).toString('base64')}`;
    // A BMC is a small computer: a few kept-alive connections, and the agent queues the rest.
    const agentOptions = { keepAlive: true, maxSockets: 4 };
    this.agent = url.protocol === 'https:' ? new https.Agent({ ...agentOptions, rejectUnauthorized: !options.insecure }) : new http.Agent(agentOptions);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** GETs a Redfish path ("/redfish/v1/Systems/1"; a #fragment is dropped) and returns the JSON object. */
  async get(path: string): Promise<Record<string, unknown>> {
    const clean = path.split('#', 1)[0] ?? '';
    if (!clean.startsWith('/')) throw new CliError(`Redfish path '${clean}' must start with /redfish/v1`);
    let target = new URL(clean, this.origin);
    for (let hop = 0; ; hop++) {
      const answer = await this.request(target, clean);
      if (answer.status >= 300 && answer.status < 400 && answer.location !== undefined) {
        const next = new URL(answer.location, target);
        // Never carry the BMC credentials to another host (or from https down to http).
        if (next.origin !== this.origin.origin) {
          throw new RedfishHttpError(answer.status, clean, `the BMC at ${this.shown} redirects ${clean} to ${next.origin}, which is not followed: give that address as --bmc if it is the BMC`);
        }
        if (hop >= MAX_REDIRECTS) throw new RedfishHttpError(answer.status, clean, `the BMC at ${this.shown} redirects ${clean} more than ${MAX_REDIRECTS} times: check --bmc`);
        target = next;
        continue;
      }
      return this.interpret(answer, clean);
    }
  }

  private interpret(answer: RawAnswer, path: string): Record<string, unknown> {
    const { status } = answer;
    if (status === 401 || status === 403) {
      throw new RedfishHttpError(status, path, `the BMC at ${this.shown} refused access to ${path} (HTTP ${status}): check --bmc-user and the password file`);
    }
    if (status === 404) {
      const hint = path.replace(/\/+$/, '') === '/redfish/v1' ? `is ${this.shown} a Redfish service?` : 'the BMC does not provide this resource';
      throw new RedfishHttpError(status, path, `the BMC at ${this.shown} has no ${path} (HTTP 404): ${hint}`);
    }
    if (status < 200 || status >= 300) {
      throw new RedfishHttpError(status, path, `the BMC at ${this.shown} answered ${path} with HTTP ${status}: try again later, or check the BMC's Redfish service`);
    }
    let parsed: unknown;
    try {
      parsed = parseJsonExact(answer.body.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new RedfishHttpError(status, path, `the answer to ${path} is not a JSON object: is ${this.shown} a Redfish service?`);
    }
    return parsed as Record<string, unknown>;
  }

  private request(target: URL, path: string): Promise<RawAnswer> {
    const transport = target.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = { Accept: 'application/json', 'OData-Version': '4.0' };
    if (this.authorization) headers.Authorization = this.authorization;
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      };
      const request = transport.request(target, { method: 'GET', headers, agent: this.agent }, (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) {
            request.destroy();
            fail(new CliError(`the answer of the BMC at ${this.shown} to ${path} is larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB: is ${this.shown} a Redfish service?`));
            return;
          }
          chunks.push(chunk);
        });
        response.on('error', (error) => fail(this.transportError(error, path)));
        response.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const location = response.headers.location;
          resolve({ status: response.statusCode ?? 0, location, body: Buffer.concat(chunks) });
        });
      });
      const timer = setTimeout(() => {
        fail(new CliError(`the BMC at ${this.hostPort()} did not answer ${path} within ${Math.round(this.timeoutMs / 100) / 10} s: check that it is up, or that --bmc names its Redfish service`));
        request.destroy();
      }, this.timeoutMs);
      request.on('error', (error) => fail(this.transportError(error, path)));
      request.end();
    });
  }

  private hostPort(): string {
    const port = this.origin.port || (this.origin.protocol === 'https:' ? '443' : '80');
    return `${this.origin.hostname}:${port}`;
  }

  private transportError(error: Error, path: string): CliError {
    const code = (error as { code?: string }).code ?? '';
    if (CERTIFICATE_CODES.has(code)) {
      return new CliError(`the BMC at ${this.hostPort()} has a TLS certificate this machine does not trust (${code}): pass --bmc-insecure to accept a self-signed certificate`, { cause: error });
    }
    if (code.startsWith('ERR_SSL_') || code === 'EPROTO') {
      return new CliError(`TLS with the BMC at ${this.hostPort()} failed (${code || error.message}): check whether its Redfish service uses https:// or http://`, { cause: error });
    }
    const detail = code || error.message;
    return new CliError(`cannot reach the BMC at ${this.hostPort()} (${detail}) for ${path}: check --bmc and that its Redfish service is enabled`, { cause: error });
  }
}

interface RawAnswer {
  status: number;
  location: string | undefined;
  body: Buffer;
}

/** A URL text with any user:password part removed, for messages. */
function safeUrlText(text: string): string {
  return text.replace(/\/\/[^/@]*@/, '//');
}

/**
 * JSON.parse, except that integers beyond 2^53 come back as exact bigints: Redfish capacities
 * are uint64 (drives of 2^54 bytes exist in DMTF's own samples) and a double would round them.
 * Such tokens are swapped for marked strings before parsing; the marker holds a fresh UUID, so a
 * string in the BMC's data cannot pass for one. Pure.
 */
export function parseJsonExact(text: string): unknown {
  const big: string[] = [];
  const nonce = `${randomUUID()}:`;
  // In the text the NUL is escaped (raw control characters are not JSON); parsed, it is a NUL.
  const marker = `\u0000${nonce}`;
  let rewritten = '';
  let copied = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip a string, escapes included.
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
      continue;
    }
    if (c !== 0x2d && (c < 0x30 || c > 0x39)) continue;
    let end = i + 1;
    while (end < text.length && /[\d.eE+-]/.test(text[end]!)) end++;
    const token = text.slice(i, end);
    if (/^-?\d{16,}$/.test(token) && !Number.isSafeInteger(Number(token))) {
      rewritten += `${text.slice(copied, i)}"\\u0000${nonce}${big.length}"`;
      big.push(token);
      copied = end;
    }
    i = end - 1;
  }
  if (big.length === 0) return JSON.parse(text) as unknown;
  rewritten += text.slice(copied);
  return JSON.parse(rewritten, (_key, value: unknown) =>
    typeof value === 'string' && value.startsWith(marker) ? BigInt(big[Number(value.slice(marker.length))]!) : value,
  ) as unknown;
}
