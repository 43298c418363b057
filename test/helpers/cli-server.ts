// The bundled server a CLI test file runs its commands against: listening on 127.0.0.1 (port 0),
// with a client holding its admin key and a scratch directory for creds files and state.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCredentials } from '../../src/maas/api-key.js';
import { MaasClient } from '../../src/maas/client.js';
import { credsYaml } from '../../src/maas/credentials.js';
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

/** Retries short enough that a test of MAAS failing takes seconds, not the default minute and a half. */
export const FAST_RETRIES = { MAAS_RUN_SCRIPTS_ATTEMPTS: '3', MAAS_RUN_SCRIPTS_RETRY_DELAY: '0.05', MAAS_RUN_SCRIPTS_RETRY_TOTAL: '10', MAAS_RUN_SCRIPTS_TIMEOUT: '10' };

/** A machine of the server, its creds file and a state directory for its reports. */
export interface DeployedMachine {
  systemId: string;
  creds: string;
  stateDir: string;
}

let machines = 0;

/**
 * A machine registered as Deployed through `admin`, with a creds file in `work` whose endpoint
 * names `baseUrl` (the server's own URL, or a proxy's in front of it).
 */
export async function deployedMachine(admin: MaasClient, work: string, baseUrl: string): Promise<DeployedMachine> {
  const hostname = `machine-${++machines}`;
  const machine = await admin.createMachine({ hostname, deployed: 'true' });
  const token = (await admin.getMachineToken(machine.system_id))!;
  const creds = join(work, `${hostname}-creds.yaml`);
  const endpoint = `${baseUrl}/metadata/status/${machine.system_id}`;
  await writeFile(creds, credsYaml({ consumer_key: token.consumer_key, endpoint, token_key: token.token_key, token_secret: token.token_secret }), { mode: 0o600 });
  return { systemId: machine.system_id, creds, stateDir: join(work, `${hostname}-state`) };
}
