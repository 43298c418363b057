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

/** Bytes of request bodies the server holds in memory at once, across all requests. */
export class BodyBudget {
  used = 0;
  constructor(readonly max: number) {}
}

/**
 * Reads the whole body; 413 past `limit` bytes (declared or actual), 503 when `budget` has no
 * room left for it. The caller gives the body's bytes back to `budget` once it is done with it.
 */
export async function readBody(request: IncomingMessage, limit: number, budget: BodyBudget): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limit) throw tooLarge(limit);
  if (budget.used + declared > budget.max) throw busy();
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of request as AsyncIterable<Buffer>) {
      if (size + chunk.length > limit) throw tooLarge(limit);
      if (budget.used + chunk.length > budget.max) throw busy();
      size += chunk.length;
      budget.used += chunk.length;
      chunks.push(chunk);
    }
  } catch (error) {
    budget.used -= size;
    throw error;
  }
  return Buffer.concat(chunks);
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
