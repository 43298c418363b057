// Where the administrator's API key comes from (docs/design.md D16): the ADMIN_TOKEN argument
// (upstream's way, kept for its scripts), a file (--admin-key-file FILE), the environment
// (MAAS_ADMIN_KEY) or standard input (ADMIN_TOKEN or FILE given as "-"). Only the argument puts the
// key in the process list; the other three keep it out of every other user's sight.
//
// Precedence: the command line over the environment. The argument and --admin-key-file together
// are refused (two keys on one command line is a mistake, and guessing would pick the wrong one);
// MAAS_ADMIN_KEY is read only when the command line gives no key. The value is never repeated in
// a message.
import { readFile, stat } from 'node:fs/promises';
import { fsReason } from '../files.js';
import { UsageError } from '../errors.js';
import { parseCredentials } from '../maas/api-key.js';
import type { Credentials } from '../maas/types.js';

/** The environment variable holding the admin key (the same one `serve` takes its key from). */
export const ADMIN_KEY_ENV = 'MAAS_ADMIN_KEY';

/** The key's sources as a command received them. */
export interface AdminKeySources {
  /** The ADMIN_TOKEN argument as given ("-": standard input). */
  argument?: string | undefined;
  /** --admin-key-file ("-": standard input). */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Standard input (injectable for tests); default process.stdin. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
}

const EXPECTED = 'consumer-key:token-key:token-secret';
const HOW = `give ADMIN_TOKEN, --admin-key-file FILE, ${ADMIN_KEY_ENV}, or - to read it from standard input`;

/** Whether an argument is meant as a key rather than, say, a system_id: "-" or something with a colon. */
export function looksLikeKey(value: string): boolean {
  return value === '-' || value.includes(':');
}

/** Whether any source at all names a key (so an argument in the key's place may be something else). */
export function keyOutsideArguments(sources: Pick<AdminKeySources, 'file' | 'env'>): boolean {
  return sources.file !== undefined || Boolean((sources.env ?? process.env)[ADMIN_KEY_ENV]);
}

/**
 * Resolves the admin key from its sources (see the file comment); throws a one-line UsageError
 * naming the source when it is missing, unreadable, empty or malformed. `warn` receives a note
 * when the key file can be read by other users.
 */
export async function resolveAdminKey(sources: AdminKeySources, warn: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<Credentials> {
  const env = sources.env ?? process.env;
  if (sources.argument !== undefined && sources.file !== undefined) {
    throw new UsageError('the admin key is given twice, as ADMIN_TOKEN and with --admin-key-file: give it once (a file or standard input keeps it out of the process list)');
  }
  if (sources.argument === '-' || sources.file === '-') return keyFrom(await readStdin(sources.stdin ?? process.stdin), 'the admin key read from standard input');
  if (sources.argument !== undefined) return keyFrom(sources.argument, 'argument ADMIN_TOKEN');
  if (sources.file !== undefined) {
    const { text, exposed } = await readKeyFile(sources.file);
    const key = keyFrom(text, `the admin key in ${sources.file}`);
    if (exposed) warn(`warning: ${sources.file} holds an admin key and other users can read it: chmod 600 ${sources.file}`);
    return key;
  }
  const fromEnv = env[ADMIN_KEY_ENV];
  if (fromEnv) return keyFrom(fromEnv, ADMIN_KEY_ENV);
  throw new UsageError(`missing required argument 'ADMIN_TOKEN': ${HOW}`);
}

function keyFrom(text: string, what: string): Credentials {
  const value = text.trim();
  if (value === '') throw new UsageError(`${what} is empty: ${HOW}`);
  try {
    return parseCredentials(value, what);
  } catch {
    // The same words as upstream's refusal of a bad ADMIN_TOKEN, naming where the key came from.
    const prefix = what === 'argument ADMIN_TOKEN' ? 'error: argument ADMIN_TOKEN' : what;
    throw new UsageError(`${prefix}: Invalid OAuth credentials format (expected ${EXPECTED}; the value is not shown): copy the key whole from MAAS`);
  }
}

/** The key file's text, and whether other users may read it. */
async function readKeyFile(path: string): Promise<{ text: string; exposed: boolean }> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw new UsageError(`--admin-key-file ${path} is a directory: give the file holding the key`);
    return { text: await readFile(path, 'utf8'), exposed: (info.mode & 0o077) !== 0 };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot read --admin-key-file ${path}: ${fsReason(error)}; give a readable file holding the key (${EXPECTED})`, { cause: error });
  }
}

async function readStdin(stdin: NodeJS.ReadableStream & { isTTY?: boolean }): Promise<string> {
  if (stdin.isTTY) {
    // Typed at a terminal the key would be echoed on the screen.
    throw new UsageError('the admin key is to be read from standard input, but that is a terminal: pipe it in, e.g. < keyfile, or use --admin-key-file FILE');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    // An API key is about 90 characters; more is not a key (and is not kept in memory).
    if (size > 4096) throw new UsageError(`standard input holds more than an admin key (over 4096 bytes): pipe in the key alone (${EXPECTED})`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
