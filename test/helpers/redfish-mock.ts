// A read-only Redfish service for tests: serves one of DMTF's mockups from test/fixtures/redfish
// (short form: the mockup folder is /redfish/v1/) on 127.0.0.1, as DMTF's mockup server does.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { REDFISH_MOCKUPS } from './fixtures.js';

export type RedfishMockup = 'public-rackmount1' | 'public-tower' | 'public-localstorage';

export { REDFISH_MOCKUPS };

/** The mockup file behind a URL path, or undefined when the path is outside /redfish/v1. */
function fileFor(root: string, pathname: string): { file: string; type: string } | undefined {
  const segments = pathname.split('/').filter(Boolean).map((s) => decodeURIComponent(s));
  if (segments[0] !== 'redfish' || segments[1] !== 'v1') return undefined;
  const rest = segments.slice(2);
  // No way out of the mockup folder.
  if (rest.some((s) => s === '..' || s === '.' || s.includes('/') || s.includes('\\'))) return undefined;
  if (rest.length === 1 && rest[0] === '$metadata') return { file: join(root, '$metadata', 'index.xml'), type: 'application/xml' };
  return { file: join(root, ...rest, 'index.json'), type: 'application/json' };
}

/**
 * Serves `mockup` on 127.0.0.1, a free port. With user/password, every request needs that Basic
 * auth (401 otherwise). `requests` lists the paths asked for, in order.
 */
export async function startRedfishMock(
  mockup: RedfishMockup,
  options: { user?: string; password?: string } = {},
): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const root = join(REDFISH_MOCKUPS, mockup);
  const requests: string[] = [];
  const expected = options.user !== undefined || options.password !== undefined
    ? `Basic ${Buffer.from(`${options.user ?? ''}:${options.password ?? ''}`).toString('base64')}`
    : undefined;
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) => ({ status, body: `${JSON.stringify(body)}\n`, type: 'application/json', headers });
  const redfishError = (status: number, message: string) =>
    json(status, { error: { code: 'Base.1.0.GeneralError', message } }, status === 401 ? { 'WWW-Authenticate': 'Basic realm="redfish"' } : {});

  const server = createServer((req, res) => {
    void (async () => {
      const pathname = new URL(req.url ?? '/', 'http://mock').pathname;
      requests.push(pathname);
      let answer: { status: number; body: string; type: string; headers: Record<string, string> };
      if (req.method !== 'GET' && req.method !== 'HEAD') answer = redfishError(405, 'this mock is read-only');
      else if (expected !== undefined && req.headers.authorization !== expected) answer = redfishError(401, 'authentication required');
      else if (pathname.replace(/\/+$/, '') === '/redfish') answer = json(200, { v1: '/redfish/v1/' });
      else {
        const target = fileFor(root, pathname);
        let body: string | undefined;
        try {
          body = target ? await readFile(target.file, 'utf8') : undefined;
        } catch {
          body = undefined;
        }
        answer = body === undefined || !target ? redfishError(404, `no resource at ${pathname}`) : { status: 200, body, type: target.type, headers: {} };
      }
      res.writeHead(answer.status, { 'Content-Type': answer.type, 'OData-Version': '4.0', ...answer.headers });
      res.end(req.method === 'HEAD' ? undefined : answer.body);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
