// register-machine: bring this host under MAAS as a Deployed machine, idempotently, and write its
// machine credentials to <name>-creds.yaml (docs/design.md D3, D4; docs/protocol.md §1.3).
import { join } from 'node:path';
import { CliError, MaasApiError, UsageError } from '../../errors.js';
import { createHost, type Host } from '../../host/host.js';
import { debianArchitecture, physicalMacs } from '../../../collectors/identity.js';
import { MaasClient, type ClientDeps } from '../../maas/client.js';
import { assertWritableDir, credsYaml, readCredsFile, writeFileAtomic } from '../../maas/credentials.js';
import { backoffDelayMs, isRetryable, retryPolicyFromEnv } from '../../maas/http.js';
import type { Credentials, MachineJson } from '../../maas/types.js';

export interface RegisterOptions {
  /** MAAS base URL including /MAAS (trailing slashes are stripped). */
  maasUrl: string;
  adminCredentials: Credentials;
  /** Name for a new machine; default: this host's name up to the first dot. */
  hostname?: string;
  /** Directory for the creds file (default: the current directory). */
  dir?: string;
}

export interface RegisterDeps {
  client?: ClientDeps;
  /** Where NICs, architecture and the host name are read (default: this machine). */
  host?: Host;
  /** The machine's identity when it is not this host (read from its BMC): replaces `host`. */
  identity?: { hostname: string; macs: string[]; architecture?: string };
  /** Progress lines for the user (default: stdout). */
  print?: (line: string) => void;
  /** Warnings (default: stderr). */
  warn?: (line: string) => void;
}

/** How an existing machine was recognised (docs/design.md D3). */
export type MatchedBy = 'creds-file' | 'mac' | 'hostname';

export interface RegisterResult {
  systemId: string;
  /** The machine's name in MAAS (kept when the host was renamed since). */
  hostname: string;
  created: boolean;
  matchedBy?: MatchedBy;
  credsPath: string;
  credentials: Credentials;
  /** The creds file's endpoint: <MAAS_URL>/metadata/status/<system_id>. */
  endpoint: string;
}

interface Found {
  machine: MachineJson;
  matchedBy: MatchedBy;
  credsPath?: string;
}

/**
 * Registers this host (docs/design.md D3, D4): reuse the machine of a valid existing creds file,
 * else one listed with this host's physical MACs, else one with its hostname, else create one
 * (hostname, deployed=true, architecture, mac_addresses). Then fetch its token and write the creds
 * file.
 */
export async function registerMachine(options: RegisterOptions, deps: RegisterDeps = {}): Promise<RegisterResult> {
  const print = deps.print ?? ((line) => process.stdout.write(`${line}\n`));
  const warn = deps.warn ?? ((line) => process.stderr.write(`${line}\n`));
  const host = deps.host ?? createHost();
  const dir = options.dir ?? '.';
  const client = new MaasClient({ baseUrl: options.maasUrl, credentials: options.adminCredentials }, { log: warn, ...deps.client });

  const uname = deps.identity ? undefined : await host.uname();
  const hostname = options.hostname ?? (deps.identity?.hostname ?? uname?.nodename ?? '').split('.')[0] ?? '';
  if (!hostname) throw new UsageError('cannot tell the machine\'s name; pass --hostname NAME');
  // Checked before any request so that a bad DIR never leaves a machine without a creds file.
  await assertWritableDir(dir, 'DIR');
  const macs = deps.identity ? deps.identity.macs : await physicalMacs(host);
  const arch = deps.identity ? deps.identity.architecture : debianArchitecture(uname!.machine);

  const ownPath = join(dir, `${hostname}-creds.yaml`);
  let found = (await fromCredsFile(client, ownPath, warn)) ?? (await lookUp(client, macs, hostname, warn));
  let created = false;
  if (!found) {
    const outcome = await create(client, { hostname, macs, arch }, deps, warn);
    created = outcome.created;
    found = outcome.found;
  }
  const { machine, matchedBy } = found;
  const name = machine.hostname || hostname;
  if (created) {
    print(`Machine ${name} created with system ID: ${machine.system_id}`);
  } else {
    const subject = deps.identity ? 'the machine' : 'this host';
    const how = matchedBy === 'creds-file' ? `its creds file ${found.credsPath}` : matchedBy === 'mac' ? `${subject}'s MAC address` : 'its hostname';
    print(`Machine ${name} already registered with system ID: ${machine.system_id} (found by ${how})`);
    if (name !== hostname) print(`It keeps its MAAS name ${name} (${deps.identity ? 'its BMC now calls it' : 'this host is now called'} ${hostname}).`);
  }

  const token = await client.getMachineToken(machine.system_id);
  if (!token) {
    throw new CliError(
      `Getting machine credentials failed: MAAS has no token for machine ${machine.system_id} (was it released?); deploy it again or remove it in MAAS, then re-run register-machine`,
    );
  }
  const endpoint = `${client.baseUrl}/metadata/status/${machine.system_id}`;
  const credsPath = found.credsPath ?? join(dir, `${name}-creds.yaml`);
  await writeFileAtomic(
    credsPath,
    credsYaml({ consumer_key: token.consumer_key, endpoint, token_key: token.token_key, token_secret: token.token_secret }),
  );
  print(`Machine token written to ${credsPath}`);
  return {
    systemId: machine.system_id,
    hostname: name,
    created,
    ...(created ? {} : { matchedBy }),
    credsPath,
    credentials: { consumerKey: token.consumer_key, tokenKey: token.token_key, tokenSecret: token.token_secret, consumerSecret: '' },
    endpoint,
  };
}

// A creds file counts when it parses, points at this MAAS, and names a machine MAAS still has.
async function fromCredsFile(client: MaasClient, path: string, warn: (line: string) => void): Promise<Found | undefined> {
  let endpoint: string;
  try {
    ({ endpoint } = await readCredsFile(path));
  } catch (error) {
    if (!(error instanceof UsageError) || /no such file/.test(error.message)) return undefined;
    warn(`ignoring ${error.message.replace(/; rewrite it.*$/, '')}`);
    return undefined;
  }
  const match = /\/metadata\/status\/([^/?#]+)\/?$/.exec(endpoint);
  let sameServer = false;
  try {
    sameServer = new URL(endpoint).origin === new URL(client.baseUrl).origin;
  } catch {
    // not a URL: not ours
  }
  if (!match || !sameServer) {
    warn(`ignoring creds file ${path}: it belongs to another MAAS (${endpoint.split('/metadata/')[0]})`);
    return undefined;
  }
  const systemId = decodeURIComponent(match[1]!);
  try {
    return { machine: await client.readMachine(systemId), matchedBy: 'creds-file', credsPath: path };
  } catch (error) {
    if (error instanceof MaasApiError && error.status === 404) {
      warn(`ignoring creds file ${path}: MAAS has no machine ${systemId} any more`);
      return undefined;
    }
    throw error;
  }
}

async function lookUp(client: MaasClient, macs: string[], hostname: string, warn: (line: string) => void): Promise<Found | undefined> {
  if (macs.length > 0) {
    const byMac = await client.listMachines({ mac_address: macs });
    if (byMac.length > 1) {
      // MAAS lists by internal id, so the first is the oldest record of this hardware.
      warn(`several machines have this host's MAC addresses (${byMac.map((m) => `${m.hostname} ${m.system_id}`).join(', ')}); using ${byMac[0]!.system_id}`);
    }
    if (byMac.length > 0) return { machine: byMac[0]!, matchedBy: 'mac' };
  }
  const byName = await client.listMachines({ hostname: [hostname] });
  return byName.length > 0 ? { machine: byName[0]!, matchedBy: 'hostname' } : undefined;
}

// Creates the machine (docs/design.md D4). A create that failed in a retryable way may still have
// succeeded on the server, so before each new attempt the machine is looked up again
// (docs/design.md D3).
async function create(
  client: MaasClient,
  identity: { hostname: string; macs: string[]; arch: string | undefined },
  deps: RegisterDeps,
  warn: (line: string) => void,
): Promise<{ created: boolean; found: Found }> {
  const policy = deps.client?.retry ?? retryPolicyFromEnv();
  const sleep = deps.client?.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = deps.client?.now ?? Date.now;
  const deadline = now() + policy.totalMs;
  const fields: Record<string, string | string[]> = { hostname: identity.hostname, deployed: 'true' };
  if (identity.arch) fields.architecture = `${identity.arch}/generic`;
  if (identity.macs.length > 0) fields.mac_addresses = identity.macs;

  let withoutArchitecture = false;
  for (let attempt = 1; ; attempt++) {
    try {
      return { created: true, found: { machine: await client.createMachine(fields), matchedBy: 'hostname' } };
    } catch (error) {
      if (error instanceof MaasApiError && error.status === 400) {
        if (fields.architecture && !withoutArchitecture && /architecture/i.test(error.body)) {
          warn(`MAAS refused architecture ${fields.architecture} (no boot images for it?); registering with hostname and deployed only`);
          delete fields.architecture;
          delete fields.mac_addresses; // MAAS drops MACs sent without an architecture anyway
          withoutArchitecture = true;
          attempt -= 1;
          continue;
        }
        if (/already in use/i.test(error.body)) {
          // A MAC of this host is known to MAAS, so the host is registered already
          // (docs/design.md D3).
          const again = await lookUp(client, identity.macs, identity.hostname, warn);
          if (again) return { created: false, found: again };
          throw new CliError(
            `${error.message.split(': HTTP')[0]}: MAAS says a MAC address of this host is in use, but no machine visible to this API key has it; check MAAS's devices and controllers`,
            { cause: error },
          );
        }
      }
      if (!isRetryable(error) || attempt >= policy.attempts) throw error;
      const delay = backoffDelayMs(policy, attempt);
      if (now() + delay >= deadline) throw error;
      warn(`${(error as Error).message}; checking whether MAAS created the machine anyway, then retrying in ${(delay / 1000).toFixed(1)} s`);
      await sleep(delay);
      const again = await lookUp(client, identity.macs, identity.hostname, warn);
      if (again) return { created: false, found: again };
    }
  }
}

/** The CLI action: parses nothing (commander did), runs registerMachine with the real host, then reports (docs/design.md requirement 3) unless `report` is false. */
export async function runRegisterMachine(
  options: RegisterOptions & { root?: string; report?: boolean; stateDir?: string; debug?: boolean },
): Promise<void> {
  const host = options.root ? createHost({ root: options.root, isRoot: false }) : createHost();
  const registered = await registerMachine(options, { host });
  if (options.report === false) return;
  const { runReport } = await import('./report-results.js');
  try {
    await runReport(
      { metadataUrl: registered.endpoint, credentials: registered.credentials, endpoint: registered.endpoint },
      { stateDir: options.stateDir, root: options.root, debug: options.debug },
    );
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    const reason = error.message.replace(/^report-results: /, '');
    throw new CliError(`machine ${registered.systemId} is registered, but reporting its hardware failed: ${reason}; retry with report-results --config ${registered.credsPath}`, { cause: error });
  }
}
