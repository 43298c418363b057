// Random identifiers in the shapes MAAS uses: API/token keys and machine system ids.
import { randomInt } from 'node:crypto';
import type { TokenRecord } from './store.js';

// Django's default "unambiguous" alphabet: letters and digits without i l o I O 0 1.
const KEY_ALPHABET = 'abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const SYSTEM_ID_ALPHABET = '34678abcdefghkmnpqrstwxy';

/** A random string of `length` characters over the unambiguous key alphabet. */
export function randomKey(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += KEY_ALPHABET[randomInt(KEY_ALPHABET.length)];
  return out;
}

/** A fresh token (18-char consumer and token keys, 32-char secret, empty consumer secret). */
export function newToken(owner: { username?: string; systemId?: string }): TokenRecord {
  return {
    consumerKey: randomKey(18),
    consumerSecret: '',
    tokenKey: randomKey(18),
    tokenSecret: randomKey(32),
    username: owner.username ?? null,
    systemId: owner.systemId ?? null,
  };
}

/** A 6-character system id: base 24 of a random number in [24^5, 24^6), as MAAS makes them. */
export function newSystemId(): string {
  let n = randomInt(24 ** 5, 24 ** 6);
  let out = '';
  while (n > 0) {
    out = SYSTEM_ID_ALPHABET[n % 24] + out;
    n = Math.floor(n / 24);
  }
  return out;
}

/** The "ck:tk:ts" form of a token, as users paste it. */
export function apiKeyString(token: TokenRecord): string {
  return `${token.consumerKey}:${token.tokenKey}:${token.tokenSecret}`;
}
