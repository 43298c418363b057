import { describe, expect, it } from 'vitest';
import { authorizationHeader, percentEncode } from '../../src/maas/oauth.js';
import { recordedRequests } from '../helpers/wire.js';

function recordedAuthorization(scenario: string): string {
  return recordedRequests(scenario)[0]!.headers.find(([name]) => name === 'Authorization')![1];
}

const masked = (header: string) => header.replace(/oauth_nonce="\d+"/, 'oauth_nonce="N"').replace(/oauth_timestamp="\d+"/, 'oauth_timestamp="T"');

describe('authorizationHeader', () => {
  it("equals the upstream client's recorded header apart from nonce and timestamp", () => {
    const recorded = recordedAuthorization('register-ok');
    const ours = authorizationHeader({ consumerKey: 'CK', tokenKey: 'TK', tokenSecret: 'TS', consumerSecret: '' }, { nowMs: Date.now() });
    expect(masked(ours!)).toBe(masked(recorded));
  });

  it('puts the parameters in upstream order: nonce, timestamp, version, method, consumer key, token, signature', () => {
    const header = authorizationHeader({ consumerKey: 'a', tokenKey: 'b', tokenSecret: 'c', consumerSecret: '' }, { nowMs: 0 })!;
    const names = [...header.matchAll(/(\w+)="/g)].map((m) => m[1]);
    expect(names).toEqual(['oauth_nonce', 'oauth_timestamp', 'oauth_version', 'oauth_signature_method', 'oauth_consumer_key', 'oauth_token', 'oauth_signature']);
  });

  it('signs MAAS credentials as %26 followed by the token secret', () => {
    const header = authorizationHeader({ consumerKey: 'Ux8vQsFNqXbvWqPa2H', tokenKey: '8Nb3tYc6dLmKpQrZ4a', tokenSecret: 'F7gh2JkLmNpQrStUvWxYz23456789abc', consumerSecret: '' }, { nowMs: 0 })!;
    expect(header).toContain('oauth_signature="%26F7gh2JkLmNpQrStUvWxYz23456789abc"');
  });

  it('encodes secrets with reserved characters twice, as oauthlib does', () => {
    const header = authorizationHeader({ consumerKey: 'ck', tokenKey: 'tk', tokenSecret: 't s&e/cret', consumerSecret: 'c s' }, { nowMs: 0 })!;
    expect(header).toContain('oauth_signature="c%2520s%26t%2520s%2526e%252Fcret"');
  });

  it('adds the clock-skew correction to the timestamp but not to the time inside the nonce', () => {
    const nowMs = 1_795_625_981_500;
    const header = authorizationHeader({ consumerKey: 'a', tokenKey: 'b', tokenSecret: 'c', consumerSecret: '' }, { nowMs, skewSeconds: 3599 })!;
    expect(header).toContain('oauth_timestamp="1795629580"');
    expect(header).toMatch(/oauth_nonce="\d+1795625981"/);
  });

  it('gives a fresh nonce for every request', () => {
    const c = { consumerKey: 'a', tokenKey: 'b', tokenSecret: 'c', consumerSecret: '' };
    const nonces = new Set(Array.from({ length: 20 }, () => /oauth_nonce="(\d+)"/.exec(authorizationHeader(c, { nowMs: 0 })!)![1]));
    expect(nonces.size).toBe(20);
  });

  it('sends no header without a consumer key, and no oauth_token without a token key', () => {
    expect(authorizationHeader({ consumerKey: '', tokenKey: 'b', tokenSecret: 'c', consumerSecret: '' }, { nowMs: 0 })).toBeUndefined();
    expect(authorizationHeader({ consumerKey: 'a', tokenKey: '', tokenSecret: 'c', consumerSecret: '' }, { nowMs: 0 })).not.toContain('oauth_token=');
  });
});

describe('percentEncode', () => {
  it("encodes the characters encodeURIComponent leaves alone (! ' ( ) *)", () => {
    expect(percentEncode("a!b'c(d)e*f")).toBe('a%21b%27c%28d%29e%2Af');
    expect(percentEncode('-._~AZaz09')).toBe('-._~AZaz09');
    expect(percentEncode('é')).toBe('%C3%A9');
  });
});
