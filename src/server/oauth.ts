// OAuth 1.0a PLAINTEXT verification as MAAS does it (docs/protocol.md §2.4), stricter where the
// spec recommends: the consumer key must be the token's own, the expected signature is never
// echoed in an error, a timestamp too far in the future is refused like a stale one, and a nonce
// is recorded only once the signature has been checked (a caller without the secret can make
// the server store nothing).
import { timingSafeEqual } from 'node:crypto';
import { HttpError } from './http-error.js';
import type { Store, TokenRecord } from './store.js';

const REQUIRED = ['oauth_consumer_key', 'oauth_token', 'oauth_signature', 'oauth_signature_method', 'oauth_timestamp', 'oauth_nonce'] as const;
const TIMESTAMP_THRESHOLD_SECONDS = 300;
/** Unix time in seconds has at most 11 digits until the year 5138; more is not a timestamp. */
const TIMESTAMP_DIGITS = 11;
/** Clients send short random nonces (MAAS's: a few digits); a longer one is refused unstored. */
export const NONCE_MAX_LENGTH = 128;

/** Who a request is from: nobody, or the token it was signed with. */
export type Caller = { kind: 'anonymous' } | { kind: 'token'; token: TokenRecord };

/**
 * Reads OAuth parameters from the Authorization header, then the query. Never from the body:
 * the server knows who is asking before it reads a byte of what they send.
 */
export function oauthParams(authorization: string | undefined, query: URLSearchParams): Map<string, string> {
  const params = new Map<string, string>();
  if (authorization?.startsWith('OAuth ')) {
    // Items are name="value"; a realm (or anything else not named oauth_*) is read and never used.
    for (const item of authorization.slice('OAuth '.length).split(',')) {
      const eq = item.indexOf('=');
      if (eq === -1) continue;
      const name = item.slice(0, eq).trim();
      // Stryker disable next-line Regex: percent-encoded values hold no quote, so only the enclosing pair is ever removed
      const raw = item.slice(eq + 1).trim().replace(/^"|"$/g, '');
      params.set(name, percentDecode(raw));
    }
  }
  for (const [name, value] of query) if (name.startsWith('oauth_') && !params.has(name)) params.set(name, value);
  return params;
}

/** Authenticates a request: anonymous when it is not an OAuth attempt, else a verified token. */
export function authenticate(store: Store, params: Map<string, string>, nowSeconds: number): Caller {
  const timestamp = params.get('oauth_timestamp');
  if (timestamp !== undefined && !/^-?\d+$/.test(timestamp)) {
    throw new HttpError(400, `Bad OAuth request: oauth_timestamp has an unexpected type: '${clip(timestamp)}' is not an integer`);
  }
  if (timestamp !== undefined && (timestamp.startsWith('-') || timestamp.length > TIMESTAMP_DIGITS)) {
    throw new HttpError(400, `Bad OAuth request: oauth_timestamp '${clip(timestamp)}' is not a Unix time in seconds`);
  }
  const nonceGiven = params.get('oauth_nonce');
  if (nonceGiven !== undefined && nonceGiven.length > NONCE_MAX_LENGTH) {
    throw new HttpError(400, `Bad OAuth request: oauth_nonce is longer than ${NONCE_MAX_LENGTH} characters`);
  }
  if (!REQUIRED.every((name) => params.has(name))) return { kind: 'anonymous' };

  const fail = (message: string) =>
    new HttpError(401, `Authorization Error: ${message}`, 'text/html; charset=utf-8', { 'WWW-Authenticate': 'OAuth realm="OAuth"' });
  const version = params.get('oauth_version');
  if (version !== undefined && version !== '1.0') throw fail(`'OAuth version ${version} not supported.'`);
  const consumerKey = params.get('oauth_consumer_key')!;
  const tokenKey = params.get('oauth_token')!;
  const token = store.getToken(tokenKey);
  if (!token) throw fail(`'Invalid access token: ${tokenKey}'`);
  // Stricter than MAAS (which accepts any existing consumer): the consumer must be the token's.
  if (token.consumerKey !== consumerKey) throw fail('Invalid API key.');
  const given = Number(timestamp);
  if (nowSeconds - given > TIMESTAMP_THRESHOLD_SECONDS) {
    throw fail(`'Expired timestamp: given ${given} and now ${nowSeconds} has a greater difference than threshold ${TIMESTAMP_THRESHOLD_SECONDS}'`);
  }
  // A request signed for later would become replayable once its nonce is purged.
  if (given - nowSeconds > TIMESTAMP_THRESHOLD_SECONDS) {
    throw fail(`'Timestamp from the future: given ${given} and now ${nowSeconds} has a greater difference than threshold ${TIMESTAMP_THRESHOLD_SECONDS}'`);
  }
  const method = params.get('oauth_signature_method')!;
  if (method !== 'PLAINTEXT') {
    throw fail(`'Signature method ${clip(method)} not supported try one of the following: PLAINTEXT'`);
  }
  const expected = `${rfc3986(token.consumerSecret)}&${rfc3986(token.tokenSecret)}`;
  if (!sameText(params.get('oauth_signature')!, expected)) throw fail(`'Invalid signature.'`);
  const nonce = params.get('oauth_nonce')!;
  if (!store.useNonce(consumerKey, tokenKey, nonce, nowSeconds)) throw fail(`'Nonce already used: ${nonce}'`);
  return { kind: 'token', token };
}

// A value sent by the caller, shortened for an error message.
function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** Percent-encodes with the RFC 3986 unreserved set, as OAuth requires. */
export function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new HttpError(400, 'Bad OAuth request: malformed percent-encoding in the Authorization header');
  }
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
