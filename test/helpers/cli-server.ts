// The bundled server a CLI test file runs its commands against: listening on 127.0.0.1 (port 0),
// with a client holding its admin key and a scratch directory for creds files and state.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCredentials } from '../../src/maas/api-key.js';
import { MaasClient } from '../../src/maas/client.js';
import { startMaasServer, type RunningServer } from '../../src/server/server.js';

export interface CliServer {
  server: RunningServer;
  admin: MaasClient;
  /** A fresh directory under the system's temporary directory, named after `prefix`. */
  work: string;
}

/** Starts the server and makes the scratch directory (a test file's beforeAll). */
export async function startCliServer(prefix: string): Promise<CliServer> {
  const server = await startMaasServer({ port: 0 });
  const admin = new MaasClient({ baseUrl: server.url, credentials: parseCredentials(server.adminKey, 'admin key') });
  return { server, admin, work: await mkdtemp(join(tmpdir(), prefix)) };
}

/** Stops what startCliServer started (a test file's afterAll); either may be missing when it failed. */
export async function stopCliServer(server: RunningServer | undefined, work: string | undefined): Promise<void> {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
}
