// Form parsing as Django does it (docs/protocol.md §2.7): a part is a file exactly when it has a
// filename; part content types are ignored.
import { describe, expect, it } from 'vitest';
import { parseForm } from '../../src/server/request-body.js';

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
    await expect(parseForm(contentType, body)).rejects.toMatchObject({ status: 413 });
  });

  it('keeps a long urlencoded field name whole', async () => {
    const name = `power_parameters_${'x'.repeat(200)}`;
    const form = await parseForm('application/x-www-form-urlencoded', Buffer.from(`${name}=1`));
    expect([...form.fields.keys()]).toEqual([name]);
  });
});
