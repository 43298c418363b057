// Registering a machine in MAAS as Deployed, idempotently, and writing its machine credentials to
// <name>-creds.yaml (docs/design.md D3, D4; docs/protocol.md §1.3). Shared by register-machine
// (this host) and redfish-report (a machine described by its BMC); each command says who the
// machine is.
import { join } from 'node:path';
import { CliError, CredsFileError, MaasApiError, UsageError } from '../errors.js';
import { standardOutput, writeFileAtomic } from '../files.js';
import { MaasClient, type ClientDeps } from './client.js';
import { assertWritableDir, credsYaml, readCredsFile } from './credentials.js';
import { isRetryable, retrying, retryPolicyFromEnv } from './http.js';
import type { Credentials, MachineJson } from './types.js';

export interface RegisterOptions {
  /** MAAS base URL including /MAAS (trailing slashes are stripped). */
  maasUrl: string;
  adminCredentials: Credentials;
  /** Name for a new machine; default: the identity's host name up to the first dot. */
  hostname?: string;
  /** Directory for the creds file (default: the current directory). */
  dir?: string;
}

/** Who the machine is, as MAAS is told (docs/design.md D4). */
export interface MachineIdentity {
  /** Its host name (the part before the first dot names a new machine). */
  hostname: string;
  /** The permanent MACs of its physical NICs. */
  macs: string[];
  /** Its Debian architecture (amd64, arm64, …), when known. */
  architecture?: string;
  /** Its hardware (SMBIOS system) UUID, lower-case, when known: checked against a machine found by MAC. */
  hardwareUuid?: string;
  /** Where the identity was read: this host, or the machine's BMC (it words the messages). */
  seenBy: 'host' | 'bmc';
}

export interface RegisterDeps {
  client?: ClientDeps;
  identity: MachineIdentity;
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
 * Registers the machine (docs/design.md D3, D4): reuse the machine of a valid existing creds file,
 * else one listed with its physical MACs, else one with its hostname, else create one (hostname,
 * deployed=true, architecture, mac_addresses). Then fetch its token and write the creds file.
 */
export async function registerMachine(options: RegisterOptions, deps: RegisterDeps): Promise<RegisterResult> {
  const print = deps.print ?? ((line) => standardOutput.write(`${line}\n`));
  const warn = deps.warn ?? ((line) => process.stderr.write(`${line}\n`));
  const { identity } = deps;
  const dir = options.dir ?? '.';
  const client = new MaasClient({ baseUrl: options.maasUrl, credentials: options.adminCredentials }, { log: warn, ...deps.client });

  const hostname = options.hostname ?? identity.hostname.split('.')[0] ?? '';
  if (!hostname) throw new UsageError('cannot tell the machine\'s name; pass --hostname NAME');
  // Checked before any request so that a bad DIR never leaves a machine without a creds file.
  await assertWritableDir(dir, 'DIR');

  const ownPath = join(dir, `${hostname}-creds.yaml`);
  let found = (await fromCredsFile(client, ownPath, warn)) ?? (await lookUp(client, identity, hostname, warn));
  let created = false;
  if (!found) {
    const outcome = await create(client, { hostname, macs: identity.macs, arch: identity.architecture }, deps, warn);
    created = outcome.created;
    found = outcome.found;
  }
  const { machine, matchedBy } = found;
  const name = machine.hostname || hostname;
  if (created) {
    print(`Machine ${name} created with system ID: ${machine.system_id}`);
  } else {
    const subject = identity.seenBy === 'bmc' ? 'the machine' : 'this host';
    const how = matchedBy === 'creds-file' ? `its creds file ${found.credsPath}` : matchedBy === 'mac' ? `${subject}'s MAC address` : 'its hostname';
    print(`Machine ${name} already registered with system ID: ${machine.system_id} (found by ${how})`);
    if (name !== hostname) print(`It keeps its MAAS name ${name} (${identity.seenBy === 'bmc' ? 'its BMC now calls it' : 'this host is now called'} ${hostname}).`);
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
    if (!(error instanceof CredsFileError) || error.code === 'MRS_NOT_FOUND_FILE') return undefined;
    // A broken file is named without the fix (it is ignored, not to be rewritten by hand).
    warn(`ignoring ${error.code === 'MRS_CREDS_INVALID' ? error.problem : error.message}`);
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

async function lookUp(client: MaasClient, identity: MachineIdentity, hostname: string, warn: (line: string) => void): Promise<Found | undefined> {
  const { macs } = identity;
  if (macs.length > 0) {
    const byMac = await client.listMachines({ mac_address: macs });
    if (byMac.length > 1) {
      // MAAS lists by internal id, so the first is the oldest record of this hardware.
      warn(`several machines have this host's MAC addresses (${byMac.map((m) => `${m.hostname} ${m.system_id}`).join(', ')}); using ${byMac[0]!.system_id}`);
    }
    if (byMac.length > 0) {
      contradiction(byMac[0]!, identity);
      return { machine: byMac[0]!, matchedBy: 'mac' };
    }
  }
  const byName = await client.listMachines({ hostname: [hostname] });
  return byName.length > 0 ? { machine: byName[0]!, matchedBy: 'hostname' } : undefined;
}

/**
 * A machine found by MAC is taken only when nothing contradicts it: a MAC can be copied or
 * reported by another machine, and taking the match would hand this host that machine's token.
 * The hardware UUID both sides know must agree; else the run stops, saying what it found.
 */
function contradiction(machine: MachineJson, identity: MachineIdentity): void {
  const recorded = machine.hardware_uuid?.trim().toLowerCase();
  if (!recorded || !identity.hardwareUuid || recorded === identity.hardwareUuid) return;
  const subject = identity.seenBy === 'bmc' ? 'the machine' : 'this host';
  throw new CliError(
    `MAAS lists machine ${machine.hostname} (${machine.system_id}) with ${subject}'s MAC address, but its hardware UUID ${recorded} is not ${subject}'s (${identity.hardwareUuid}); its token was not taken: check that machine in MAAS (a NIC moved or a MAC copied?) and delete it if it is stale, then run again`,
    { code: 'MRS_IDENTITY_CONFLICT' },
  );
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
  const fields: Record<string, string | string[]> = { hostname: identity.hostname, deployed: 'true' };
  if (identity.arch) fields.architecture = `${identity.arch}/generic`;
  if (identity.macs.length > 0) fields.mac_addresses = identity.macs;

  let withoutArchitecture = false;
  // MAAS has no boot images for the architecture: registering goes on without it (and the MACs).
  const refusesArchitecture = (error: unknown) =>
    error instanceof MaasApiError && error.status === 400 && fields.architecture !== undefined && !withoutArchitecture && /architecture/i.test(error.body);
  // Set after a failure that may have created the machine: the next attempt looks for it first.
  let lookFirst = false;
  return retrying({
    policy: deps.client?.retry ?? retryPolicyFromEnv(),
    ...(deps.client?.now ? { now: deps.client.now } : {}),
    ...(deps.client?.sleep ? { sleep: deps.client.sleep } : {}),
    attempt: async () => {
      if (lookFirst) {
        lookFirst = false;
        const again = await lookUp(client, deps.identity, identity.hostname, warn);
        if (again) return { created: false, found: again };
      }
      try {
        return { created: true, found: { machine: await client.createMachine(fields), matchedBy: 'hostname' } };
      } catch (error) {
        if (!(error instanceof MaasApiError && error.status === 400 && /already in use/i.test(error.body)) || refusesArchitecture(error)) throw error;
        // A MAC of this host is known to MAAS, so the host is registered already (docs/design.md D3).
        const again = await lookUp(client, deps.identity, identity.hostname, warn);
        if (again) return { created: false, found: again };
        throw new CliError(
          `${error.action} failed: MAAS says a MAC address of this host is in use, but no machine visible to this API key has it; check MAAS's devices and controllers`,
          { cause: error },
        );
      }
    },
    afterFailure: (error) => {
      if (refusesArchitecture(error)) {
        warn(`MAAS refused architecture ${fields.architecture} (no boot images for it?); registering with hostname and deployed only`);
        delete fields.architecture;
        delete fields.mac_addresses; // MAAS drops MACs sent without an architecture anyway
        withoutArchitecture = true;
        return 'again';
      }
      return isRetryable(error) ? {} : 'stop';
    },
    onRetry: (error, delay) => {
      lookFirst = true;
      warn(`${(error as Error).message}; checking whether MAAS created the machine anyway, then retrying in ${(delay / 1000).toFixed(1)} s`);
    },
  });
}
