// The Redfish client against a served DMTF mockup and against servers that misbehave: every
// failure is one CliError line naming the problem and the fix, and never the password.
import { execa } from 'execa';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFile } from 'node:fs/promises';
import { createServer as createNetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError } from '../../src/errors.js';
import { RedfishClient, RedfishHttpError, parseJsonExact } from '../../src/redfish/client.js';
import { startRedfishMock } from '../helpers/redfish-mock.js';
import { removeTree, tempDir } from '../helpers/trees.js';

const USER = 'operator';
const PASSWORD = 'pa55-s3cret-value';

async function failure(run: () => Promise<unknown>): Promise<CliError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    const message = (error as Error).message;
    expect(message).not.toContain(PASSWORD);
    expect(message).not.toContain('\n');
    return error as CliError;
  }
  throw new Error('expected a CliError');
}

function listen(server: Server | ReturnType<typeof createNetServer>): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

describe('RedfishClient against a mockup', () => {
  let bmc: Awaited<ReturnType<typeof startRedfishMock>>;
  beforeAll(async () => {
    bmc = await startRedfishMock('public-tower', { user: USER, password: PASSWORD });
  });
  afterAll(() => bmc.close());
  const client = () => new RedfishClient({ url: bmc.url, user: USER, password: PASSWORD });

  it('reads the service root with Basic auth', async () => {
    const root = await client().get('/redfish/v1/');
    expect(root.RedfishVersion).toBe('1.15.0');
    expect(root.UUID).toBe('6915e2f4-e3bc-443d-9bcd-a0f9648a8bf6');
  });

  it('drops the #fragment of a link before asking', async () => {
    const before = bmc.requests.length;
    const storage = await client().get('/redfish/v1/Systems/437XR1238R2/Storage/RAIDIntegrated#/StorageControllers/0');
    expect(storage.Id).toBe('RAIDIntegrated');
    expect(bmc.requests.slice(before)).toEqual(['/redfish/v1/Systems/437XR1238R2/Storage/RAIDIntegrated']);
  });

  it('keeps capacities beyond 2^53 exact', async () => {
    const drive = await client().get('/redfish/v1/Chassis/Tower/Drives/Disk-1-0');
    expect(drive.CapacityBytes).toBe(20266198323167230n);
    expect(drive.NegotiatedSpeedGbs).toBe(12);
  });

  it('names the user and the password file when the password is wrong, without the password', async () => {
    const error = await failure(() => new RedfishClient({ url: bmc.url, user: USER, password: `${PASSWORD}x` }).get('/redfish/v1/Systems'));
    expect(error.message).toMatch(/HTTP 401/);
    expect(error.message).toMatch(/check --bmc-user and the password file/);
    expect(error.message).not.toContain(`${PASSWORD}x`);
  });

  it('is refused without credentials too', async () => {
    const error = await failure(() => new RedfishClient({ url: bmc.url }).get('/redfish/v1/Systems'));
    expect(error).toBeInstanceOf(RedfishHttpError);
    expect((error as RedfishHttpError).status).toBe(401);
  });

  it('names a path the BMC does not have', async () => {
    const error = await failure(() => client().get('/redfish/v1/Systems/nope'));
    expect((error as RedfishHttpError).status).toBe(404);
    expect(error.message).toContain('/redfish/v1/Systems/nope');
  });

  it('asks whether the URL is a Redfish service when the answer is not JSON', async () => {
    const local = await startRedfishMock('public-rackmount1');
    try {
      const error = await failure(() => new RedfishClient({ url: local.url }).get('/redfish/v1/$metadata'));
      expect(error.message).toContain(`is ${local.url} a Redfish service?`);
    } finally {
      await local.close();
    }
  });

  it('never shows credentials given inside the URL', async () => {
    const url = bmc.url.replace('http://', `http://${USER}:${PASSWORD}@`);
    expect((await new RedfishClient({ url }).get('/redfish/v1/')).RedfishVersion).toBe('1.15.0');
    await failure(() => new RedfishClient({ url }).get('/redfish/v1/Missing'));
  });
});

describe('RedfishClient when the BMC cannot be used', () => {
  it('names host and port of a BMC that refuses connections', async () => {
    const server = createNetServer();
    const port = await listen(server);
    await new Promise((resolve) => server.close(resolve));
    const error = await failure(() => new RedfishClient({ url: `http://127.0.0.1:${port}`, user: USER, password: PASSWORD }).get('/redfish/v1/'));
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toMatch(/cannot reach the BMC .*ECONNREFUSED.*check --bmc/);
  });

  it('gives up on a BMC that never answers', async () => {
    const sockets: Socket[] = [];
    const server = createNetServer((socket) => sockets.push(socket));
    const port = await listen(server);
    try {
      const error = await failure(() => new RedfishClient({ url: `http://127.0.0.1:${port}`, user: USER, password: PASSWORD, timeoutMs: 150 }).get('/redfish/v1/'));
      expect(error.message).toContain(`127.0.0.1:${port} did not answer /redfish/v1/`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('follows a redirect on the same host but not one to another host', async () => {
    let port = 0;
    const server = createHttpServer((req, res) => {
      if (req.url === '/redfish/v1/Moved') res.writeHead(301, { Location: '/redfish/v1/Here' }).end();
      else if (req.url === '/redfish/v1/Away') res.writeHead(302, { Location: `http://127.0.0.2:${port}/redfish/v1/Here` }).end();
      else res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ seen: req.headers.authorization !== undefined }));
    });
    port = await listen(server);
    try {
      const client = new RedfishClient({ url: `http://127.0.0.1:${port}`, user: USER, password: PASSWORD });
      expect(await client.get('/redfish/v1/Moved')).toEqual({ seen: true });
      const error = await failure(() => client.get('/redfish/v1/Away'));
      expect(error.message).toContain(`to http://127.0.0.2:${port}, which is not followed`);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('rejects a self-signed certificate unless told to accept it', async (context) => {
    const dir = await tempDir('mrs-redfish-tls-');
    try {
      const made = await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-days', '2', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { reject: false });
      if (made.failed) context.skip('openssl is not installed');
      const [key, cert] = await Promise.all([readFile(join(dir, 'key.pem')), readFile(join(dir, 'cert.pem'))]);
      const server = createHttpsServer({ key, cert }, (_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"RedfishVersion":"1.0.0"}'));
      const port = await listen(server);
      try {
        const url = `https://127.0.0.1:${port}`;
        const error = await failure(() => new RedfishClient({ url, user: USER, password: PASSWORD }).get('/redfish/v1/'));
        expect(error.message).toMatch(/pass --bmc-insecure to accept a self-signed certificate/);
        expect(await new RedfishClient({ url, user: USER, password: PASSWORD, insecure: true }).get('/redfish/v1/')).toEqual({ RedfishVersion: '1.0.0' });
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    } finally {
      await removeTree(dir);
    }
  });

  it('refuses a URL that is not http or https', async () => {
    expect(() => new RedfishClient({ url: 'ftp://10.0.0.5' })).toThrow(/must start with https:\/\/ or http:\/\//);
  });
});

describe('parseJsonExact', () => {
  it('keeps safe numbers as numbers and big integers as bigints, inside strings untouched', () => {
    expect(parseJsonExact('{"a": 12, "b": -1.5e3, "c": 23058430092136940000, "d": "23058430092136940000", "e": ["\\"", 9007199254740993]}')).toEqual({
      a: 12,
      b: -1500,
      c: 23058430092136940000n,
      d: '23058430092136940000',
      e: ['"', 9007199254740993n],
    });
  });

  it('still rejects text that is not JSON', () => {
    expect(() => parseJsonExact('<html>12345678901234567890</html>')).toThrow();
  });
});
