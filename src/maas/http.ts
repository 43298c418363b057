// The HTTP layer under MaasClient: node:http (http-transport.ts) with a per-request timeout, multipart
// bodies laid out as upstream's client lays them out, bounded retries with exponential backoff
// and jitter, Retry-After, and clock-skew correction from the server's Date (read as UTC,
// docs/design.md D8; docs/protocol.md §2.6).
import { randomInt } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { MaasApiError, MaasUnreachableError, UsageError } from '../errors.js';
import { VERSION } from '../version.js';
import { nodeTransport, type Transport, type TransportResponse } from './http-transport.js';
import { authorizationHeader } from './oauth.js';
import type { Credentials } from './types.js';

/** How often and for how long a request is retried. Every field bounds the total effort. */
export interface RetryPolicy {
  /** Attempts in all, the first included (1 = no retry). */
  attempts: number;
  /** Delay before the first retry; doubled for each further one. */
  initialDelayMs: number;
  /** Ceiling of one delay (a Retry-After above it is honoured only within totalMs). */
  maxDelayMs: number;
  /** Wall-clock bound on the whole call, attempts and delays together. */
  totalMs: number;
}

/** Default policy: up to 6 attempts within 90 s (delays about 1, 2, 4, 8, 16 s with jitter). */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 6, initialDelayMs: 1000, maxDelayMs: 30_000, totalMs: 90_000 };

/** Default time one attempt may take, response body included. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** Environment variables that tune the retry policy and the per-request timeout (seconds). */
export const RETRY_ENV = {
  attempts: 'MAAS_RUN_SCRIPTS_ATTEMPTS',
  initialDelay: 'MAAS_RUN_SCRIPTS_RETRY_DELAY',
  total: 'MAAS_RUN_SCRIPTS_RETRY_TOTAL',
  timeout: 'MAAS_RUN_SCRIPTS_TIMEOUT',
} as const;

/** The retry policy with any overrides from the environment (see RETRY_ENV); bad values → UsageError. */
export function retryPolicyFromEnv(env: NodeJS.ProcessEnv = process.env, base: RetryPolicy = DEFAULT_RETRY_POLICY): RetryPolicy {
  const attempts = envNumber(env, RETRY_ENV.attempts, { integer: true, min: 1 });
  const delay = envNumber(env, RETRY_ENV.initialDelay, { min: 0 });
  const total = envNumber(env, RETRY_ENV.total, { min: 0 });
  return {
    attempts: attempts ?? base.attempts,
    initialDelayMs: delay === undefined ? base.initialDelayMs : delay * 1000,
    maxDelayMs: base.maxDelayMs,
    totalMs: total === undefined ? base.totalMs : total * 1000,
  };
}

/** The per-request timeout from the environment (RETRY_ENV.timeout, seconds), if set. */
export function timeoutFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const seconds = envNumber(env, RETRY_ENV.timeout, { min: 0.001 });
  return seconds === undefined ? undefined : seconds * 1000;
}

function envNumber(env: NodeJS.ProcessEnv, name: string, rule: { integer?: boolean; min: number }): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < rule.min || (rule.integer && !Number.isInteger(value))) {
    throw new UsageError(`${name} must be ${rule.integer ? 'an integer' : 'a number'} ≥ ${rule.min}, got '${raw}'`);
  }
  return value;
}

/**
 * Whether `error` means "try again later" (unreachable, timeout, 5xx, 409/429) rather than
 * "the server rejected this request" (other 4xx, bad input): callers spool the former.
 */
export function isRetryable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === true;
}

/** Delay before retry number `retry` (1-based): exponential, capped, with ±25 % jitter. */
export function backoffDelayMs(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.round(base * (0.75 + random() * 0.5));
}

/** Waits `ms` milliseconds: the default `sleep` of every retry. */
export const sleep = (ms: number): Promise<void> => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What to do after a failed attempt (see retrying). */
export type AfterFailure =
  /** Give up: the error is final. */
  | 'stop'
  /** Try again at once, without counting this attempt (something was corrected, e.g. the clock). */
  | 'again'
  /** Try again after a delay (`delayMs`, default: the policy's backoff) if attempts and time remain. */
  | { laterMs?: number };

/** The loop of retrying: `attempt` until it succeeds or `afterFailure` and the policy say to stop. */
export interface RetryLoop<T> {
  policy: RetryPolicy;
  /** One attempt (1-based); `deadline` (ms since the epoch) is when the whole call must be over. */
  attempt(attempt: number, deadline: number): Promise<T>;
  afterFailure(error: unknown, attempt: number): AfterFailure | Promise<AfterFailure>;
  /** Called before each delayed retry (for the user's log). */
  onRetry?(error: unknown, delayMs: number, attempt: number): void;
  /** The error thrown when the loop gives up (default: the last one). */
  giveUp?(error: unknown, attempts: number, startedMs: number): unknown;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/**
 * Runs `loop.attempt` until it succeeds, retrying per the policy: at most `attempts` counted
 * attempts, each delayed retry waiting the backoff (or the delay `afterFailure` asks for), and no
 * retry that would end past `totalMs` from the start.
 */
export async function retrying<T>(loop: RetryLoop<T>): Promise<T> {
  const now = loop.now ?? Date.now;
  const wait = loop.sleep ?? sleep;
  const started = now();
  const deadline = started + Math.max(loop.policy.totalMs, 1);
  const giveUp = (error: unknown, attempts: number) => (loop.giveUp ? loop.giveUp(error, attempts, started) : error);
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await loop.attempt(attempt, deadline);
    } catch (error) {
      const next = await loop.afterFailure(error, attempt);
      if (next === 'again') {
        attempt -= 1;
        continue;
      }
      if (next === 'stop' || attempt >= loop.policy.attempts) throw giveUp(error, attempt);
      const delay = next.laterMs ?? backoffDelayMs(loop.policy, attempt, loop.random);
      if (now() + delay >= deadline) throw giveUp(error, attempt);
      loop.onRetry?.(error, delay, attempt);
      await wait(delay);
    }
  }
}

/** A Retry-After header (seconds or an HTTP date) in milliseconds from `nowMs`; undefined if absent/bad. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** One plain field or one file of a multipart body. */
export interface MultipartFile {
  name: string;
  content: Uint8Array | string;
}

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A boundary like upstream's: 31 random ASCII letters. */
export function randomBoundary(): string {
  let boundary = '';
  for (let i = 0; i < 31; i++) boundary += LETTERS[randomInt(LETTERS.length)];
  return boundary;
}

/**
 * A multipart/form-data body laid out as upstream's client does (docs/protocol.md §2.7): the
 * fields in order with no Content-Type, then the files with name = filename and
 * application/octet-stream, CRLF line ends, and a CRLF after the closing delimiter.
 */
export function encodeMultipart(
  fields: readonly (readonly [string, string])[],
  files: readonly MultipartFile[] = [],
  boundary = randomBoundary(),
): { body: Uint8Array; contentType: string } {
  const chunks: Buffer[] = [];
  const line = (text: string) => chunks.push(Buffer.from(`${text}\r\n`, 'utf8'));
  for (const [name, value] of fields) {
    line(`--${boundary}`);
    line(`Content-Disposition: form-data; name="${name}"`);
    line('');
    line(value);
  }
  for (const file of files) {
    line(`--${boundary}`);
    line(`Content-Disposition: form-data; name="${file.name}"; filename="${file.name}"`);
    line('Content-Type: application/octet-stream');
    line('');
    chunks.push(typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : Buffer.from(file.content));
    line('');
  }
  line(`--${boundary}--`);
  return { body: new Uint8Array(Buffer.concat(chunks)), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** What the HTTP layer needs from its surroundings; every field has a real default. */
export interface HttpDeps {
  /** Sends one request (default: node:http, see http-transport.ts); Node's fetch fits too. */
  fetch?: Transport;
  /** Clock in milliseconds since the epoch. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  retry?: RetryPolicy;
  /** Per-attempt timeout in milliseconds. */
  timeoutMs?: number;
  /** Warnings (retries, clock skew); default: stderr. */
  log?: (line: string) => void;
  /** Random numbers in [0, 1) for jitter. */
  random?: () => number;
}

/** One request as the client describes it. */
export interface HttpRequest {
  /** Names the operation in error messages, e.g. "Machine creation". */
  action: string;
  method: 'GET' | 'POST';
  url: string;
  credentials?: Credentials;
  body?: { bytes: Uint8Array; contentType: string };
  /** Retry network errors and retryable statuses per the policy (false: one attempt, but the skew fix still applies). */
  retry: boolean;
}

/** A response the caller accepted (2xx), body read in full. */
export interface HttpResponse {
  status: number;
  reason: string;
  headers: TransportResponse['headers'];
  body: Uint8Array;
  url: string;
}

/** Text of a response body (UTF-8). */
export function bodyText(response: { body: Uint8Array }): string {
  return Buffer.from(response.body).toString('utf8');
}

/** An attempt that got no 2xx answer: the error, and what the answer said about retrying and the clock. */
interface AttemptFailure {
  error: MaasApiError | MaasUnreachableError;
  retryAfterMs?: number;
  /** The server's clock minus ours, from the Date of a 401/403. */
  skewSeconds?: number;
}

/**
 * Sends requests for one client. It keeps the clock-skew correction learnt from a 401/403 for
 * the requests that follow (upstream forgets it after each call, so each call pays a 401).
 */
export class HttpSession {
  /** Seconds added to the local clock when signing. */
  skewSeconds = 0;
  private readonly fetch: Transport;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly log: (line: string) => void;
  private readonly random: () => number;
  readonly policy: RetryPolicy;
  readonly timeoutMs: number;

  constructor(deps: HttpDeps = {}) {
    this.fetch = deps.fetch ?? nodeTransport;
    this.now = deps.now ?? Date.now;
    this.sleep = deps.sleep ?? sleep;
    this.log = deps.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.random = deps.random ?? Math.random;
    this.policy = deps.retry ?? DEFAULT_RETRY_POLICY;
    this.timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /**
   * Sends `request`, retrying per the policy when `request.retry` is set. Resolves with any 2xx
   * answer; throws MaasApiError for an HTTP error (its `retryable` says whether to try later) and
   * MaasUnreachableError when no answer came.
   */
  async send(request: HttpRequest): Promise<HttpResponse> {
    const policy = request.retry ? this.policy : { ...this.policy, attempts: 1 };
    let skewRetried = false;
    // The last failed attempt, with what its answer said about retrying and the clock.
    let failure: AttemptFailure | undefined;
    const failed = (error: unknown) => (failure?.error === error ? failure : undefined);
    return retrying({
      policy,
      now: this.now,
      sleep: this.sleep,
      random: this.random,
      attempt: async (_attempt, deadline) => {
        const outcome = await this.attempt(request, Math.max(1, Math.min(this.timeoutMs, deadline - this.now())));
        if ('response' in outcome) return outcome.response;
        failure = outcome;
        throw outcome.error;
      },
      afterFailure: (error) => {
        const last = failed(error);
        if (!last) return 'stop';
        if (last.skewSeconds !== undefined && !skewRetried) {
          // A 401/403 with a Date we can read: sign again once with the server's time.
          skewRetried = true;
          // Date has one-second resolution: a difference of a second is noise, not a wrong clock.
          if (Math.abs(last.skewSeconds - this.skewSeconds) > 1) {
            this.skewSeconds = last.skewSeconds;
            this.log(`updated clock skew to ${last.skewSeconds}`);
            return 'again'; // the correction is not one of the policy's attempts
          }
        }
        if (!request.retry || !last.error.retryable) return 'stop';
        return last.retryAfterMs === undefined ? {} : { laterMs: last.retryAfterMs };
      },
      onRetry: (error, delay, attempt) => {
        const reason = failed(error) ? shortReason(failed(error)!.error) : String(error);
        this.log(`request to ${request.url} failed (${reason}); retrying in ${(delay / 1000).toFixed(1)} s (attempt ${attempt + 1} of ${policy.attempts})`);
      },
      giveUp: (error, attempts, started) => {
        const last = failed(error);
        return last ? this.final(last.error, attempts, started) : error;
      },
    });
  }

  private final(error: MaasApiError | MaasUnreachableError, attempts: number, started: number): Error {
    if (attempts <= 1 || error instanceof MaasApiError) return error;
    const seconds = ((this.now() - started) / 1000).toFixed(1);
    return new MaasUnreachableError(error.action, error.url, `${error.detail} (gave up after ${attempts} attempts in ${seconds} s)`, { cause: error });
  }

  private async attempt(request: HttpRequest, timeoutMs: number): Promise<{ response: HttpResponse } | AttemptFailure> {
    const headers: Record<string, string> = {
      'Accept-Encoding': 'identity',
      'User-Agent': `maas-run-scripts/${VERSION}`,
    };
    if (request.body) headers['Content-Type'] = request.body.contentType;
    const authorization = request.credentials
      ? authorizationHeader(request.credentials, { nowMs: this.now(), skewSeconds: this.skewSeconds })
      : undefined;
    if (authorization) headers.Authorization = authorization;

    let response: TransportResponse;
    let body: Uint8Array;
    try {
      response = await this.fetch(request.url, {
        method: request.method,
        headers,
        body: request.body ? request.body.bytes : undefined,
        redirect: 'manual', // upstream's client must never be redirected (docs/protocol.md §2.2); neither are we
        signal: AbortSignal.timeout(timeoutMs),
      });
      body = new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      return { error: new MaasUnreachableError(request.action, request.url, networkReason(error, timeoutMs), { cause: error }) };
    }
    const reason = response.statusText || STATUS_CODES[response.status] || 'Unknown Status';
    if (response.status >= 200 && response.status < 300) {
      return { response: { status: response.status, reason, headers: response.headers, body, url: request.url } };
    }
    const text = redact(Buffer.from(body).toString('utf8'), request.credentials);
    const error = new MaasApiError(request.action, response.status, reason, response.status >= 300 && response.status < 400 ? redirectNote(response) : text);
    const result: AttemptFailure = { error };
    const retryAfter = parseRetryAfter(response.headers.get('retry-after'), this.now());
    if (retryAfter !== undefined) result.retryAfterMs = retryAfter;
    if (response.status === 401 || response.status === 403) {
      const date = response.headers.get('date');
      if (!date) {
        this.log(`date field not in ${response.status} headers`);
      } else {
        const serverMs = Date.parse(date); // RFC 1123 dates say GMT, so this is UTC (docs/design.md D8)
        if (Number.isNaN(serverMs)) this.log(`failed to convert date '${date}'`);
        else result.skewSeconds = Math.round((serverMs - this.now()) / 1000);
      }
    }
    return result;
  }
}

function redirectNote(response: TransportResponse): string {
  const location = response.headers.get('location');
  return `the server redirects${location ? ` to ${location}` : ''}; give the final MAAS URL (…/MAAS) instead`;
}

/** Replaces the credentials' secrets, raw or percent-encoded, wherever a server echoes them. */
export function redact(text: string, credentials: Credentials | undefined): string {
  if (!credentials) return text;
  let result = text;
  for (const secret of [credentials.tokenSecret, credentials.consumerSecret]) {
    if (secret.length < 4) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) result = result.split(form).join('<secret>');
  }
  return result;
}

function shortReason(error: MaasApiError | MaasUnreachableError): string {
  return error instanceof MaasApiError ? `HTTP ${error.status} ${error.reason}` : error.detail;
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the server',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed (temporary)',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'connection closed while sending',
  ECONNABORTED: 'connection closed by the server',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  CERT_HAS_EXPIRED: 'the server certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server certificate is self-signed and not trusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the server certificate cannot be verified',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the server certificate does not match the host name',
};

function networkReason(error: unknown, timeoutMs: number): string {
  const err = error as { name?: string; code?: string; message?: string; cause?: unknown } | undefined;
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return `no answer within ${(timeoutMs / 1000).toFixed(1)} s`;
  // fetch wraps the socket error: "fetch failed" with the real reason in `cause`; node:http does not.
  let deepest = err?.message?.split('\n')[0] ?? String(error);
  for (let current: unknown = error, depth = 0; current && depth < 4; depth++) {
    const code = (current as { code?: string }).code;
    const message = (current as Error).message?.split('\n')[0];
    if (code && NETWORK_REASONS[code]) return NETWORK_REASONS[code];
    if (code) return `${code}${message ? ` (${message})` : ''}`;
    if (message) deepest = message;
    current = (current as { cause?: unknown }).cause;
  }
  return deepest;
}
