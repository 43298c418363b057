import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MaasApiError, MaasUnreachableError, UsageError } from '../../src/errors.js';
import {
  backoffDelayMs,
  DEFAULT_RETRY_POLICY,
  encodeMultipart,
  HttpSession,
  isRetryable,
  parseRetryAfter,
  retrying,
  retryPolicyFromEnv,
  type AfterFailure,
  type HttpDeps,
  type RetryPolicy,
} from '../../src/maas/http.js';
import { parseCredentials } from '../../src/maas/credentials.js';
import { startFakeMaas, type FakeMaas } from '../helpers/fake-maas.js';

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function fake(options: Parameters<typeof startFakeMaas>[0] = {}): Promise<FakeMaas> {
  const maas = await startFakeMaas(options);
  servers.push(maas);
  return maas;
}

// A virtual clock: sleeping advances it instantly, so retry schedules are checked without waiting.
function virtualTime(): Required<Pick<HttpDeps, 'now' | 'sleep'>> & { slept: number[] } {
  let offset = 0;
  const slept: number[] = [];
  return {
    slept,
    now: () => Date.now() + offset,
    sleep: async (ms) => {
      slept.push(ms);
      offset += ms;
    },
  };
}

const policy: RetryPolicy = { attempts: 5, initialDelayMs: 1000, maxDelayMs: 8000, totalMs: 60_000 };

function session(maas: FakeMaas, extra: HttpDeps = {}) {
  const log: string[] = [];
  const time = virtualTime();
  const http = new HttpSession({ retry: policy, random: () => 0.5, log: (l) => log.push(l), ...time, ...extra });
  const get = (retry = true) =>
    http.send({ action: 'Listing', method: 'GET', url: `${maas.url}/api/2.0/machines/`, credentials: parseCredentials(maas.adminKey, 'key'), retry });
  return { http, log, slept: time.slept, get };
}

describe('encodeMultipart', () => {
  it('lays out fields then files as upstream does, with CRLF line ends and a final CRLF', () => {
    const { body, contentType } = encodeMultipart([['op', 'signal'], ['status', 'WORKING']], [{ name: 'x.out', content: 'out\n' }], 'B'.repeat(31));
    const b = 'B'.repeat(31);
    expect(contentType).toBe(`multipart/form-data; boundary=${b}`);
    expect(Buffer.from(body).toString()).toBe(
      `--${b}\r\nContent-Disposition: form-data; name="op"\r\n\r\nsignal\r\n` +
        `--${b}\r\nContent-Disposition: form-data; name="status"\r\n\r\nWORKING\r\n` +
        `--${b}\r\nContent-Disposition: form-data; name="x.out"; filename="x.out"\r\nContent-Type: application/octet-stream\r\n\r\nout\n\r\n` +
        `--${b}--\r\n`,
    );
  });

  it('uses a boundary of 31 ASCII letters', () => {
    expect(encodeMultipart([]).contentType).toMatch(/boundary=[A-Za-z]{31}$/);
  });

  it('keeps binary file content byte for byte', () => {
    const bytes = new Uint8Array([0, 255, 13, 10, 128]);
    const body = Buffer.from(encodeMultipart([], [{ name: 'bin', content: bytes }], 'b'.repeat(31)).body);
    expect(body.includes(Buffer.from(bytes))).toBe(true);
  });
});

describe('retry policy', () => {
  it('doubles the delay up to the ceiling, with jitter of at most a quarter either way', () => {
    const mid = [1, 2, 3, 4, 5].map((n) => backoffDelayMs(policy, n, () => 0.5));
    expect(mid).toEqual([1000, 2000, 4000, 8000, 8000]);
    expect(backoffDelayMs(policy, 1, () => 0)).toBe(750);
    expect(backoffDelayMs(policy, 1, () => 0.999999)).toBeLessThanOrEqual(1250);
  });

  it('reads overrides from the environment and rejects nonsense', () => {
    expect(retryPolicyFromEnv({ MAAS_RUN_SCRIPTS_ATTEMPTS: '3', MAAS_RUN_SCRIPTS_RETRY_TOTAL: '2.5', MAAS_RUN_SCRIPTS_RETRY_DELAY: '0.1' })).toEqual({
      ...DEFAULT_RETRY_POLICY,
      attempts: 3,
      totalMs: 2500,
      initialDelayMs: 100,
    });
    expect(() => retryPolicyFromEnv({ MAAS_RUN_SCRIPTS_ATTEMPTS: '0' })).toThrow(UsageError);
    expect(() => retryPolicyFromEnv({ MAAS_RUN_SCRIPTS_RETRY_TOTAL: 'soon' })).toThrow(/MAAS_RUN_SCRIPTS_RETRY_TOTAL must be a number/);
  });

  it('retries per the policy: a correction is not an attempt, each retry waits the backoff or the delay asked for, and the last error is thrown', async () => {
    let clock = 0;
    const waits: number[] = [];
    const attempts: number[] = [];
    const verdicts: AfterFailure[] = ['again', { laterMs: 7000 }, {}, {}];
    const error = await retrying({
      policy: { attempts: 3, initialDelayMs: 1000, maxDelayMs: 8000, totalMs: 90_000 },
      now: () => clock,
      sleep: async (ms) => {
        waits.push(ms);
        clock += ms;
      },
      random: () => 0.5,
      attempt: async (n) => {
        attempts.push(n);
        throw new Error(`attempt ${n} failed`);
      },
      afterFailure: () => verdicts.shift()!,
    }).catch((e: unknown) => e);
    // Attempt 1 is corrected and made again as attempt 1; then 1, 2 and 3 count.
    expect(attempts).toEqual([1, 1, 2, 3]);
    expect(waits).toEqual([7000, 2000]);
    expect((error as Error).message).toBe('attempt 3 failed');
  });

  it('gives up rather than wait past the total time, and lets the caller shape the final error', async () => {
    let clock = 0;
    const error = await retrying({
      policy: { attempts: 10, initialDelayMs: 1000, maxDelayMs: 8000, totalMs: 2500 },
      now: () => clock,
      sleep: async (ms) => void (clock += ms),
      random: () => 0.5,
      attempt: async () => {
        throw new Error('refused');
      },
      afterFailure: () => ({}),
      giveUp: (last, attempts, started) => new Error(`${(last as Error).message} after ${attempts} attempts in ${(clock - started) / 1000} s`),
    }).catch((e: unknown) => e);
    // 1 s after the first, then 2 s would end past 2.5 s.
    expect((error as Error).message).toBe('refused after 2 attempts in 1 s');
  });

  it('stops at once when told to, and returns the first success', async () => {
    const stopped = await retrying({ policy: DEFAULT_RETRY_POLICY, attempt: async () => Promise.reject(new Error('no')), afterFailure: () => 'stop', sleep: async () => undefined }).catch((e: unknown) => e);
    expect((stopped as Error).message).toBe('no');
    let tries = 0;
    const value = await retrying({ policy: DEFAULT_RETRY_POLICY, attempt: async () => (++tries < 3 ? Promise.reject(new Error('later')) : 'done'), afterFailure: () => ({}), sleep: async () => undefined });
    expect([value, tries]).toEqual(['done', 3]);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('later', now)).toBeUndefined();
  });
});

describe('HttpSession', () => {
  it('succeeds after two 503 answers, waiting longer each time', async () => {
    const maas = await fake();
    maas.failNext(2, { status: 503 });
    const { get, slept, log } = session(maas);
    const response = await get();
    expect(response.status).toBe(200);
    expect(maas.requests).toHaveLength(3);
    expect(slept).toEqual([1000, 2000]);
    expect(log[0]).toMatch(/failed \(HTTP 503 Service Unavailable\); retrying in 1\.0 s \(attempt 2 of 5\)/);
  });

  it('honours Retry-After on 429', async () => {
    const maas = await fake();
    maas.failNext(1, { status: 429, headers: { 'Retry-After': '7' } });
    const { get, slept } = session(maas);
    await get();
    expect(slept).toEqual([7000]);
  });

  it('gives up when Retry-After asks for more than the time left', async () => {
    const maas = await fake();
    maas.failNext(1, { status: 503, headers: { 'Retry-After': '3600' } });
    const { get, slept } = session(maas);
    const error = await get().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MaasApiError);
    expect(slept).toEqual([]);
    expect(maas.requests).toHaveLength(1);
  });

  it('does not retry a rejected request (400) and marks it not retryable', async () => {
    const maas = await fake();
    maas.failNext(5, { status: 400, body: 'Unknown status' });
    const { get } = session(maas);
    const error = await get().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MaasApiError);
    expect(isRetryable(error)).toBe(false);
    expect((error as Error).message).toBe('Listing failed: HTTP 400 Bad Request: Unknown status');
    expect(maas.requests).toHaveLength(1);
  });

  it('stops after the policy\'s attempts and reports the last answer as retryable', async () => {
    const maas = await fake();
    maas.failNext(99, { status: 500, body: 'boom' });
    const { get } = session(maas);
    const error = await get().catch((e: unknown) => e);
    expect(maas.requests).toHaveLength(policy.attempts);
    expect(isRetryable(error)).toBe(true);
    expect((error as MaasApiError).status).toBe(500);
  });

  it('makes one attempt when the request is not retryable', async () => {
    const maas = await fake();
    maas.failNext(2, { status: 503 });
    const { get } = session(maas);
    await expect(get(false)).rejects.toBeInstanceOf(MaasApiError);
    expect(maas.requests).toHaveLength(1);
  });

  it("corrects the clock from a 401's Date (read as UTC) and signs again once", async () => {
    const maas = await fake({ clockOffsetMs: 3_600_000 });
    const { get, log, http } = session(maas);
    const response = await get(false);
    expect(response.status).toBe(200);
    expect(maas.requests).toHaveLength(2);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatch(/^updated clock skew to 3(59[89]|600)$/);
    const [first, second] = maas.requests.map((r) => Number(r.oauth!.oauth_timestamp));
    expect(second! - first!).toBeGreaterThanOrEqual(3598);
    expect(maas.requests[0]!.oauth!.oauth_nonce).not.toBe(maas.requests[1]!.oauth!.oauth_nonce);
    expect(http.skewSeconds).toBeGreaterThanOrEqual(3598);
  });

  it('does not sign again for a 401 whose Date agrees with the local clock', async () => {
    const maas = await fake();
    maas.failNext(1, { status: 401, body: 'Authorization Error: Invalid API key.' });
    const { get, log } = session(maas);
    await expect(get()).rejects.toThrow('Listing failed: HTTP 401 Unauthorized: Authorization Error: Invalid API key.');
    expect(maas.requests).toHaveLength(1);
    expect(log).toEqual([]);
  });

  it('corrects the clock only once per request when the server keeps refusing', async () => {
    const maas = await fake();
    const ahead = () => new Date(Date.now() + 3_600_000).toUTCString();
    maas.intercept(() => ({ status: 401, headers: { Date: ahead() }, body: 'Authorization Error: nope' }));
    const { get, log } = session(maas);
    const error = await get().catch((e: unknown) => e);
    expect((error as MaasApiError).status).toBe(401);
    expect(maas.requests).toHaveLength(2);
    expect(log.filter((l) => l.startsWith('updated clock skew'))).toHaveLength(1);
  });

  it('gives up on an unreachable server within the total time bound', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const time = virtualTime();
    const http = new HttpSession({ retry: { attempts: 100, initialDelayMs: 1000, maxDelayMs: 4000, totalMs: 10_000 }, random: () => 0.5, log: () => undefined, ...time });
    const error = await http.send({ action: 'Listing', method: 'GET', url: `http://127.0.0.1:${port}/MAAS/api/2.0/machines/`, retry: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MaasUnreachableError);
    expect(isRetryable(error)).toBe(true);
    expect((error as Error).message).toMatch(/^Listing failed: cannot reach MAAS at http:\/\/127\.0\.0\.1:\d+\/MAAS\/api\/2\.0\/machines\/: connection refused \(gave up after \d attempts/);
    expect(time.slept.reduce((a, b) => a + b, 0)).toBeLessThan(10_000);
  });

  it('times out an attempt that gets no answer', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    servers.push({
      close: () => {
        for (const socket of sockets) socket.destroy();
        return new Promise<void>((resolve) => silent.close(() => resolve()));
      },
    });
    const http = new HttpSession({ retry: { ...policy, attempts: 1 }, timeoutMs: 200, log: () => undefined });
    const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}/MAAS/`;
    const error = await http.send({ action: 'Listing', method: 'GET', url, retry: true }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/no answer within 0\.2 s/);
  });

  it('keeps secrets a server echoes out of the error', async () => {
    const maas = await fake();
    const secret = maas.adminKey.split(':')[2]!;
    maas.failNext(1, { status: 401, body: `Authorization Error: 'Invalid signature. Expected signature base string: &${secret}'` });
    const { get } = session(maas, { retry: { ...policy, attempts: 1 } });
    const error = await get(false).catch((e: unknown) => e);
    expect((error as Error).message).toContain('<secret>');
    expect((error as Error).message).not.toContain(secret);
  });

  it('does not follow a redirect (upstream must not be redirected either) and says where it points', async () => {
    const maas = await fake();
    maas.failNext(1, { status: 301, headers: { Location: 'https://maas.example.com/MAAS/api/2.0/machines/' } });
    const { get } = session(maas);
    const error = await get().catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      'Listing failed: HTTP 301 Moved Permanently: the server redirects to https://maas.example.com/MAAS/api/2.0/machines/; give the final MAAS URL (…/MAAS) instead',
    );
    expect(isRetryable(error)).toBe(false);
    expect(maas.requests).toHaveLength(1);
  });

  it('summarises an HTML error page instead of printing it', async () => {
    const maas = await fake();
    maas.failNext(1, { status: 404, body: '<!DOCTYPE html>\n<html><body><h1>Not here</h1>\n</body></html>' });
    const { get } = session(maas);
    const error = await get().catch((e: unknown) => e);
    expect((error as Error).message).toBe('Listing failed: HTTP 404 Not Found: (an HTML page, not a MAAS API answer)');
  });
});
