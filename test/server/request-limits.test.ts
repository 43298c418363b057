// The server decides who is asking from the headers before it reads a body, caps each body by
// route and by caller, gives unsigned requests no share of the memory for bodies, and closes
// uploads that stall or trickle (docs/design.md D20). Small limits keep these tests fast.
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerLimits } from '../../src/server/limits.js';
import { memoryStore } from '../../src/server/memory-store.js';
import { BodyBudget } from '../../src/server/request-body.js';
import { createMaasServer, type MaasServerOptions } from '../../src/server/server.js';
import { call, createDeployed, oauthHeader, signal, type Endpoint } from './server-harness.js';

const KiB = 1024;

interface Running extends Endpoint {
  port: number;
  lines: string[];
}

const servers: import('node:http').Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

// A real server on 127.0.0.1 port 0 with an admin key, over the in-memory store.
async function serve(options: Partial<MaasServerOptions> = {}): Promise<Running> {
  const store = memoryStore();
  const adminKey = store.addUser('admin', { admin: true });
  const lines: string[] = [];
  const server = createMaasServer({ store, log: (line) => lines.push(line), ...options });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/MAAS`, adminKey, port, lines };
}

/** A raw connection: what it has received so far, and whether the server has closed it. */
interface Raw {
  socket: Socket;
  received(): string;
  closed: Promise<string>;
  isClosed(): boolean;
}

function rawConnection(port: number): Raw {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  let closed = false;
  socket.on('data', (chunk) => (text += chunk.toString()));
  socket.on('error', () => {});
  return {
    socket,
    received: () => text,
    isClosed: () => closed,
    closed: new Promise((resolve) =>
      socket.on('close', () => {
        closed = true;
        resolve(text);
      }),
    ),
  };
}

// Request head of a multipart signal of `length` bytes; `authorization` undefined: unsigned.
function head(path: string, length: number, authorization?: string): string {
  return [
    `POST ${path} HTTP/1.1`,
    'Host: maas',
    'Content-Type: multipart/form-data; boundary=XYZ',
    `Content-Length: ${length}`,
    ...(authorization ? [`Authorization: ${authorization}`] : []),
    '',
    '',
  ].join('\r\n');
}

const PART_START = '--XYZ\r\nContent-Disposition: form-data; name="maas-lshw.out"; filename="maas-lshw.out"\r\n\r\n';

describe('the stalled-upload attack', () => {
  it('leaves signals from real machines flowing: stalled unsigned uploads hold no memory, a stolen token holds one share', async () => {
    const LIMIT = 64 * KiB;
    // Long timeouts: what keeps the machines served here is the design, not a timer firing.
    const budget = new BodyBudget(4 * LIMIT);
    const h = await serve({ maxBodyBytes: LIMIT, bodyBudget: budget, limits: { idleTimeoutMs: 120_000, bodyTimeoutMs: 120_000, headersTimeoutMs: 120_000 } });
    const stolen = await createDeployed(h, { hostname: 'stolen' });
    const machines = await Promise.all([1, 2, 3].map((n) => createDeployed(h, { hostname: `real${n}` })));

    // Each attacking connection promises a body just under the cap, sends all but 4 KiB, idles.
    const stall = (authorization?: string) => {
      const raw = rawConnection(h.port);
      raw.socket.write(head('/MAAS/metadata/2012-03-01/', LIMIT - 100, authorization));
      raw.socket.write(PART_START + 'x'.repeat(LIMIT - 4 * KiB));
      return raw;
    };
    const unsigned = [1, 2, 3, 4].map(() => stall());
    const withToken = [1, 2, 3, 4].map(() => stall(oauthHeader(stolen.token)));

    // Wait until the server has dealt with every attacking connection: answered it, or holds
    // its whole body in memory.
    const share = PART_START.length + LIMIT - 4 * KiB;
    const all = [...unsigned, ...withToken];
    await expect.poll(() => all.filter((raw) => raw.received() !== '').length + budget.used / share).toBe(all.length);

    // Real machines: every signal, each with 8 KiB of output (sent twice: alone and combined), is stored.
    const started = Date.now();
    const answers = await Promise.all(
      machines.flatMap((m) => ['maas-lshw', 'maas-serial-ports', 'maas-list-modaliases'].map((name) => signal(h, m.token, name, { stdout: `${name}\n${'x'.repeat(8 * KiB)}` }))),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    // A generous bound: the signals did not wait for the attack to time out.
    expect(Date.now() - started).toBeLessThan(20_000);
    // Unsigned: refused from the headers, 401, and the connection closed.
    for (const raw of unsigned) {
      const answer = await raw.closed;
      expect(answer).toMatch(/^HTTP\/1\.1 401 /);
      expect(answer).toMatch(/\r\nConnection: close\r\n/i);
    }
    // Signed with one machine's token: that token holds one body's worth; its other uploads wait.
    expect(withToken.map((raw) => raw.received().slice(0, 12)).sort()).toEqual(['', 'HTTP/1.1 503', 'HTTP/1.1 503', 'HTTP/1.1 503']);
    expect(budget.used).toBe(share);
    for (const raw of [...unsigned, ...withToken]) raw.socket.destroy();
    await expect.poll(() => budget.used).toBe(0);
  });
});

describe('body caps by route and by who is asking', () => {
  const limits: Partial<ServerLimits> = { signalBytes: 8 * KiB, scriptUploadBytes: 16 * KiB, apiBytes: 2 * KiB, anonymousBytes: 1 * KiB, perCallerBytes: 16 * KiB };

  it("caps a machine's signal at signalBytes", async () => {
    const h = await serve({ limits });
    const { token } = await createDeployed(h, { hostname: 'sig' });
    const big = await signal(h, token, 'maas-lshw', { stdout: 'x'.repeat(5 * KiB) });
    expect([big.status, await big.text()]).toEqual([413, 'Request body too large: the limit is 8192 bytes']);
    const fits = await signal(h, token, 'maas-lshw', { stdout: 'x'.repeat(2 * KiB) });
    expect(fits.status).toBe(200);
  });

  it("caps an admin's script upload at scriptUploadBytes, and the same upload by a machine token at apiBytes", async () => {
    const h = await serve({ limits });
    const { token } = await createDeployed(h, { hostname: 'up' });
    const script = (size: number, name: string) => ({ fields: { name }, files: { script: `#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: ${name}\n# --- End MAAS 1.0 script metadata ---\n${'#'.repeat(size)}\n` } });
    const fits = await call(h, 'POST', '/api/2.0/scripts/', h.adminKey, script(12 * KiB, 'fits'));
    expect(fits.status).toBe(200);
    const over = await call(h, 'POST', '/api/2.0/scripts/', h.adminKey, script(17 * KiB, 'over'));
    expect([over.status, await over.text()]).toEqual([413, 'Request body too large: the limit is 16384 bytes']);
    const byMachine = await call(h, 'POST', '/api/2.0/scripts/', token, script(12 * KiB, 'machine'));
    expect([byMachine.status, await byMachine.text()]).toEqual([413, 'Request body too large: the limit is 2048 bytes']);
  });

  it('caps other signed requests at apiBytes', async () => {
    const h = await serve({ limits });
    const { systemId } = await createDeployed(h, { hostname: 'api' });
    const over = await call(h, 'PUT', `/api/2.0/machines/${systemId}/`, h.adminKey, { fields: { description: 'd'.repeat(3 * KiB) } });
    expect([over.status, await over.text()]).toEqual([413, 'Request body too large: the limit is 2048 bytes']);
  });

  it('caps an unsigned enlistment at anonymousBytes, and refuses any other unsigned body unread with 401, closing the connection', async () => {
    const h = await serve({ limits });
    const enlist = await call(h, 'POST', '/api/2.0/machines/', undefined, { fields: { architecture: 'amd64/generic', mac_addresses: '52:54:00:00:00:01', hostname: 'h'.repeat(2 * KiB) } });
    expect([enlist.status, await enlist.text()]).toEqual([413, 'Request body too large: the limit is 1024 bytes']);
    const small = await call(h, 'POST', '/api/2.0/machines/', undefined, { fields: { architecture: 'amd64/generic', mac_addresses: '52:54:00:00:00:01' } });
    expect(small.status).toBe(200);

    // The head promises 1 MiB but only the first bytes are sent: the answer comes anyway.
    const raw = rawConnection(h.port);
    raw.socket.write(head('/MAAS/metadata/2012-03-01/', 1024 * KiB));
    raw.socket.write(PART_START);
    const answer = await raw.closed;
    expect(answer).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
    expect(answer.endsWith('\r\n\r\nForbidden')).toBe(true);
  });
});

describe('uploads that stall or trickle', () => {
  // Sends `total` bytes of body `step` bytes every `everyMs`, until the server answers.
  function trickle(raw: Raw, total: number, step: number, everyMs: number): void {
    let sent = 0;
    const timer = setInterval(() => {
      if (raw.isClosed() || sent >= total) return clearInterval(timer);
      raw.socket.write('x'.repeat(step));
      sent += step;
    }, everyMs);
  }

  it('closes a request whose headers do not all arrive within headersTimeoutMs with 408', async () => {
    const h = await serve({ limits: { headersTimeoutMs: 300 } });
    const raw = rawConnection(h.port);
    raw.socket.write('POST /MAAS/metadata/2012-03-01/ HTTP/1.1\r\nHost: maas\r\n');
    expect(await raw.closed).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes an upload that sends nothing for idleTimeoutMs with 408, gives its memory back and keeps serving', async () => {
    const budget = new BodyBudget(1024 * KiB);
    const h = await serve({ bodyBudget: budget, limits: { idleTimeoutMs: 300 } });
    const { token } = await createDeployed(h, { hostname: 'idle' });
    const raw = rawConnection(h.port);
    raw.socket.write(head('/MAAS/metadata/2012-03-01/', 64 * KiB, oauthHeader(token)));
    raw.socket.write(PART_START + 'x'.repeat(32 * KiB));
    await expect.poll(() => budget.used).toBeGreaterThan(0);
    const answer = await raw.closed;
    expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(answer).toMatch(/Request Timeout: no data for 0\.3 s; the connection is closed, send the request again$/);
    expect(budget.used).toBe(0);
    expect((await signal(h, token, 'maas-lshw', { stdout: 'ok\n' })).status).toBe(200);
  });

  it('closes an upload still arriving after bodyTimeoutMs with 408', async () => {
    const h = await serve({ limits: { idleTimeoutMs: 2000, bodyTimeoutMs: 600, minBytesPerSecond: 0 } });
    const { token } = await createDeployed(h, { hostname: 'long' });
    const raw = rawConnection(h.port);
    raw.socket.write(head('/MAAS/metadata/2012-03-01/', 64 * KiB, oauthHeader(token)) + PART_START);
    trickle(raw, 60 * KiB, 100, 50);
    expect(await raw.closed).toMatch(/Request Timeout: the body took longer than 0\.6 s; the connection is closed, send the request again$/);
  });

  it('closes an upload slower than minBytesPerSecond once rateGraceMs has passed, with 408', async () => {
    const h = await serve({ limits: { idleTimeoutMs: 2000, bodyTimeoutMs: 60_000, minBytesPerSecond: 10_000, rateGraceMs: 400 } });
    const { token } = await createDeployed(h, { hostname: 'slow' });
    const raw = rawConnection(h.port);
    raw.socket.write(head('/MAAS/metadata/2012-03-01/', 64 * KiB, oauthHeader(token)) + PART_START);
    trickle(raw, 60 * KiB, 10, 50);
    expect(await raw.closed).toMatch(/Request Timeout: the body came slower than 10000 bytes per second; the connection is closed, send the request again$/);
  });
});

describe('the memory signed bodies may take at once', () => {
  it('answers 503 with Retry-After while other callers hold it, and serves again once they are done', async () => {
    const budget = new BodyBudget(1500);
    const h = await serve({ maxBodyBytes: 1024, bodyBudget: budget });
    const [a, b] = await Promise.all([createDeployed(h, { hostname: 'a' }), createDeployed(h, { hostname: 'b' })]);
    // A slow upload by machine a: 1000 of its 1001 bytes sent, the last one held back.
    const slow = rawConnection(h.port);
    slow.socket.write(`POST /MAAS/metadata/2012-03-01/ HTTP/1.1\r\nHost: x\r\nAuthorization: ${oauthHeader(a.token)}\r\nContent-Type: text/plain\r\nContent-Length: 1001\r\n\r\n${'x'.repeat(1000)}`);
    await expect.poll(() => budget.used).toBe(1000);
    const refused = await fetch(`${h.url}/metadata/2012-03-01/`, { method: 'POST', body: 'y'.repeat(1000), headers: { Authorization: oauthHeader(b.token) } });
    expect([refused.status, refused.headers.get('retry-after'), await refused.text()]).toEqual([
      503,
      '5',
      'Service Unavailable: other uploads hold the memory for request bodies; retry shortly',
    ]);
    slow.socket.write('x');
    await expect.poll(() => slow.received()).toMatch(/^HTTP\/1\.1 400 /);
    expect(budget.used).toBe(0);
    const served = await fetch(`${h.url}/metadata/2012-03-01/`, { method: 'POST', body: 'y'.repeat(1000), headers: { Authorization: oauthHeader(b.token) } });
    expect([served.status, await served.text()]).toEqual([400, 'Unrecognised signature: method=POST op=None']);
    slow.socket.destroy();
  });

  it('logs a client that goes away mid-body as a closed connection, not an internal error, and keeps serving', async () => {
    const h = await serve();
    const { token } = await createDeployed(h, { hostname: 'gone' });
    const raw = rawConnection(h.port);
    raw.socket.write(head('/MAAS/metadata/2012-03-01/', 100_000, oauthHeader(token)) + '--XYZ\r\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
    raw.socket.destroy();
    await expect
      .poll(() => h.lines.filter((line) => line.includes('closed')))
      .toEqual(['POST /MAAS/metadata/2012-03-01/: the client closed the connection before the whole request arrived; nothing stored']);
    expect((await signal(h, token, 'maas-lshw', { stdout: 'ok\n' })).status).toBe(200);
  });
});
