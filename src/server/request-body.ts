// Reads a request body whole (up to a limit) and parses multipart or urlencoded forms with
// busboy, classifying parts as Django does: a part with a filename is a file, else a field.
import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { HttpError } from './http-error.js';

/** One uploaded file part. */
export interface UploadedFile {
  name: string;
  filename: string;
  data: Buffer;
}

/** A parsed form: every value of each field (in order) and the file parts (in order). */
export interface ParsedForm {
  fields: Map<string, string[]>;
  files: UploadedFile[];
}

/** The last value of a field, as Django's QueryDict.get gives it. */
export function field(form: ParsedForm, name: string): string | undefined {
  const values = form.fields.get(name);
  return values?.[values.length - 1];
}

// How many fields, files and parts a form may have (a signal has a few of each).
const PART_LIMITS = { fields: 10_000, files: 1_000, parts: 11_000 } as const;

/**
 * Bytes of request bodies the server holds in memory at once, across all requests, and how many
 * of them each caller (a token key) holds, so one caller cannot take the whole budget.
 */
export class BodyBudget {
  used = 0;
  private readonly byHolder = new Map<string, number>();
  constructor(readonly max: number) {}

  /** Bytes `holder` holds now. */
  heldBy(holder: string): number {
    return this.byHolder.get(holder) ?? 0;
  }

  /** How many callers hold bytes now (a caller holding none is forgotten). */
  get holders(): number {
    return this.byHolder.size;
  }

  take(holder: string, bytes: number): void {
    this.used += bytes;
    this.byHolder.set(holder, this.heldBy(holder) + bytes);
  }

  give(holder: string, bytes: number): void {
    this.used -= bytes;
    const left = this.heldBy(holder) - bytes;
    if (left > 0) this.byHolder.set(holder, left);
    else this.byHolder.delete(holder);
  }
}

/** How long a body may take and how slowly it may arrive (milliseconds, bytes per second). */
export interface BodyTimeouts {
  /** The whole body must have arrived this long after the headers. */
  bodyMs: number;
  /** No byte of the body for this long closes the request. */
  idleMs: number;
  /** After `rateGraceMs`, the body must have come at least this fast on average. */
  minBytesPerSecond: number;
  rateGraceMs: number;
}

/** What one request may read: its cap, the budget it draws on, and who it is charged to. */
export interface BodyAllowance {
  limit: number;
  budget: BodyBudget;
  /** The caller charged (a token key); it may hold at most `perHolder` bytes at once. */
  holder: string;
  perHolder: number;
  timeouts: BodyTimeouts;
}

/** A body read whole; `release()` gives its bytes back to the budget (once). */
export interface ReadBody {
  data: Buffer;
  release(): void;
}

/**
 * Reads the whole body: 413 past `limit` bytes (declared or actual); 503 with Retry-After when
 * the budget, or the caller's share of it, has no room; 408 when the body stalls, trickles in
 * below the minimum rate or takes longer than allowed (the connection is then closed). On any
 * failure, and when the client goes away, the bytes read so far go back to the budget at once.
 */
export function readBody(request: IncomingMessage, allowance: BodyAllowance): Promise<ReadBody> {
  const { limit, budget, holder, perHolder, timeouts } = allowance;
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  if (budget.used + declared > budget.max || budget.heldBy(holder) + declared > perHolder) return Promise.reject(busy());
  if (request.complete && request.readableEnded) return Promise.resolve({ data: Buffer.alloc(0), release() {} });
  return new Promise<ReadBody>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const started = Date.now();
    let lastData = started;
    const release = () => {
      // Stryker disable next-line ConditionalExpression,EqualityOperator: giving back 0 bytes changes neither the total nor any caller's share
      if (size > 0) budget.give(holder, size);
      size = 0;
    };
    const finish = (error: Error | undefined) => {
      // The listeners go and the timer stops below, so nothing calls this a second time; the flag
      // only guards against a future change that would.
      // Stryker disable next-line ConditionalExpression: see above
      if (settled) return;
      // Stryker disable next-line BooleanLiteral: see above
      settled = true;
      clearInterval(timer);
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onClose);
      request.off('close', onClose);
      if (error) {
        release();
        chunks.length = 0;
        // The rest of the body is not wanted: do not buffer it while the answer goes out.
        request.resume();
        reject(error);
      } else {
        let given = false;
        resolve({
          // Stryker disable next-line ConditionalExpression: concatenating one chunk gives the same bytes (the shortcut only saves a copy)
          data: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
          release() {
            // Stryker disable next-line ConditionalExpression: release() itself gives nothing back a second time (it zeroes size); this keeps that true if it changes
            if (!given) release();
            // Stryker disable next-line BooleanLiteral: see above
            given = true;
          },
        });
      }
    };
    const onData = (chunk: Buffer) => {
      if (size + chunk.length > limit) return finish(tooLarge(limit));
      if (budget.used + chunk.length > budget.max || budget.heldBy(holder) + chunk.length > perHolder) return finish(busy());
      size += chunk.length;
      budget.take(holder, chunk.length);
      chunks.push(chunk);
      lastData = Date.now();
    };
    const onEnd = () => finish(undefined);
    // Not an HttpError: nobody is left to answer; the server logs it as a closed connection.
    const onClose = () => finish(new Error('the connection closed before the whole body arrived'));
    // One timer per upload checks all three rules; its period is a fraction of the shortest.
    // Stryker disable next-line MethodExpression: a shorter period only costs more wake-ups; each rule is still judged on the clock
    const period = Math.max(5, Math.min(1000, Math.min(timeouts.idleMs, timeouts.bodyMs, timeouts.rateGraceMs) / 4));
    const timer = setInterval(() => {
      const now = Date.now();
      const elapsed = now - started;
      if (now - lastData >= timeouts.idleMs) return finish(timedOut(`no data for ${seconds(timeouts.idleMs)}`));
      if (elapsed >= timeouts.bodyMs) return finish(timedOut(`the body took longer than ${seconds(timeouts.bodyMs)}`));
      if (elapsed >= timeouts.rateGraceMs && (size * 1000) / elapsed < timeouts.minBytesPerSecond) {
        return finish(timedOut(`the body came slower than ${timeouts.minBytesPerSecond} bytes per second`));
      }
    }, period);
    request.on('data', onData);
    request.on('end', onEnd);
    // A request that fails or is cut off emits 'close' after any 'error' (Node emits 'error' only when
    // someone listens), so either listener alone settles the read; both are kept.
    // Stryker disable next-line StringLiteral: see above
    request.on('error', onClose);
    // Stryker disable next-line StringLiteral: see above
    request.on('close', onClose);
  });
}

function seconds(ms: number): string {
  return `${ms / 1000} s`;
}

function timedOut(why: string): HttpError {
  return new HttpError(408, `Request Timeout: ${why}; the connection is closed, send the request again`, 'text/plain; charset=utf-8', { Connection: 'close' });
}

function busy(): HttpError {
  return new HttpError(503, 'Service Unavailable: other uploads hold the memory for request bodies; retry shortly', 'text/plain; charset=utf-8', {
    'Retry-After': '5',
  });
}

/** Parses `body` by its Content-Type; a body of another type gives an empty form. */
export async function parseForm(contentType: string | undefined, body: Buffer): Promise<ParsedForm> {
  const form: ParsedForm = { fields: new Map(), files: [] };
  if (!contentType || body.length === 0) return form;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type !== 'multipart/form-data' && type !== 'application/x-www-form-urlencoded') return form;
  await new Promise<void>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: { 'content-type': contentType },
        // No name, value or file can be longer than the body holding it: only the part counts are limited.
        limits: {
          fieldNameSize: body.length + 1,
          // Stryker disable next-line ArithmeticOperator: a value is always shorter than the body minus its name and "=" or its part's boundary and headers
          fieldSize: body.length + 1,
          // Stryker disable next-line ArithmeticOperator: a file is always shorter than the body minus its part's boundary and headers
          fileSize: body.length + 1,
          ...PART_LIMITS,
        },
        defParamCharset: 'utf8',
      });
    } catch (error) {
      reject(malformed(error));
      return;
    }
    // Every part must say what it is: a part without name= in its Content-Disposition cannot be
    // a field or a result file of anything.
    const unnamed = () => reject(new HttpError(400, 'Malformed form data: a part has no name (Content-Disposition: form-data; name="...")'));
    const addField = (name: string | undefined, value: string) => {
      if (name === undefined) return unnamed();
      const values = form.fields.get(name) ?? [];
      values.push(value);
      form.fields.set(name, values);
    };
    parser.on('field', addField);
    // busboy also calls a part labelled application/octet-stream a file; Django (and so MAAS)
    // goes by the filename alone, so such a part without one is a field.
    parser.on('file', (name: string | undefined, stream, info) => {
      if (name === undefined) {
        // A body cut off inside this part makes busboy emit 'error' on the part's stream; without
        // a listener that error would be thrown out of the event loop and end the process.
        // Stryker disable next-line ArrowFunction: unnamed() below has already refused the form; the listener must be there all the same
        stream.on('error', (error) => reject(malformed(error)));
        stream.resume();
        unnamed();
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      // Stryker disable next-line ArrowFunction: the parser reports the same error, which rejects below; a listener must be there all the same
      stream.on('error', (error) => reject(malformed(error)));
      stream.on('end', () => {
        const data = Buffer.concat(chunks);
        if (info.filename === undefined) addField(name, data.toString('utf8'));
        else form.files.push({ name, filename: info.filename, data });
      });
    });
    // Past a count limit busboy skips the remaining parts; the form would be stored in part.
    for (const [event, count] of [['fieldsLimit', PART_LIMITS.fields], ['filesLimit', PART_LIMITS.files], ['partsLimit', PART_LIMITS.parts]] as const) {
      parser.on(event, () => reject(new HttpError(413, `Request has too many form parts: at most ${count} ${event.replace('Limit', '')} are accepted`)));
    }
    parser.on('error', (error) => reject(malformed(error)));
    parser.on('close', () => resolve());
    parser.end(body);
  });
  return form;
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, `Request body too large: the limit is ${limit} bytes`);
}

function malformed(error: unknown): HttpError {
  const detail = error instanceof Error ? error.message : String(error);
  return new HttpError(400, `Malformed form data: ${detail}`);
}
