// The "consumer-key:token-key:token-secret[:consumer-secret]" form of OAuth credentials (docs/protocol.md
// §1.2). Apart from the creds files (credentials.ts) so that parsing the command line loads no YAML.
import { UsageError } from '../errors.js';
import type { Credentials } from './types.js';

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
