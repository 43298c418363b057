// Credentials: the "ck:tk:ts[:cs]" string, the creds YAML files (both shapes read), and the atomic,
// mode-0600 writer every creds file goes through (docs/design.md D9; docs/protocol.md §1.2, §1.6).
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseDocument, stringify } from 'yaml';
import { CliError, hasCode, UsageError } from '../errors.js';
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
  const maas = Object.fromEntries(
    Object.entries(reporting)
      .filter(([key, value]) => typeof value === 'string' && !(key === 'consumer_secret' && value === ''))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  return stringify({ reporting: { maas } }, { lineWidth: 0 });
}

/** What a creds file holds: the machine credentials and the MAAS endpoint they belong to. */
export interface CredsFile {
  credentials: Credentials;
  /** `reporting.maas.endpoint`, or the datasource shape's `metadata_url`. */
  endpoint: string;
}

/**
 * Reads a creds file in either shape: `reporting: maas: {endpoint, consumer_key, token_key,
 * token_secret[, consumer_secret]}` (this tool, cloud-init reporting) or cloud-init's
 * `datasource: MAAS: {metadata_url, ...}`. Every problem is a one-line UsageError.
 */
export async function readCredsFile(path: string): Promise<CredsFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read creds file ${path}: ${fsReason(error)}; pass the file register-machine or get-machine-token wrote`);
  }
  // The failsafe schema keeps every value a string (a numeric-looking key stays as written).
  const document = parseDocument(text, { schema: 'failsafe', prettyErrors: true });
  if (document.errors.length > 0) {
    const first = document.errors[0]!;
    const where = first.linePos?.[0] ? ` at line ${first.linePos[0].line}, column ${first.linePos[0].col}` : '';
    // The parser's own message quotes the file's text, which may include a secret: not shown.
    throw new UsageError(`creds file ${path} is not valid YAML${where}; rewrite it with get-machine-token`);
  }
  const root = asMapping(document.toJS());
  const reporting = asMapping(asMapping(root?.reporting)?.maas);
  const datasource = asMapping(asMapping(root?.datasource)?.MAAS);
  const source = reporting ?? datasource;
  if (!source) {
    throw new UsageError(`creds file ${path} has neither reporting.maas nor datasource.MAAS; rewrite it with get-machine-token`);
  }
  const prefix = reporting ? 'reporting.maas' : 'datasource.MAAS';
  const endpointKey = reporting ? 'endpoint' : 'metadata_url';
  const required = ['consumer_key', 'token_key', 'token_secret', endpointKey];
  const missing = required.filter((key) => !isFilled(source[key]));
  if (missing.length > 0) {
    throw new UsageError(`creds file ${path} lacks ${missing.map((k) => `${prefix}.${k}`).join(', ')}; rewrite it with get-machine-token`);
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
  const mode = (await stat(path).catch(() => undefined))?.mode;
  if (mode === undefined || (mode & 0o077) === 0) return undefined;
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  return `warning: creds file ${path} can be read by other users (mode ${octal}); its token lets them report as this machine: chmod 600 ${path}`;
}

function asMapping(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function isFilled(value: unknown): boolean {
  return typeof value === 'string' && value.trim() !== '';
}

/** A short human reason for a file-system error, without a stack or the syscall noise. */
export function fsReason(error: unknown): string {
  const code = (error as { code?: string } | undefined)?.code;
  const reasons: Record<string, string> = {
    ENOENT: 'no such file or directory',
    ENOTDIR: 'a parent is not a directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    EISDIR: 'it is a directory',
    ENOSPC: 'no space left on device',
    EDQUOT: 'disk quota exceeded',
  };
  if (code && reasons[code]) return reasons[code];
  return error instanceof Error ? error.message.split('\n')[0]! : String(error);
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

/**
 * Writes `text` to `path` atomically: a temporary file in the same directory, fsync'd, given
 * `mode`, then renamed over `path`. On any failure the temporary file is removed and `path` is
 * left as it was. Errors are one line (UsageError for permission/path problems).
 */
export async function writeFileAtomic(path: string, text: string, mode = 0o600): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let created = false;
  try {
    const handle = await open(temp, 'wx', mode);
    created = true;
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(temp, mode); // the umask may have narrowed or the caller asked for another mode
    await rename(temp, path);
    created = false;
  } catch (error) {
    if (created) await unlink(temp).catch(() => undefined);
    const message = `cannot write ${path}: ${fsReason(error)}`;
    if (hasCode(error, 'EACCES', 'EPERM', 'ENOENT', 'ENOTDIR', 'EROFS', 'EISDIR')) throw new UsageError(message, { cause: error });
    throw new CliError(message, { cause: error });
  }
}
