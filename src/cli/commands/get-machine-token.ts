// get-machine-token: fetch (or, with --regenerate, replace) a machine's token and write it as a
// creds file, or print it. Nothing is written unless the request succeeded.
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CliError, UsageError } from '../../errors.js';
import { MaasClient, type ClientDeps } from '../../maas/client.js';
import { standardOutput, writeFileAtomic } from '../../files.js';
import { assertWritableDir, credsYaml } from '../../maas/credentials.js';
import type { Credentials } from '../../maas/types.js';

export interface GetMachineTokenOptions {
  maasUrl: string;
  adminCredentials: Credentials;
  systemId: string;
  /** Output file; undefined or "-" means standard output. */
  tokenFile?: string;
  /** Use op=regenerate_token (docs/design.md D5): a new token replaces the old one, which stops working at once. */
  regenerate?: boolean;
}

export interface GetMachineTokenDeps {
  client?: ClientDeps;
  /** Where the YAML goes when there is no TOKEN_FILE (default: stdout). */
  out?: (text: string) => void;
  /** Notes for the user (default: stderr). */
  warn?: (line: string) => void;
}

/** Fetches the token of `systemId` and writes the creds YAML; returns the YAML and the path written, if any. */
export async function getMachineToken(options: GetMachineTokenOptions, deps: GetMachineTokenDeps = {}): Promise<{ yaml: string; path?: string }> {
  const warn = deps.warn ?? ((line) => process.stderr.write(`${line}\n`));
  const out = deps.out ?? ((text) => standardOutput.write(text));
  if (!/^[A-Za-z0-9_-]+$/.test(options.systemId)) {
    throw new UsageError(`SYSTEM_ID '${options.systemId}' is not a MAAS system_id (letters and digits, e.g. x7ghqk)`);
  }
  const toFile = options.tokenFile !== undefined && options.tokenFile !== '-' ? options.tokenFile : undefined;
  if (toFile) {
    // Checked before the request: a bad TOKEN_FILE is a usage error, and nothing is created.
    await assertWritableDir(dirname(toFile), 'the directory of TOKEN_FILE');
    const existing = await stat(toFile).catch(() => undefined);
    if (existing?.isDirectory()) throw new UsageError(`TOKEN_FILE ${toFile} is a directory; give a file name`);
  }

  const client = new MaasClient({ baseUrl: options.maasUrl, credentials: options.adminCredentials }, { log: warn, ...deps.client });
  const token = options.regenerate ? await client.regenerateMachineToken(options.systemId) : await client.getMachineToken(options.systemId);
  if (!token) {
    throw new CliError(
      `Getting machine credentials failed: Credentials not found (machine ${options.systemId} has no token; MAAS deletes it when the machine is released)`,
    );
  }
  const endpoint = `${client.baseUrl}/metadata/status/${options.systemId}`;
  const yaml = credsYaml({ consumer_key: token.consumer_key, endpoint, token_key: token.token_key, token_secret: token.token_secret });
  if (options.regenerate) warn(`Regenerated the token of machine ${options.systemId}; the previous one no longer works.`);
  if (!toFile) {
    out(yaml);
    return { yaml };
  }
  await writeFileAtomic(toFile, yaml);
  return { yaml, path: toFile };
}
