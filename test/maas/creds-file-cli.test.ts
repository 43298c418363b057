// The creds-file errors as a user meets them: report-results --config run as a subprocess.
import { symlink, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { removeTree, tempDir } from '../helpers/trees.js';

let dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.map(removeTree));
  dirs = [];
});

describe('a bad creds file given to --config', () => {
  it.each([
    ['malformed YAML', 'reporting:\n  maas:\n    token_secret: TOPSECRETVALUE\n   consumer_key: [\n', /^creds file .*creds\.yaml is not valid YAML at line 4, column 1; rewrite it with get-machine-token$/],
    ['missing keys', 'reporting:\n  maas:\n    consumer_key: CK\n    token_secret: TOPSECRETVALUE\n', /^creds file .*creds\.yaml lacks reporting\.maas\.token_key, reporting\.maas\.endpoint; rewrite it with get-machine-token$/],
    // A key that is a list once made the YAML library print a Node warning (quoting the file) before the error.
    ['a key that is a list', 'reporting:\n  maas:\n    consumer_key: CK\n    token_secret: TOPSECRETVALUE\n? [x, TOPSECRETVALUE]\n: z\n', /^creds file .*creds\.yaml lacks reporting\.maas\.token_key, reporting\.maas\.endpoint; rewrite it with get-machine-token$/],
    ['another shape', 'datasource:\n  NoCloud: {}\n', /^creds file .*creds\.yaml has neither reporting\.maas nor datasource\.MAAS; rewrite it with get-machine-token$/],
    // Eleven levels of nine-fold aliases: billions of nodes once expanded.
    [
      'aliases that expand without end',
      `a: &a [x, x, x, x, x, x, x, x, x]\n${Array.from({ length: 11 }, (_, i) => `l${i}: &l${i} [${Array(9).fill(i === 0 ? '*a' : `*l${i - 1}`).join(', ')}]`).join('\n')}\nreporting:\n  maas:\n    token_secret: TOPSECRETVALUE\n`,
      /^creds file .*creds\.yaml is not a plain creds file \(its YAML aliases expand too far\); rewrite it with get-machine-token$/,
    ],
  ])('with %s ends in one line and exit 2, showing no secret', async (_what, text, message) => {
    const dir = await tempDir('mrs-creds-cli-');
    dirs.push(dir);
    await writeFile(join(dir, 'creds.yaml'), text);
    const run = await runCli(['report-results', '--config', join(dir, 'creds.yaml'), '--state-dir', join(dir, 'state')]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe('');
    expect(`${run.stdout}${run.stderr}`).not.toContain('TOPSECRETVALUE');
  });
});

describe('a --config that is no regular file, or a --state-dir that cannot be one', () => {
  it.each([
    ['a FIFO nobody writes to', async (path: string) => void (await execa('mkfifo', [path]))],
    ['a device that never ends', async (path: string) => symlink('/dev/zero', path)],
  ])('refuses %s in one line with exit 2, instead of blocking', async (_what, make) => {
    const dir = await tempDir('mrs-creds-cli-');
    dirs.push(dir);
    await make(join(dir, 'creds.yaml'));
    const run = await runCli(['report-results', '--config', join(dir, 'creds.yaml'), '--state-dir', join(dir, 'state')], { timeout: 20_000 });
    expect(run.exitCode).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([`cannot read creds file ${join(dir, 'creds.yaml')}: it is not a regular file; pass the file register-machine or get-machine-token wrote`]);
  });

  it('refuses a state directory where the kernel allows none (under /proc) in one line with exit 2, instead of spinning', async () => {
    const run = await runCli(['report-results', '--machine-token', 'a:b:c', '--metadata-url', 'http://127.0.0.1:9/MAAS', '--state-dir', '/proc/self'], { timeout: 20_000 });
    expect(run.exitCode).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^cannot create the state directory \/proc\/self: .*; choose a writable one with --state-dir DIR$/);
  });
});
