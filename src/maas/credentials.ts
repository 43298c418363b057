// Credentials: the "ck:tk:ts[:cs]" string and the creds YAML files (both shapes read). Creds files
// are written with src/files.ts's atomic mode-0600 writer (docs/design.md D9; docs/protocol.md
// §1.2, §1.6).
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { stringify } from 'yaml';
import { UsageError } from '../errors.js';
import { fsReason } from '../files.js';
import type { ReportingMaas } from './types.js';

export { formatCredentials, parseCredentials } from './api-key.js';
export { exposedCredsWarning, readCredsFile, simpleCredsTree, type CredsFile } from './creds-file.js';

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
