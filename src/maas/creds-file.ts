// Reading creds files (both shapes, docs/protocol.md §1.6). Apart from credsYaml (credentials.ts),
// which writes them with the YAML library: reading loads that library only for a file that is
// not in the plain shape every writer produces (see simpleCredsTree).
import { constants as fsConstants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { CredsFileError, hasCode } from '../errors.js';
import { fsReason } from '../files.js';
import type { Credentials } from './types.js';

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
  const tree = simpleCredsTree(text) ?? (await parseCredsYaml(path, text));
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

/** The creds file parsed by the YAML library (see readCredsFile). */
async function parseCredsYaml(path: string, text: string): Promise<unknown> {
  const { parseDocument } = await import('yaml');
  // The failsafe schema keeps every value a string (a numeric-looking key stays as written).
  const document = parseDocument(text, { schema: 'failsafe', prettyErrors: true, logLevel: 'error' });
  if (document.errors.length > 0) {
    const first = document.errors[0]!;
    // With prettyErrors the parser gives every error its line and column.
    const { line, col } = first.linePos![0];
    // The parser's own message quotes the file's text, which may include a secret: not shown.
    throw new CredsFileError(path, 'MRS_CREDS_INVALID', `creds file ${path} is not valid YAML at line ${line}, column ${col}`, REWRITE);
  }
  try {
    // A creds file has no aliases; a few are allowed, an expansion bomb is refused by the parser.
    return document.toJS({ maxAliasCount: 16 }) as unknown;
  } catch (error) {
    throw new CredsFileError(path, 'MRS_CREDS_INVALID', `creds file ${path} is not a plain creds file (its YAML aliases expand too far)`, REWRITE, { cause: error });
  }
}

// One line of the plain shape: indentation, a key, and either nothing (a mapping follows) or a
// value YAML reads as exactly its characters: unquoted (no spaces, no comment, nothing a value
// may not start with), or in double or single quotes with no escape and no quote inside.
const SIMPLE_LINE = /^( *)([A-Za-z_][A-Za-z0-9_-]*):(?: (?:([A-Za-z0-9_/][A-Za-z0-9_.\/~+=%:@?&,-]*)|"([A-Za-z0-9_.\/~+=%:@?&, -]*)"|'([A-Za-z0-9_.\/~+=%:@?&, -]*)'))?$/;

/**
 * The tree of a creds file written in the plain shape every writer uses (nested block mappings,
 * one `key: value` a line, values plain strings), read without the YAML library, which costs a
 * short run more than all the rest of reading its settings. Undefined for anything else — a
 * comment, a blank line, an escape, a duplicate key, tabs, CRLF — which the YAML library then reads,
 * so both give the same tree for every file this accepts.
 */
export function simpleCredsTree(text: string): Record<string, unknown> | undefined {
  const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
  if (lines.length === 0 || lines[0] === '') return undefined;
  const root: Record<string, unknown> = {};
  const stack: { indent: number; map: Record<string, unknown> }[] = [{ indent: 0, map: root }];
  let opened: Record<string, unknown> | undefined;
  for (const line of lines) {
    const match = SIMPLE_LINE.exec(line);
    if (!match) return undefined;
    const indent = match[1]!.length;
    const key = match[2]!;
    const plain = match[3];
    const value = plain ?? match[4] ?? match[5];
    if (opened) {
      if (indent <= stack[stack.length - 1]!.indent) return undefined;
      stack.push({ indent, map: opened });
      opened = undefined;
    } else {
      while (stack.length > 1 && indent < stack[stack.length - 1]!.indent) stack.pop();
      if (indent !== stack[stack.length - 1]!.indent) return undefined;
    }
    const map = stack[stack.length - 1]!.map;
    if (key === '__proto__' || Object.prototype.hasOwnProperty.call(map, key)) return undefined;
    if (value === undefined) {
      opened = {};
      map[key] = opened;
    } else {
      if (plain?.endsWith(':')) return undefined;
      map[key] = value;
    }
  }
  return opened ? undefined : root;
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
