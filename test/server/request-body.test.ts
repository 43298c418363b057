// Form parsing as Django does it (docs/protocol.md §2.7): a part is a file exactly when it has a
// filename; part content types are ignored.
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { HttpError } from '../../src/server/http-error.js';
import { BodyBudget, field, parseForm, readBody } from '../../src/server/request-body.js';

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

const RELAXED = { bodyMs: 60_000, idleMs: 60_000, minBytesPerSecond: 0, rateGraceMs: 60_000 };

describe('readBody: size limits and the shared budget, over a real connection', () => {
  /** A server whose one route reads the body with `limit` and `budget`, answering its size or the refusal. */
  async function bodyServer(limit: number, budget: BodyBudget) {
    const server = createServer((request, response) => {
      // One caller with the whole budget to itself and timeouts no test reaches: the per-caller
      // share and the timeouts have their own tests (request-limits.test.ts).
      readBody(request, { limit, budget, holder: 'caller', perHolder: budget.max, timeouts: RELAXED }).then(
        (body) => {
          body.release();
          response.end(`read ${body.data.length}`);
        },
        (error: HttpError) => {
          response.writeHead(error.status, { 'Content-Type': error.contentType, ...error.headers });
          response.end(error.body);
          request.resume();
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return url;
  }
  const post = async (url: string, body: Buffer | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) => {
    const response = await fetch(url, { method: 'POST', body, headers, duplex: 'half' } as RequestInit);
    return [response.status, await response.text(), response.headers.get('retry-after')] as const;
  };
  /** A body sent in chunks without a Content-Length (chunked transfer encoding). */
  const chunked = (...parts: number[]) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (const n of parts) controller.enqueue(new Uint8Array(n).fill(65));
        controller.close();
      },
    });

  /** Sends only a request head declaring `length` bytes (no body follows) and returns the status line of the answer. */
  const headOnly = (url: string, length: number) =>
    new Promise<string>((resolve, reject) => {
      const { port } = new URL(url);
      const socket = connect(Number(port), '127.0.0.1', () => socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n`));
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

  it('answers a declared body over the limit, or over the room left in the budget, before any of it is sent', async () => {
    const budget = new BodyBudget(150);
    const url = await bodyServer(100, budget);
    expect(await headOnly(url, 101)).toBe('HTTP/1.1 413 Payload Too Large');
    budget.used = 60;
    expect(await headOnly(url, 91)).toBe('HTTP/1.1 503 Service Unavailable');
  });

  it('reads a body up to the limit exactly, and gives its bytes back to the budget', async () => {
    const budget = new BodyBudget(1000);
    const url = await bodyServer(100, budget);
    expect(await post(url, Buffer.alloc(100))).toEqual([200, 'read 100', null]);
    expect(await post(url, chunked(60, 40))).toEqual([200, 'read 100', null]);
    expect(budget.used).toBe(0);
  });

  it('refuses a body declared larger than the limit with 413 naming the limit', async () => {
    const url = await bodyServer(100, new BodyBudget(1000));
    expect(await post(url, Buffer.alloc(101))).toEqual([413, 'Request body too large: the limit is 100 bytes', null]);
  });

  it('refuses a chunked body once it grows past the limit, and keeps nothing of it in the budget', async () => {
    const budget = new BodyBudget(1000);
    const url = await bodyServer(100, budget);
    expect(await post(url, chunked(60, 41))).toEqual([413, 'Request body too large: the limit is 100 bytes', null]);
    expect(budget.used).toBe(0);
  });

  it('answers 503 with Retry-After when the budget has no room, declared or as the body arrives', async () => {
    const budget = new BodyBudget(150);
    const url = await bodyServer(1000, budget);
    const busy = [503, 'Service Unavailable: other uploads hold the memory for request bodies; retry shortly', '5'];
    const typed = await fetch(url, { method: 'POST', body: Buffer.alloc(1000) });
    expect([typed.status, typed.headers.get('content-type')]).toEqual([503, 'text/plain; charset=utf-8']);
    await typed.text();
    budget.used = 100;
    expect(await post(url, Buffer.alloc(51))).toEqual(busy);
    expect(await post(url, Buffer.alloc(50))).toEqual([200, 'read 50', null]);
    expect(await post(url, chunked(30, 21))).toEqual(busy);
    expect(budget.used).toBe(100);
    expect(await post(url, chunked(30, 20))).toEqual([200, 'read 50', null]);
  });
});
