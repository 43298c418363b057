// OAuth 1.0a PLAINTEXT signing as MAAS expects it (docs/protocol.md §2.3). Written by hand
// because the upstream client's parameter order (nonce, timestamp, version, method, consumer
// key, token, signature) is not the alphabetical order generic OAuth libraries produce.
import { randomBytes } from 'node:crypto';
import type { Credentials } from './types.js';

/** RFC 3986 percent-encoding: keeps A-Z a-z 0-9 - . _ ~ and encodes every other UTF-8 byte. */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The PLAINTEXT signature before header encoding: enc(consumer secret) & enc(token secret). */
export function plaintextSignature(credentials: Credentials): string {
  return `${percentEncode(credentials.consumerSecret)}&${percentEncode(credentials.tokenSecret)}`;
}

/** A nonce shaped like upstream's: a random 64-bit number followed by the local Unix time. */
export function makeNonce(nowMs: number): string {
  return `${randomBytes(8).readBigUInt64BE()}${Math.floor(nowMs / 1000)}`;
}

export interface SignOptions {
  /** Local clock, milliseconds since the epoch. */
  nowMs: number;
  /** Seconds added to the local clock for oauth_timestamp (clock-skew correction). */
  skewSeconds?: number;
  /** Fixed nonce (tests); a fresh random one otherwise. */
  nonce?: string;
}

/**
 * The Authorization header value for a request signed with `credentials`, or undefined when
 * there is no consumer key (upstream then sends the request unsigned).
 */
export function authorizationHeader(credentials: Credentials, options: SignOptions): string | undefined {
  if (!credentials.consumerKey) return undefined;
  const params: [string, string][] = [
    ['oauth_nonce', options.nonce ?? makeNonce(options.nowMs)],
    ['oauth_timestamp', String(Math.floor(options.nowMs / 1000) + Math.trunc(options.skewSeconds ?? 0))],
    ['oauth_version', '1.0'],
    ['oauth_signature_method', 'PLAINTEXT'],
    ['oauth_consumer_key', credentials.consumerKey],
  ];
  if (credentials.tokenKey) params.push(['oauth_token', credentials.tokenKey]);
  params.push(['oauth_signature', plaintextSignature(credentials)]);
  return `OAuth ${params.map(([name, value]) => `${name}="${percentEncode(value)}"`).join(', ')}`;
}
