// Where a report goes and as whom: flags win over the creds file (docs/protocol.md §1.5), and a
// missing piece is a usage error saying what to pass.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { credsYaml } from '../../src/maas/credentials.js';
import { resolveReportSettings } from '../../src/runner/report-settings.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'settings-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function credsFile(): Promise<string> {
  const path = join(dir, 'web01-creds.yaml');
  await writeFile(path, credsYaml({ consumer_key: 'CK', endpoint: 'http://10.0.0.2:5240/MAAS/metadata/status/x7ghqk', token_key: 'TK', token_secret: 'TS' }));
  return path;
}

describe('resolveReportSettings', () => {
  it('takes URL and credentials from the creds file, which also names the machine', async () => {
    expect(await resolveReportSettings({ config: await credsFile() })).toEqual({
      metadataUrl: 'http://10.0.0.2:5240/MAAS/metadata/status/x7ghqk',
      credentials: { consumerKey: 'CK', tokenKey: 'TK', tokenSecret: 'TS', consumerSecret: '' },
      endpoint: 'http://10.0.0.2:5240/MAAS/metadata/status/x7ghqk',
    });
  });

  it('lets --machine-token and --metadata-url replace the file\'s parts', async () => {
    const settings = await resolveReportSettings({ config: await credsFile(), machineToken: 'A:B:C', metadataUrl: 'http://maas.example.com:5240/MAAS' });
    expect(settings).toMatchObject({ metadataUrl: 'http://maas.example.com:5240/MAAS', credentials: { consumerKey: 'A', tokenKey: 'B', tokenSecret: 'C' } });
    // The state stays that of the machine the file names.
    expect(settings.endpoint).toBe('http://10.0.0.2:5240/MAAS/metadata/status/x7ghqk');
  });

  it('says what to pass when the URL or the credentials are missing', async () => {
    await expect(resolveReportSettings({ machineToken: 'A:B:C' })).rejects.toThrow(/^No MAAS URL set: pass --config FILE .* or --metadata-url URL$/);
    await expect(resolveReportSettings({ metadataUrl: 'http://maas.example.com:5240/MAAS' })).rejects.toThrow(/^No machine credentials: pass --config FILE .* or --machine-token TOKEN$/);
    await expect(resolveReportSettings({})).rejects.toBeInstanceOf(UsageError);
  });

  it('names a creds file that does not exist with its own code', async () => {
    const error = await resolveReportSettings({ config: join(dir, 'absent.yaml') }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'MRS_NOT_FOUND_FILE', exitCode: 2 });
  });
});
