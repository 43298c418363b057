// Form parsing as Django does it (docs/protocol.md §2.7): a part is a file exactly when it has a
// filename; part content types are ignored. Reading bodies (docs/design.md D20): the size cap, the
// memory budget and each caller's share of it, and the timeouts for uploads that stall or trickle.
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { HttpError } from '../../src/server/http-error.js';
import { BodyBudget, field, parseForm, readBody, type BodyAllowance, type BodyTimeouts } from '../../src/server/request-body.js';

const CRLF = '\r\n';

/** A multipart body of raw parts (each: its header lines and its value). */
function multipart(parts: { headers: string[]; value: string }[]): { contentType: string; body: Buffer } {
  const boundary = 'ReviewBoundaryAbCdEfGhIjKlMnOpQrS';
  const lines = parts.flatMap((p) => [`--${boundary}`, ...p.headers, '', p.value]);
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.from([...lines, `--${boundary}--`, ''].join(CRLF)) };
}

describe('parseForm', () => {
  it('takes a part without a filename as a field even when it is labelled application/octet-stream', async () => {
    const { contentType, body } = multipart([
      { headers: ['Content-Disposition: form-data; name="hostname"', 'Content-Type: application/octet-stream'], value: 'web07' },
      { headers: ['Content-Disposition: form-data; name="maas-lshw.out"; filename="maas-lshw.out"', 'Content-Type: text/plain'], value: '<list/>' },
    ]);
    const form = await parseForm(contentType, body);
    expect(form.fields.get('hostname')).toEqual(['web07']);
    expect(form.files.map((f) => [f.name, f.data.toString()])).toEqual([['maas-lshw.out', '<list/>']]);
  });

  it('refuses a form with more files than it keeps instead of silently dropping the rest', async () => {
    const parts = Array.from({ length: 1001 }, (_, i) => ({
      headers: [`Content-Disposition: form-data; name="s${i}.out"; filename="s${i}.out"`],
      value: `${i}`,
    }));
    const { contentType, body } = multipart(parts);
    await expect(parseForm(contentType, body)).rejects.toMatchObject({ status: 413, body: 'Request has too many form parts: at most 1000 files are accepted' });
  });

  it('keeps a long urlencoded field name whole', async () => {
    const name = `power_parameters_${'x'.repeat(200)}`;
    const form = await parseForm('application/x-www-form-urlencoded', Buffer.from(`${name}=1`));
    expect([...form.fields.keys()]).toEqual([name]);
  });
});

describe('parseForm: what a form holds', () => {
  it('keeps every value of a repeated field in order, and files in order with their filenames', async () => {
    const { contentType, body } = multipart([
      { headers: ['Content-Disposition: form-data; name="tag"'], value: 'a' },
      { headers: ['Content-Disposition: form-data; name="b.out"; filename="b.out"'], value: 'B' },
      { headers: ['Content-Disposition: form-data; name="tag"'], value: 'b' },
      { headers: ['Content-Disposition: form-data; name="a.out"; filename="a-file.out"'], value: 'A' },
    ]);
    const form = await parseForm(contentType, body);
    expect(form.fields.get('tag')).toEqual(['a', 'b']);
    expect(field(form, 'tag')).toBe('b');
    expect(field(form, 'missing')).toBeUndefined();
    expect(form.files.map((f) => [f.name, f.filename, f.data.toString()])).toEqual([
      ['b.out', 'b.out', 'B'],
      ['a.out', 'a-file.out', 'A'],
    ]);
  });

  it('reads a urlencoded form whatever the case of its type, with parameters after it', async () => {
    const form = await parseForm('Application/X-WWW-Form-Urlencoded; charset=utf-8', Buffer.from('op=signal&status=OK&name=caf%C3%A9'));
    expect([...form.fields.entries()]).toEqual([
      ['op', ['signal']],
      ['status', ['OK']],
      ['name', ['café']],
    ]);
  });

  it('keeps a file part byte for byte, and a large field whole', async () => {
    const big = 'x'.repeat(300_000);
    const { contentType, body } = multipart([
      { headers: ['Content-Disposition: form-data; name="note"'], value: big },
      { headers: ['Content-Disposition: form-data; name="bin"; filename="bin"'], value: '\u00ff\u0000ab' },
    ]);
    const form = await parseForm(contentType, body);
    expect(form.fields.get('note')).toEqual([big]);
    expect(form.files[0]!.data).toEqual(Buffer.from('\u00ff\u0000ab'));
  });

  it('gives an empty form for no body, no content type, or another content type', async () => {
    const empty = { fields: new Map(), files: [] };
    expect(await parseForm(undefined, Buffer.from('op=signal'))).toEqual(empty);
    expect(await parseForm('application/x-www-form-urlencoded', Buffer.alloc(0))).toEqual(empty);
    expect(await parseForm('application/json', Buffer.from('{"op":"signal"}'))).toEqual(empty);
    expect(await parseForm('text/plain', Buffer.from('op=signal'))).toEqual(empty);
  });

  it('refuses a multipart type without a boundary as malformed', async () => {
    const refused = await parseForm('multipart/form-data', Buffer.from('--x\r\n')).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HttpError);
    expect(refused).toMatchObject({ status: 400, body: expect.stringMatching(/^Malformed form data: .+/) });
  });

  it('refuses a part without a name, field or file, with 400', async () => {
    for (const headers of [['Content-Disposition: form-data'], ['Content-Disposition: form-data; filename="x.out"']]) {
      const { contentType, body } = multipart([{ headers, value: 'v' }]);
      await expect(parseForm(contentType, body)).rejects.toMatchObject({
        status: 400,
        body: 'Malformed form data: a part has no name (Content-Disposition: form-data; name="...")',
      });
    }
  });

  it('refuses a body cut off inside a field part as malformed', async () => {
    const { contentType, body } = multipart([{ headers: ['Content-Disposition: form-data; name="status"'], value: 'WORKING' }]);
    await expect(parseForm(contentType, body.subarray(0, body.length - 40))).rejects.toMatchObject({ status: 400, body: expect.stringMatching(/^Malformed form data: /) });
  });

  it('takes an empty multipart body as an empty form, and a type with a space before its parameters', async () => {
    expect(await parseForm('multipart/form-data; boundary=x', Buffer.alloc(0))).toEqual({ fields: new Map(), files: [] });
    const { contentType, body } = multipart([{ headers: ['Content-Disposition: form-data; name="op"'], value: 'signal' }]);
    expect((await parseForm(contentType.replace(';', ' ;'), body)).fields.get('op')).toEqual(['signal']);
  });

  it('keeps a field given by its name alone, and a UTF-8 file name', async () => {
    expect([...(await parseForm('application/x-www-form-urlencoded', Buffer.from('deployed'))).fields.entries()]).toEqual([['deployed', ['']]]);
    const { contentType, body } = multipart([{ headers: ['Content-Disposition: form-data; name="f"; filename="café.out"'], value: 'x' }]);
    expect((await parseForm(contentType, body)).files[0]!.filename).toBe('café.out');
  });

  it('refuses a nameless file part cut off midway with 400, without bringing the process down', async () => {
    const { contentType, body } = multipart([{ headers: ['Content-Disposition: form-data; filename="x.out"'], value: 'partial' }]);
    await expect(parseForm(contentType, body.subarray(0, body.length - 40))).rejects.toMatchObject({ status: 400 });
    // Let any error left unheard surface (vitest fails the run on one).
    await new Promise<void>((resolve) => setImmediate(resolve));
  });

  it('refuses a body cut off inside a file part as malformed', async () => {
    const { contentType, body } = multipart([{ headers: ['Content-Disposition: form-data; name="a.out"; filename="a.out"'], value: 'partial' }]);
    await expect(parseForm(contentType, body.subarray(0, body.length - 40))).rejects.toMatchObject({ status: 400, body: expect.stringMatching(/^Malformed form data: /) });
  });

  it('refuses a form with more fields than it keeps, naming the limit', async () => {
    const { contentType, body } = multipart(Array.from({ length: 10_001 }, (_, i) => ({ headers: [`Content-Disposition: form-data; name="f${i}"`], value: 'v' })));
    await expect(parseForm(contentType, body)).rejects.toMatchObject({ status: 413, body: 'Request has too many form parts: at most 10000 fields are accepted' });
  });

  it('takes a form at the field limit', async () => {
    const { contentType, body } = multipart(Array.from({ length: 10_000 }, (_, i) => ({ headers: [`Content-Disposition: form-data; name="f${i}"`], value: 'v' })));
    expect((await parseForm(contentType, body)).fields.size).toBe(10_000);
  });
});

const RELAXED: BodyTimeouts = { bodyMs: 60_000, idleMs: 60_000, minBytesPerSecond: 0, rateGraceMs: 60_000 };

/** Waits (polling) until `ready()` holds; a test that never gets there fails on its own timeout. */
async function until(ready: () => boolean): Promise<void> {
  while (!ready()) await new Promise((resolve) => setTimeout(resolve, 5));
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What the server saw of one read: the error it failed with, and whether it left listeners behind. */
interface Outcome {
  error?: Error;
  listenersLeft: boolean;
}

const EVENTS = ['data', 'end', 'error', 'close'] as const;

/**
 * A server whose one route reads the body with the allowance `allow` gives for the request (the
 * caller is the X-Caller header), answering "read N" or the refusal with its status and headers.
 * `before` runs first, for a route that has done something with the request before reading it.
 */
async function bodyServer(allow: (caller: string) => BodyAllowance, before: (request: IncomingMessage) => Promise<void> = async () => {}) {
  const outcomes: Outcome[] = [];
  const server = createServer((request, response) => {
    void before(request).then(() => {
      const listening = EVENTS.map((event) => request.listenerCount(event));
      const left = () => EVENTS.some((event, i) => request.listenerCount(event) !== listening[i]);
      readBody(request, allow(String(request.headers['x-caller'] ?? 'caller'))).then(
        (body) => {
          outcomes.push({ listenersLeft: left() });
          body.release();
          response.end(`read ${body.data.length}`);
        },
        (error: Error) => {
          outcomes.push({ error, listenersLeft: left() });
          if (!(error instanceof HttpError)) return;
          response.writeHead(error.status, { 'Content-Type': error.contentType, ...error.headers });
          response.end(error.body);
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  onTestFinished(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${port}/`, port, outcomes };
}

/** An upload over a raw connection: chunked, sent piece by piece as the test says, answer read to the end. */
class Upload {
  readonly socket: Socket;
  private text = '';
  /** The whole answer, once the server has closed the connection. */
  readonly answer: Promise<string>;
  /** The whole answer (a chunked one, as these servers send), whether or not the connection stays open. */
  readonly answered: Promise<string>;
  constructor(port: number, headers: Record<string, string> = {}) {
    const head = Object.entries({ 'Transfer-Encoding': 'chunked', Connection: 'close', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`);
    this.socket = connect(port, '127.0.0.1');
    this.socket.write(`POST / HTTP/1.1\r\nHost: x\r\n${head.join('')}\r\n`);
    this.answer = new Promise((resolve) => {
      this.socket.on('close', () => resolve(this.text));
      this.socket.on('error', () => {});
    });
    this.answered = new Promise((resolve) => {
      this.socket.on('data', (chunk) => {
        this.text += chunk.toString();
        if (this.text.endsWith('\r\n0\r\n\r\n')) resolve(this.text);
      });
      void this.answer.then(resolve);
    });
  }
  send(bytes: number): void {
    this.socket.write(`${bytes.toString(16)}\r\n${'A'.repeat(bytes)}\r\n`);
  }
  end(): void {
    this.socket.write('0\r\n\r\n');
  }
  /** Sends `bytes` every `everyMs` until the server answers. */
  trickle(bytes: number, everyMs: number): void {
    const timer = setInterval(() => (this.socket.writable ? this.send(bytes) : clearInterval(timer)), everyMs);
    void this.answer.then(() => clearInterval(timer));
    onTestFinished(() => clearInterval(timer));
  }
}

/** Status line, headers (lower-cased names) and body of a raw HTTP answer. */
function parseAnswer(text: string) {
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const [status, ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  if (headers['transfer-encoding'] !== 'chunked') return { status, headers, body };
  // Chunked: size lines and data alternate (the text is ASCII, so characters are bytes).
  let data = '';
  for (let rest = body; ; ) {
    const size = parseInt(rest, 16);
    if (!(size > 0)) break;
    const start = rest.indexOf('\r\n') + 2;
    data += rest.slice(start, start + size);
    rest = rest.slice(start + size + 2);
  }
  return { status, headers, body: data };
}

const post = async (url: string, body: Buffer | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) => {
  const response = await fetch(url, { method: 'POST', body, headers, duplex: 'half' } as RequestInit);
  return [response.status, await response.text(), response.headers.get('retry-after')] as const;
};

const chunks = (...parts: number[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const n of parts) controller.enqueue(new Uint8Array(n).fill(66));
      controller.close();
    },
  });

/** Sends a request head declaring `length` bytes (and no body) and returns the answer's status line. */
const declareOnly = (port: number, length: number, headers: Record<string, string>) =>
  new Promise<string>((resolve, reject) => {
    const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
    const socket = connect(port, '127.0.0.1', () => socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n${head.join('')}\r\n`));
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.includes('\r\n')) {
        socket.destroy();
        resolve(answer.split('\r\n')[0]!);
      }
    });
    socket.on('error', reject);
  });

const BUSY = [503, 'Service Unavailable: other uploads hold the memory for request bodies; retry shortly', '5'] as const;

/** Timeouts long enough that only the test that sets one short meets it (a stuck read still ends). */
const CALM: BodyTimeouts = { bodyMs: 5_000, idleMs: 2_000, minBytesPerSecond: 0, rateGraceMs: 5_000 };

describe('readBody: size limits and the shared budget, over a real connection', () => {
  /** One caller with the whole budget to itself and timeouts no test here reaches. */
  const bodyServerFor = async (limit: number, budget: BodyBudget) =>
    (await bodyServer(() => ({ limit, budget, holder: 'caller', perHolder: budget.max, timeouts: RELAXED }))).url;
  const headOnly = (url: string, length: number) => declareOnly(Number(new URL(url).port), length, {});

  it('answers a declared body over the limit, or over the room left in the budget, before any of it is sent', async () => {
    const budget = new BodyBudget(150);
    const url = await bodyServerFor(100, budget);
    expect(await headOnly(url, 101)).toBe('HTTP/1.1 413 Payload Too Large');
    budget.used = 60;
    expect(await headOnly(url, 91)).toBe('HTTP/1.1 503 Service Unavailable');
  });

  it('reads a body up to the limit exactly, and gives its bytes back to the budget', async () => {
    const budget = new BodyBudget(1000);
    const url = await bodyServerFor(100, budget);
    expect(await post(url, Buffer.alloc(100))).toEqual([200, 'read 100', null]);
    expect(await post(url, chunks(60, 40))).toEqual([200, 'read 100', null]);
    expect(budget.used).toBe(0);
  });

  it('refuses a body declared larger than the limit with 413 naming the limit', async () => {
    const url = await bodyServerFor(100, new BodyBudget(1000));
    expect(await post(url, Buffer.alloc(101))).toEqual([413, 'Request body too large: the limit is 100 bytes', null]);
  });

  it('refuses a chunked body once it grows past the limit, and keeps nothing of it in the budget', async () => {
    const budget = new BodyBudget(1000);
    const url = await bodyServerFor(100, budget);
    expect(await post(url, chunks(60, 41))).toEqual([413, 'Request body too large: the limit is 100 bytes', null]);
    expect(budget.used).toBe(0);
  });

  it('answers 503 with Retry-After when the budget has no room, declared or as the body arrives', async () => {
    const budget = new BodyBudget(150);
    const url = await bodyServerFor(1000, budget);
    const busy = [503, 'Service Unavailable: other uploads hold the memory for request bodies; retry shortly', '5'];
    const typed = await fetch(url, { method: 'POST', body: Buffer.alloc(1000) });
    expect([typed.status, typed.headers.get('content-type')]).toEqual([503, 'text/plain; charset=utf-8']);
    await typed.text();
    budget.used = 100;
    expect(await post(url, Buffer.alloc(51))).toEqual(busy);
    expect(await post(url, Buffer.alloc(50))).toEqual([200, 'read 50', null]);
    expect(await post(url, chunks(30, 21))).toEqual(busy);
    expect(budget.used).toBe(100);
    expect(await post(url, chunks(30, 20))).toEqual([200, 'read 50', null]);
  });
});

describe('readBody: each caller’s share of the budget, over a real connection', () => {
  it('lets a caller hold no more than its share while another caller still can, and forgets a caller holding nothing', async () => {
    const budget = new BodyBudget(1000);
    const { url, port } = await bodyServer((holder) => ({ limit: 500, budget, holder, perHolder: 100, timeouts: CALM }));
    // Caller a has two uploads under way, 30 bytes of each arrived.
    const first = new Upload(port, { 'X-Caller': 'a' });
    const second = new Upload(port, { 'X-Caller': 'a' });
    first.send(30);
    second.send(30);
    await until(() => budget.heldBy('a') === 60);
    const a = { 'X-Caller': 'a' };
    // Declared past its share: refused before any of the body is sent.
    expect(await declareOnly(port, 41, a)).toBe('HTTP/1.1 503 Service Unavailable');
    // Past its share as the body arrives.
    expect(await post(url, chunks(30, 11), a)).toEqual(BUSY);
    // Up to its share exactly, declared or not.
    expect(await post(url, Buffer.alloc(40), a)).toEqual([200, 'read 40', null]);
    expect(await post(url, chunks(40), a)).toEqual([200, 'read 40', null]);
    // Another caller has its own share.
    expect(await post(url, Buffer.alloc(100), { 'X-Caller': 'b' })).toEqual([200, 'read 100', null]);
    expect([budget.used, budget.heldBy('a'), budget.holders]).toEqual([60, 60, 1]);
    // One of a's clients goes away: its bytes come back, the other upload's stay held.
    first.socket.destroy();
    await until(() => budget.used === 30);
    expect([budget.heldBy('a'), budget.holders]).toEqual([30, 1]);
    second.socket.destroy();
    await until(() => budget.used === 0);
    expect([budget.heldBy('a'), budget.holders]).toEqual([0, 0]);
  });

  it('gives back a caller’s bytes when its body is refused as too large, and lets it upload again', async () => {
    const budget = new BodyBudget(1000);
    const { url } = await bodyServer((holder) => ({ limit: 100, budget, holder, perHolder: 100, timeouts: CALM }));
    expect((await post(url, chunks(60, 41), { 'X-Caller': 'a' }))[0]).toBe(413);
    expect([budget.used, budget.heldBy('a'), budget.holders]).toEqual([0, 0, 0]);
    expect(await post(url, chunks(100), { 'X-Caller': 'a' })).toEqual([200, 'read 100', null]);
  });

  it('gives the bytes of a body back once however often release() is called', async () => {
    const budget = new BodyBudget(1000);
    const { url } = await bodyServer((holder) => ({ limit: 100, budget, holder, perHolder: 100, timeouts: CALM }));
    const held = new Upload(Number(new URL(url).port), { 'X-Caller': 'a' });
    held.send(20);
    await until(() => budget.used === 20);
    const server = createServer((request, response) => {
      void readBody(request, { limit: 100, budget, holder: 'a', perHolder: 100, timeouts: CALM }).then((body) => {
        body.release();
        body.release();
        response.end(`${budget.used} ${budget.heldBy('a')}`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { method: 'POST', body: Buffer.alloc(50) });
    expect(await response.text()).toBe('20 20');
    held.socket.destroy();
    await until(() => budget.used === 0);
  });

  it('leaves no listeners on the request once the body is read, refused or cut off', async () => {
    const budget = new BodyBudget(1000);
    const { url, port, outcomes } = await bodyServer((holder) => ({ limit: 100, budget, holder, perHolder: 1000, timeouts: CALM }));
    await post(url, chunks(10, 10));
    await post(url, chunks(60, 41, 30));
    const cut = new Upload(port);
    cut.send(10);
    await until(() => budget.used === 10);
    cut.socket.destroy();
    await until(() => outcomes.length === 3);
    expect(outcomes.map((o) => o.listenersLeft)).toEqual([false, false, false]);
    // Nothing sent after a refusal is counted against the budget.
    expect(budget.used).toBe(0);
  });

  it('fails a read whose client goes away with an error saying so, and gives its bytes back', async () => {
    const budget = new BodyBudget(1000);
    const { port, outcomes } = await bodyServer((holder) => ({ limit: 100, budget, holder, perHolder: 100, timeouts: CALM }));
    const cut = new Upload(port);
    cut.send(25);
    await until(() => budget.used === 25);
    cut.socket.destroy();
    await until(() => outcomes.length === 1);
    expect(outcomes[0]!.error).not.toBeInstanceOf(HttpError);
    expect(outcomes[0]!.error?.message).toBe('the connection closed before the whole body arrived');
    expect(budget.used).toBe(0);
  });

  it('reads a body that had arrived whole before reading began, and an empty one a route had already read', async () => {
    const budget = new BodyBudget(1000);
    const allow = (holder: string): BodyAllowance => ({ limit: 100, budget, holder, perHolder: 100, timeouts: { ...CALM, idleMs: 300 } });
    // The route waits before reading, so the whole body is in by then.
    const waiting = await bodyServer(allow, () => pause(50));
    const whole = new Upload(waiting.port);
    whole.send(5);
    whole.end();
    expect(parseAnswer(await whole.answer).body).toBe('read 5');
    // The route read the body to its end itself first: nothing is left, and nothing is waited for.
    const drained = await bodyServer(allow, async (request) => {
      request.resume();
      await new Promise<void>((resolve) => request.on('end', () => resolve()));
    });
    const read = new Upload(drained.port);
    read.send(5);
    read.end();
    expect(parseAnswer(await read.answer).body).toBe('read 0');
    expect(budget.used).toBe(0);
  });
});

describe('readBody: uploads that stall, trickle or take too long, over a real connection', () => {
  // The uploads ask to keep the connection open: the 408 must close it all the same.
  const answered408 = async (upload: Upload, why: string) => {
    const answer = parseAnswer(await upload.answered);
    expect(answer.status).toBe('HTTP/1.1 408 Request Timeout');
    expect(answer.headers['connection']).toBe('close');
    expect(answer.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(answer.body).toBe(`Request Timeout: ${why}; the connection is closed, send the request again`);
    await upload.answer;
  };
  const KEEP = { Connection: 'keep-alive' };

  it('closes a body that stalls for the idle time with 408, and gives its bytes back', async () => {
    const budget = new BodyBudget(1000);
    const { port } = await bodyServer((holder) => ({ limit: 100, budget, holder, perHolder: 100, timeouts: { ...CALM, idleMs: 150 } }));
    const upload = new Upload(port, KEEP);
    upload.send(10);
    await answered408(upload, 'no data for 0.15 s');
    expect([budget.used, budget.holders]).toEqual([0, 0]);
  });

  it('closes a body still arriving after the body time with 408', async () => {
    const budget = new BodyBudget(100_000);
    const { port } = await bodyServer((holder) => ({ limit: 100_000, budget, holder, perHolder: 100_000, timeouts: { ...CALM, bodyMs: 300 } }));
    const upload = new Upload(port, KEEP);
    upload.trickle(10, 30);
    await answered408(upload, 'the body took longer than 0.3 s');
    expect(budget.used).toBe(0);
  });

  it('closes a body trickling in below the minimum rate once the grace period has passed', async () => {
    const budget = new BodyBudget(100_000);
    const { port } = await bodyServer((holder) => ({
      limit: 100_000,
      budget,
      holder,
      perHolder: 100_000,
      timeouts: { ...CALM, minBytesPerSecond: 1000, rateGraceMs: 300 },
    }));
    const upload = new Upload(port, KEEP);
    upload.trickle(5, 30);
    await answered408(upload, 'the body came slower than 1000 bytes per second');
  });

  it('reads a body that starts slowly but arrives whole within the grace period', async () => {
    const budget = new BodyBudget(100_000);
    const { port } = await bodyServer((holder) => ({ limit: 100_000, budget, holder, perHolder: 100_000, timeouts: { ...CALM, minBytesPerSecond: 1000, rateGraceMs: 600 } }));
    const upload = new Upload(port);
    await pause(250);
    upload.send(2000);
    upload.end();
    expect(parseAnswer(await upload.answer).body).toBe('read 2000');
  });

  it('reads a body that keeps above the minimum rate for longer than the grace period', async () => {
    const budget = new BodyBudget(100_000);
    const { port } = await bodyServer((holder) => ({ limit: 100_000, budget, holder, perHolder: 100_000, timeouts: { ...CALM, minBytesPerSecond: 100, rateGraceMs: 100 } }));
    const upload = new Upload(port);
    for (let i = 0; i < 8; i++) {
      upload.send(50);
      await pause(50);
    }
    upload.end();
    expect(parseAnswer(await upload.answer).body).toBe('read 400');
  });
});

describe('readBody: a body exactly at a time limit, on a controlled clock', () => {
  // The clock and the upload's check timer are the test's to move (the connection itself is real),
  // so a body can be judged exactly at a limit: reaching a limit counts as passing it.
  async function atTheClock(timeouts: Partial<BodyTimeouts>) {
    const budget = new BodyBudget(1000);
    const { port, outcomes } = await bodyServer((holder) => ({ limit: 1000, budget, holder, perHolder: 1000, timeouts: { ...CALM, ...timeouts } }));
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    onTestFinished(() => void vi.useRealTimers());
    const upload = new Upload(port);
    upload.send(10);
    await until(() => budget.used === 10);
    /** Moves the clock on `ms` and says whether the read has ended by then. */
    const after = async (ms: number) => {
      vi.advanceTimersByTime(ms);
      await pause(0);
      return outcomes.length > 0;
    };
    const why = () => (outcomes[0]?.error as HttpError | undefined)?.body;
    return { upload, after, why };
  }

  it('closes a body that has sent nothing for exactly the idle time', async () => {
    const { after, why } = await atTheClock({ idleMs: 100 });
    expect(await after(99)).toBe(false);
    expect(await after(1)).toBe(true);
    expect(why()).toMatch(/^Request Timeout: no data for 0.1 s;/);
  });

  it('closes a body still arriving at exactly the body time', async () => {
    const { upload, after, why } = await atTheClock({ bodyMs: 100 });
    expect(await after(50)).toBe(false);
    upload.send(10);
    await pause(20);
    expect(await after(50)).toBe(true);
    expect(why()).toMatch(/^Request Timeout: the body took longer than 0.1 s;/);
  });

  it('judges the rate as soon as the grace period is over', async () => {
    const { after, why } = await atTheClock({ minBytesPerSecond: 1000, rateGraceMs: 100 });
    expect(await after(99)).toBe(false);
    expect(await after(1)).toBe(true);
    expect(why()).toMatch(/^Request Timeout: the body came slower than 1000 bytes per second;/);
  });

  it('reads a body arriving at exactly the minimum rate', async () => {
    // 10 bytes in 100 ms is 100 bytes per second.
    const { upload, after } = await atTheClock({ minBytesPerSecond: 100, rateGraceMs: 100 });
    expect(await after(100)).toBe(false);
    upload.end();
    expect(parseAnswer(await upload.answered).body).toBe('read 10');
  });
});
