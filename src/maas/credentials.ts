// Credentials: the "ck:tk:ts[:cs]" string and the creds YAML files (both shapes read). Creds files
// are written with src/files.ts's atomic mode-0600 writer (docs/design.md D9; docs/protocol.md
// §1.2, §1.6).
import { constants } from 'node:fs';
import { constants as fsConstants } from 'node:fs';
import { access, open, stat, type FileHandle } from 'node:fs/promises';
import { parseDocument, stringify } from 'yaml';
import { CredsFileError, hasCode, UsageError } from '../errors.js';
import { fsReason } from '../files.js';
import type { Credentials, ReportingMaas } from './types.js';

const CREDENTIALS_PATTERN = /^([^:]+):([^:]+):([^:]+)(?::([^:]+))?$/;

/**
 * Parses "consumer-key:token-key:token-secret[:consumer-secret]". `what` names the argument in
 * the error, which never repeats the value (it may hold a secret).
 */
export function parseCredentials(text: string, what: string): Credentials {
  const match = CREDENTIALS_PATTERN.exec(text.trim());
  if (!match) {
    throw new UsageError(
      `${what}: Invalid OAuth credentials format (expected consumer-key:token-key:token-secret, as MAAS shows an API key)`,
    );
  }
  return { consumerKey: match[1]!, tokenKey: match[2]!, tokenSecret: match[3]!, consumerSecret: match[4] ?? '' };
}

/** The "ck:tk:ts[:cs]" form of `credentials` (it contains the secret: never print it). */
export function formatCredentials(credentials: Credentials): string {
  const base = `${credentials.consumerKey}:${credentials.tokenKey}:${credentials.tokenSecret}`;
  return credentials.consumerSecret ? `${base}:${credentials.consumerSecret}` : base;
}

/** The creds YAML (docs/design.md D9): `reporting: maas: {...}` in block style with keys sorted. */
export function credsYaml(reporting: ReportingMaas): string {
  // An empty value (MAAS's consumer secret) is left out; the writer leaves out undefined ones.
  const entries = Object.entries(reporting).filter(([, value]) => value !== '');
  // Stryker disable next-line EqualityOperator: the keys of one object are distinct, so `a <= b` orders them as `a < b` does (and `a >= b`, the reverse order, is what the ternary's `false` mutant tests)
  entries.sort(([a], [b]) => (a < b ? -1 : 1));
  const maas = Object.fromEntries(entries);
  // Every value on one line.
  // Stryker disable next-line ObjectLiteral: the writer folds long lines only at spaces, and no MAAS key, secret or URL has one; lineWidth 0 keeps that true for any value
  const oneLine = { lineWidth: 0 };
  return stringify({ reporting: { maas } }, oneLine);
}

/** What a creds file holds: the machine credentials and the MAAS endpoint they belong to. */
export interface CredsFile {
  credentials: Credentials;
  /** `reporting.maas.endpoint`, or the datasource shape's `metadata_url`. */
  endpoint: string;
}

const REWRITE = 'rewrite it with get-machine-token';

/** Creds files are a few hundred bytes; anything this large is not one. */
const CREDS_MAX_BYTES = 64 * 1024;

// The file's text. It must be a regular file: a FIFO or a device would block the run or never
// end, so it is opened without blocking and looked at before anything is read.
async function readCredsText(path: string): Promise<string> {
  const problem = (code: 'MRS_NOT_FOUND_FILE' | 'MRS_CREDS_UNREADABLE', why: string, cause?: unknown) =>
    // CliError keeps no `cause` that is undefined.
    new CredsFileError(path, code, `cannot read creds file ${path}: ${why}`, 'pass the file register-machine or get-machine-token wrote', { cause });
  let handle: FileHandle;
  try {
    handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (error) {
    throw problem(hasCode(error, 'ENOENT') ? 'MRS_NOT_FOUND_FILE' : 'MRS_CREDS_UNREADABLE', fsReason(error), error);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw problem('MRS_CREDS_UNREADABLE', 'it is not a regular file');
    if (info.size > CREDS_MAX_BYTES) throw problem('MRS_CREDS_UNREADABLE', `it is ${info.size} bytes, far more than a creds file holds`);
    return await handle.readFile('utf8');
  } catch (error) {
    if (error instanceof CredsFileError) throw error;
    throw problem('MRS_CREDS_UNREADABLE', fsReason(error), error);
  } finally {
    await handle.close();
  }
}

/**
 * Reads a creds file in either shape: `reporting: maas: {endpoint, consumer_key, token_key,
 * token_secret[, consumer_secret]}` (this tool, cloud-init reporting) or cloud-init's
 * `datasource: MAAS: {metadata_url, ...}`. Every problem is a one-line CredsFileError (a UsageError) whose code tells a missing file from a bad one.
 */
export async function readCredsFile(path: string): Promise<CredsFile> {
  const text = await readCredsText(path);
  // The failsafe schema keeps every value a string (a numeric-looking key stays as written).
  const document = parseDocument(text, { schema: 'failsafe', prettyErrors: true });
  if (document.errors.length > 0) {
    const first = document.errors[0]!;
    // With prettyErrors the parser gives every error its line and column.
    const { line, col } = first.linePos![0];
    // The parser's own message quotes the file's text, which may include a secret: not shown.
    throw new CredsFileError(path, 'MRS_CREDS_INVALID', `creds file ${path} is not valid YAML at line ${line}, column ${col}`, REWRITE);
  }
  let tree: unknown;
  try {
    // A creds file has no aliases; a few are allowed, an expansion bomb is refused by the parser.
    tree = document.toJS({ maxAliasCount: 16 });
  } catch (error) {
    throw new CredsFileError(path, 'MRS_CREDS_INVALID', `creds file ${path} is not a plain creds file (its YAML aliases expand too far)`, REWRITE, { cause: error });
  }
  const root = asMapping(tree);
  const reporting = asMapping(asMapping(root?.reporting)?.maas);
  const datasource = asMapping(asMapping(root?.datasource)?.MAAS);
  const source = reporting ?? datasource;
  if (!source) {
    throw new CredsFileError(path, 'MRS_CREDS_INVALID', `creds file ${path} has neither reporting.maas nor datasource.MAAS`, REWRITE);
  }
  const prefix = reporting ? 'reporting.maas' : 'datasource.MAAS';
  const endpointKey = reporting ? 'endpoint' : 'metadata_url';
  const required = ['consumer_key', 'token_key', 'token_secret', endpointKey];
  const missing = required.filter((key) => !isFilled(source[key]));
  if (missing.length > 0) {
    throw new CredsFileError(path, 'MRS_CREDS_INVALID', `creds file ${path} lacks ${missing.map((k) => `${prefix}.${k}`).join(', ')}`, REWRITE);
  }
  const consumerSecret = source.consumer_secret;
  return {
    credentials: {
      consumerKey: String(source.consumer_key).trim(),
      tokenKey: String(source.token_key).trim(),
      tokenSecret: String(source.token_secret).trim(),
      consumerSecret: typeof consumerSecret === 'string' ? consumerSecret.trim() : '',
    },
    endpoint: String(source[endpointKey]).trim(),
  };
}

/**
 * A one-line warning when the creds file at `path` is open to other users (group or other
 * permission bits): its token lets anyone who reads it report as this machine. Undefined when
 * the file is private or cannot be examined.
 */
export async function exposedCredsWarning(path: string): Promise<string | undefined> {
  // A file that cannot be examined counts as private (mode 0).
  const mode = (await stat(path).catch(() => undefined))?.mode ?? 0;
  if ((mode & 0o077) === 0) return undefined;
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  return `warning: creds file ${path} can be read by other users (mode ${octal}); its token lets them report as this machine: chmod 600 ${path}`;
}

function asMapping(value: unknown): Record<string, unknown> | undefined {
  // Not null, not a scalar and not a list.
  return value instanceof Object && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function isFilled(value: unknown): boolean {
  return typeof value === 'string' && value.trim() !== '';
}

/** Throws a UsageError unless `dir` is an existing directory this process may create files in. */
export async function assertWritableDir(dir: string, what: string): Promise<void> {
  let isDir: boolean;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch (error) {
    throw new UsageError(`${what} ${dir} cannot be used: ${fsReason(error)}; create it or choose another directory`);
  }
  if (!isDir) throw new UsageError(`${what} ${dir} is not a directory; choose a directory`);
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new UsageError(`${what} ${dir} is not writable (${fsReason(error)}); choose a writable directory`);
  }
}
