import { chmod, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { CliError, UsageError } from '../../src/errors.js';
import { assertWritableDir, credsYaml, exposedCredsWarning, formatCredentials, parseCredentials, readCredsFile, simpleCredsTree } from '../../src/maas/credentials.js';

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

  it('accepts an API key pasted with the newline the terminal copied after it', () => {
    expect(parseCredentials('CK:TK:TS\n', 'ADMIN_TOKEN')).toEqual({ consumerKey: 'CK', tokenKey: 'TK', tokenSecret: 'TS', consumerSecret: '' });
    expect(parseCredentials('  CK:TK:TS:CS \r\n', 'ADMIN_TOKEN').consumerSecret).toBe('CS');
  });

  it('keeps every part whole, however long', () => {
    const key = 'Ux8vQsFNqXbvWqPa2H:8Nb3tYc6dLmKpQrZ4a:F7gh2JkLmNpQrStUvWxYz23456789abc:Zq9Y';
    expect(parseCredentials(key, 'token')).toEqual({
      consumerKey: 'Ux8vQsFNqXbvWqPa2H',
      tokenKey: '8Nb3tYc6dLmKpQrZ4a',
      tokenSecret: 'F7gh2JkLmNpQrStUvWxYz23456789abc',
      consumerSecret: 'Zq9Y',
    });
  });

  it.each(['a:CK:TK:TS:CS', 'CK:TK:TS:CS trailing:x'])('rejects %j, which only contains a key somewhere inside it', (text) => {
    expect(() => parseCredentials(text, 'ADMIN_TOKEN')).toThrow(/^ADMIN_TOKEN: Invalid OAuth credentials format/);
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

  it('writes the keys in alphabetical order whatever order they were given in', () => {
    const text = credsYaml({ token_secret: 'TS', token_key: 'TK', endpoint: 'http://h/MAAS/metadata/status/a', consumer_key: 'CK' });
    expect([...text.matchAll(/^ {4}(\w+):/gm)].map((m) => m[1])).toEqual(['consumer_key', 'endpoint', 'token_key', 'token_secret']);
  });

  it('leaves out an empty consumer secret (MAAS keys have none) and keeps one that is set', () => {
    const creds = { consumer_key: 'CK', endpoint: 'http://h/MAAS/metadata/status/a', token_key: 'TK', token_secret: 'TS' };
    expect(parse(credsYaml({ ...creds, consumer_secret: '' })).reporting.maas).toEqual(creds);
    expect(parse(credsYaml({ ...creds, consumer_secret: 'CS' })).reporting.maas).toEqual({ ...creds, consumer_secret: 'CS' });
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

  const goodFile = 'reporting:\n  maas:\n    consumer_key: CK\n    endpoint: http://h/MAAS/metadata/status/a\n    token_key: TK\n    token_secret: TS\n';

  it('drops the newline kept by a token secret pasted as a YAML block, and spaces around every value', async () => {
    const path = join(dir, 'pasted.yaml');
    await writeFile(
      path,
      [
        'reporting:',
        '  maas:',
        '    consumer_key: " CK "',
        '    endpoint: "http://h/MAAS/metadata/status/a "',
        '    token_key: "\tTK"',
        '    token_secret: |',
        '      F7gh2JkLmNpQrStUvWxYz23456789abc',
        '    consumer_secret: "CS\\n"',
        '',
      ].join('\n'),
    );
    expect(await readCredsFile(path)).toEqual({
      credentials: { consumerKey: 'CK', tokenKey: 'TK', tokenSecret: 'F7gh2JkLmNpQrStUvWxYz23456789abc', consumerSecret: 'CS' },
      endpoint: 'http://h/MAAS/metadata/status/a',
    });
  });

  it.each([
    ['empty', '""'],
    ['blank', '"   "'],
  ])('refuses a token_key that is %s as missing', async (_what, value) => {
    const path = join(dir, 'empty-key.yaml');
    await writeFile(path, goodFile.replace('token_key: TK', `token_key: ${value}`));
    const error = await readCredsFile(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as CliError).code).toBe('MRS_CREDS_INVALID');
    expect((error as Error).message).toBe(`creds file ${path} lacks reporting.maas.token_key; rewrite it with get-machine-token`);
  });

  it('names the datasource shape in what it lacks', async () => {
    const path = join(dir, 'datasource.cfg');
    await writeFile(path, 'datasource:\n  MAAS:\n    consumer_key: CK\n    token_key: TK\n    token_secret: TS\n');
    await expect(readCredsFile(path)).rejects.toThrow(`creds file ${path} lacks datasource.MAAS.metadata_url; rewrite it with get-machine-token`);
  });

  it.each([
    ['a list', 'reporting:\n  maas:\n    - consumer_key: CK\n    - token_key: TK\n'],
    ['a string', 'reporting:\n  maas: CK:TK:TS\n'],
    ['empty', 'reporting:\n  maas:\n'],
    ['a list at the top', '- reporting:\n    maas:\n      consumer_key: CK\n'],
  ])('rejects reporting.maas that is %s as neither shape', async (_what, text) => {
    const path = join(dir, 'shape.yaml');
    await writeFile(path, text);
    const error = await readCredsFile(path).catch((e: unknown) => e);
    expect((error as CliError).code).toBe('MRS_CREDS_INVALID');
    expect((error as Error).message).toBe(`creds file ${path} has neither reporting.maas nor datasource.MAAS; rewrite it with get-machine-token`);
  });

  it('gives bad YAML the invalid-file code and the fix', async () => {
    const path = join(dir, 'bad.yaml');
    await writeFile(path, 'reporting:\n  maas: [unclosed\n');
    const error = await readCredsFile(path).catch((e: unknown) => e);
    expect((error as CliError).code).toBe('MRS_CREDS_INVALID');
    expect((error as Error).message).toMatch(/^creds file .* is not valid YAML at line \d+, column \d+; rewrite it with get-machine-token$/);
  });

  it('refuses YAML aliases that multiply, even a few hundred nodes, without expanding them', async () => {
    const path = join(dir, 'aliases.yaml');
    await writeFile(path, `a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [${Array(9).fill('*a').join(', ')}]\nc: [*b, *b, *b]\n${goodFile}`);
    const error = await readCredsFile(path).catch((e: unknown) => e);
    expect((error as CliError).code).toBe('MRS_CREDS_INVALID');
    expect((error as Error).message).toBe(`creds file ${path} is not a plain creds file (its YAML aliases expand too far); rewrite it with get-machine-token`);
    // The parser's own complaint stays attached for anyone debugging.
    expect((error as Error).cause).toBeInstanceOf(Error);
  });

  it('reads a file that uses a few aliases', async () => {
    const path = join(dir, 'aliases.yaml');
    await writeFile(path, 'reporting:\n  maas:\n    consumer_key: &key CK\n    endpoint: http://h/MAAS/metadata/status/a\n    token_key: *key\n    token_secret: TS\n');
    expect((await readCredsFile(path)).credentials).toMatchObject({ consumerKey: 'CK', tokenKey: 'CK' });
  });

  it('tells a missing file (its own code, with the system error as the cause) from one it cannot read', async () => {
    const missing = await readCredsFile(join(dir, 'absent.yaml')).catch((e: unknown) => e);
    expect((missing as CliError).code).toBe('MRS_NOT_FOUND_FILE');
    expect((missing as Error).message).toBe(`cannot read creds file ${join(dir, 'absent.yaml')}: no such file or directory; pass the file register-machine or get-machine-token wrote`);
    expect(((missing as Error).cause as NodeJS.ErrnoException).code).toBe('ENOENT');

    await writeFile(join(dir, 'file'), '');
    const underFile = await readCredsFile(join(dir, 'file', 'creds.yaml')).catch((e: unknown) => e);
    expect((underFile as CliError).code).toBe('MRS_CREDS_UNREADABLE');
    expect((underFile as Error).message).toBe(`cannot read creds file ${join(dir, 'file', 'creds.yaml')}: a parent is not a directory; pass the file register-machine or get-machine-token wrote`);
  });

  it('names the system error when the file cannot be read back', async () => {
    // /proc/self/mem is a regular file whose first page is never mapped: reading it fails with EIO.
    const error = await readCredsFile('/proc/self/mem').catch((e: unknown) => e);
    expect((error as CliError).code).toBe('MRS_CREDS_UNREADABLE');
    expect((error as Error).message).toMatch(/^cannot read creds file \/proc\/self\/mem: .*EIO.*; pass the file register-machine or get-machine-token wrote$/);
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toBe('EIO');
  });

  it.each([
    ['a FIFO nobody writes to', async (path: string) => void (await execa('mkfifo', [path]))],
    ['a link to a device that never ends', async (path: string) => symlink('/dev/zero', path)],
  ])('refuses %s at once instead of blocking', async (_what, make) => {
    const path = join(dir, 'creds.yaml');
    await make(path);
    const error = await readCredsFile(path).catch((e: unknown) => e);
    expect((error as CliError).code).toBe('MRS_CREDS_UNREADABLE');
    expect((error as Error).message).toBe(`cannot read creds file ${path}: it is not a regular file; pass the file register-machine or get-machine-token wrote`);
  });

  it('refuses a directory given as the creds file', async () => {
    const path = join(dir, 'creds.d');
    await mkdir(path);
    const error = await readCredsFile(path).catch((e: unknown) => e);
    expect((error as CliError).code).toBe('MRS_CREDS_UNREADABLE');
    expect((error as Error).message).toBe(`cannot read creds file ${path}: it is not a regular file; pass the file register-machine or get-machine-token wrote`);
  });

  it('reads a creds file padded with comments up to 64 KiB, and refuses a larger one unread', async () => {
    const path = join(dir, 'big.yaml');
    const padded = (size: number) => goodFile + '#'.repeat(size - goodFile.length - 1) + '\n';
    await writeFile(path, padded(64 * 1024));
    expect((await readCredsFile(path)).credentials.tokenKey).toBe('TK');
    await writeFile(path, padded(64 * 1024 + 1));
    const error = await readCredsFile(path).catch((e: unknown) => e);
    expect((error as CliError).code).toBe('MRS_CREDS_UNREADABLE');
    expect((error as Error).message).toBe(`cannot read creds file ${path}: it is 65537 bytes, far more than a creds file holds; pass the file register-machine or get-machine-token wrote`);
  });

  it('leaves no file open after reading, whether the file was good or refused', async () => {
    const good = join(dir, 'good.yaml');
    await writeFile(good, goodFile);
    const fifo = join(dir, 'fifo');
    await execa('mkfifo', [fifo]);
    const before = (await readdir('/proc/self/fd')).length;
    for (let i = 0; i < 20; i += 1) {
      await readCredsFile(good);
      await readCredsFile(fifo).catch(() => undefined);
    }
    expect((await readdir('/proc/self/fd')).length).toBeLessThanOrEqual(before);
  });
});

describe('exposedCredsWarning', () => {
  it('warns, naming the mode and the fix, when others may read the file', async () => {
    const path = join(dir, 'creds.yaml');
    await writeFile(path, 'x');
    await chmod(path, 0o644);
    expect(await exposedCredsWarning(path)).toBe(
      `warning: creds file ${path} can be read by other users (mode 0644); its token lets them report as this machine: chmod 600 ${path}`,
    );
    await chmod(path, 0o640);
    expect(await exposedCredsWarning(path)).toMatch(/\(mode 0640\)/);
    await chmod(path, 0o604);
    expect(await exposedCredsWarning(path)).toMatch(/\(mode 0604\)/);
  });

  it('says nothing about a private file, or one it cannot examine', async () => {
    const path = join(dir, 'creds.yaml');
    await writeFile(path, 'x');
    await chmod(path, 0o600);
    expect(await exposedCredsWarning(path)).toBeUndefined();
    expect(await exposedCredsWarning(join(dir, 'absent.yaml'))).toBeUndefined();
  });
});

describe('assertWritableDir', () => {
  it('accepts an existing directory it may write to', async () => {
    await expect(assertWritableDir(dir, '--state-dir')).resolves.toBeUndefined();
  });

  it('names a missing directory and says to create it', async () => {
    const error = await assertWritableDir(join(dir, 'absent'), '--state-dir').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(`--state-dir ${join(dir, 'absent')} cannot be used: no such file or directory; create it or choose another directory`);
  });

  it('refuses a file where a directory is needed', async () => {
    await writeFile(join(dir, 'file'), '');
    const error = await assertWritableDir(join(dir, 'file'), '--state-dir').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(`--state-dir ${join(dir, 'file')} is not a directory; choose a directory`);
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
