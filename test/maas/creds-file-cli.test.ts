// The creds-file errors as a user meets them: report-results --config run as a subprocess.
import { writeFile } from 'node:fs/promises';
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
    ['another shape', 'datasource:\n  NoCloud: {}\n', /^creds file .*creds\.yaml has neither reporting\.maas nor datasource\.MAAS; rewrite it with get-machine-token$/],
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
