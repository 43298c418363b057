import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { UsageError } from '../../src/errors.js';
import { credsYaml, formatCredentials, parseCredentials, readCredsFile, simpleCredsTree } from '../../src/maas/credentials.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'creds-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseCredentials', () => {
  it('reads consumer key, token key and token secret, with an optional consumer secret', () => {
    expect(parseCredentials('CK:TK:TS', 'token')).toEqual({ consumerKey: 'CK', tokenKey: 'TK', tokenSecret: 'TS', consumerSecret: '' });
    expect(parseCredentials('CK:TK:TS:CS', 'token')).toEqual({ consumerKey: 'CK', tokenKey: 'TK', tokenSecret: 'TS', consumerSecret: 'CS' });
  });

  it.each(['', 'CK:TK', 'CK::TS', ':TK:TS', 'CK:TK:TS:', 'CK:TK:TS:CS:X', 'CK TK TS'])('rejects %j with a one-line usage error (exit 2)', (text) => {
    expect(() => parseCredentials(text, 'ADMIN_TOKEN')).toThrow(UsageError);
    expect(() => parseCredentials(text, 'ADMIN_TOKEN')).toThrow(/^ADMIN_TOKEN: Invalid OAuth credentials format/);
  });

  it('never repeats the rejected value, which may hold a secret', () => {
    const error = (() => {
      try {
        return parseCredentials('CK:TK:TOPSECRETVALUE:CS:extra', 'ADMIN_TOKEN');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(2);
    expect((error as Error).message).not.toContain('TOPSECRETVALUE');
  });

  it('round-trips through formatCredentials', () => {
    for (const text of ['a:b:c', 'a:b:c:d']) expect(formatCredentials(parseCredentials(text, 'x'))).toBe(text);
  });
});

describe('credsYaml', () => {
  it('writes reporting.maas with the keys in alphabetical order', () => {
    const text = credsYaml({ token_secret: 'S3cr3t', endpoint: 'http://10.0.0.2:5240/MAAS/metadata/status/x7ghqk', token_key: 'TK', consumer_key: 'CK' });
    expect(text.split('\n')[0]).toBe('reporting:');
    const keys = [...text.matchAll(/^ {4}(\w+):/gm)].map((m) => m[1]);
    expect(keys).toEqual(['consumer_key', 'endpoint', 'token_key', 'token_secret']);
    expect(parse(text)).toEqual({
      reporting: { maas: { consumer_key: 'CK', endpoint: 'http://10.0.0.2:5240/MAAS/metadata/status/x7ghqk', token_key: 'TK', token_secret: 'S3cr3t' } },
    });
  });

  it('quotes values YAML would otherwise read as numbers or booleans', () => {
    const text = credsYaml({ consumer_key: '12345', endpoint: 'http://h/MAAS/metadata/status/a', token_key: 'true', token_secret: '1e5' });
    expect(parse(text).reporting.maas).toMatchObject({ consumer_key: '12345', token_key: 'true', token_secret: '1e5' });
  });
});

describe('readCredsFile', () => {
  it('reads the file this tool writes', async () => {
    const path = join(dir, 'web01-creds.yaml');
    await writeFile(path, credsYaml({ consumer_key: 'CK', endpoint: 'http://10.0.0.2:5240/MAAS/metadata/status/x7ghqk', token_key: 'TK', token_secret: 'TS' }));
    expect(await readCredsFile(path)).toEqual({
      credentials: { consumerKey: 'CK', tokenKey: 'TK', tokenSecret: 'TS', consumerSecret: '' },
      endpoint: 'http://10.0.0.2:5240/MAAS/metadata/status/x7ghqk',
    });
  });

  it("reads cloud-init's reporting shape with unrelated keys around it", async () => {
    const path = join(dir, '90_dpkg_local_cloud_config.cfg');
    await writeFile(
      path,
      [
        'manual_cache_clean: true',
        'reporting:',
        '  maas:',
        '    type: webhook',
        '    endpoint: http://10.0.0.3:5248/MAAS/metadata/status/x7ghqk',
        '    consumer_key: Ux8vQsFNqXbvWqPa2H',
        '    token_key: 8Nb3tYc6dLmKpQrZ4a',
        '    token_secret: F7gh2JkLmNpQrStUvWxYz23456789abc',
        '',
      ].join('\n'),
    );
    const creds = await readCredsFile(path);
    expect(creds.endpoint).toBe('http://10.0.0.3:5248/MAAS/metadata/status/x7ghqk');
    expect(creds.credentials.tokenKey).toBe('8Nb3tYc6dLmKpQrZ4a');
  });

  it("reads cloud-init's datasource shape, taking metadata_url as the endpoint", async () => {
    const path = join(dir, 'datasource.cfg');
    await writeFile(
      path,
      'datasource:\n  MAAS:\n    metadata_url: http://10.0.0.2:5240/MAAS/metadata/\n    consumer_key: CK\n    token_key: TK\n    token_secret: TS\n    consumer_secret: CS\n',
    );
    expect(await readCredsFile(path)).toEqual({
      credentials: { consumerKey: 'CK', tokenKey: 'TK', tokenSecret: 'TS', consumerSecret: 'CS' },
      endpoint: 'http://10.0.0.2:5240/MAAS/metadata/',
    });
  });

  it('keeps numeric-looking values exactly as written', async () => {
    const path = join(dir, 'c.yaml');
    await writeFile(path, 'reporting:\n  maas:\n    consumer_key: 007\n    endpoint: http://h/MAAS/metadata/status/a\n    token_key: 1e3\n    token_secret: 0x10\n');
    expect((await readCredsFile(path)).credentials).toMatchObject({ consumerKey: '007', tokenKey: '1e3', tokenSecret: '0x10' });
  });

  it('names a missing file in a one-line usage error', async () => {
    const error = await readCredsFile(join(dir, 'absent.yaml')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(/absent\.yaml: no such file/);
    expect((error as Error).message).not.toContain('\n');
  });

  it('reports bad YAML by line and column without quoting the file (which holds the secret)', async () => {
    const path = join(dir, 'bad.yaml');
    await writeFile(path, 'reporting:\n  maas:\n    token_secret: TOPSECRETVALUE\n   consumer_key: [unclosed\n');
    const error = await readCredsFile(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(/is not valid YAML at line \d+/);
    expect((error as Error).message).not.toContain('TOPSECRETVALUE');
    expect((error as Error).message).not.toContain('\n');
  });

  it('lists every missing key', async () => {
    const path = join(dir, 'partial.yaml');
    await writeFile(path, 'reporting:\n  maas:\n    consumer_key: CK\n    token_secret: TOPSECRETVALUE\n');
    const error = await readCredsFile(path).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/lacks reporting\.maas\.token_key, reporting\.maas\.endpoint/);
    expect((error as Error).message).not.toContain('TOPSECRETVALUE');
  });

  it('rejects a file with neither shape', async () => {
    const path = join(dir, 'other.yaml');
    await writeFile(path, '- just\n- a list\n');
    await expect(readCredsFile(path)).rejects.toThrow(/neither reporting\.maas nor datasource\.MAAS/);
  });
});

describe('simpleCredsTree (creds files read without the YAML library)', () => {
  const yamlTree = (text: string) => parseDocument(text, { schema: 'failsafe' }).toJS() as unknown;

  it('reads the files every writer produces exactly as the YAML library reads them', () => {
    const written = credsYaml({ consumer_key: 'ck123', endpoint: 'http://10.0.0.2:5240/MAAS/metadata/status/x7ghqk', token_key: '4711', token_secret: 'Se-cr_et.9' });
    const plain = [
      written,
      'reporting:\n  maas:\n    consumer_key: true\n    token_key: 0x1F\n',
      'datasource:\n  MAAS:\n    consumer_key: null\n    metadata_url: http://maas.example.com:5240/MAAS/metadata?a=1&b=2,3\n    token_key: 1e3\n    token_secret: a:b\n',
      'reporting:\n    maas:\n        endpoint: /relative\n        token_key: 007\nother:\n  x: y\n',
      "reporting:\n  maas:\n    token_key: '0012'\n    token_secret: \"a b: c\"\n",
    ];
    for (const text of plain) {
      const tree = simpleCredsTree(text);
      expect(tree, text).toBeDefined();
      expect(tree, text).toEqual(yamlTree(text));
    }
  });

  it('leaves every other form to the YAML library', () => {
    const others = [
      '# comment\nreporting:\n  maas:\n    token_key: a\n',
      'reporting:\n\n  maas:\n    token_key: a\n',
      'reporting:\r\n  maas:\r\n    token_key: a\r\n',
      'reporting:\n  maas:\n    token_key: a\n    token_key: b\n',
      'reporting:\n\tmaas:\n',
      'reporting: {maas: {token_key: a}}\n',
      'reporting:\n  maas:\n    token_key: "a\\u0041"\n',
      "reporting:\n  maas:\n    token_key: 'it''s'\n",
      'reporting:\n  maas:\n    token_key: a # note\n',
      'reporting:\n  maas:\n    token_key:\n',
      'reporting:\n  maas:\n  token_key: a\n',
      '  reporting:\n    maas:\n      token_key: a\n',
      'reporting:\n  maas:\n    token_key: a:\n',
      '__proto__:\n  maas:\n    token_key: a\n',
      '',
    ];
    for (const text of others) expect(simpleCredsTree(text), JSON.stringify(text)).toBeUndefined();
  });
});
