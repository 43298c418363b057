// The maas-scripts tarball and the deploy-info scripts in it: layout and index.json as MAAS sends
// them (docs/protocol.md §5.2–§5.4), and the scripts themselves, run with bash as any MAAS client
// would run them, printing exactly what our built-in collectors print.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOY_INFO_SCRIPTS } from '../../../src/resources/types.js';
import { DEPLOY_INFO_CATALOGUE } from '../../../src/server/scripts/deploy-info.js';
import { CLI, PROJECT_ROOT } from '../../helpers/cli.js';
import { call, createDeployed, signal, startHarness, untar, type Harness } from '../server-harness.js';

const INDEX_KEYS = [
  'name', 'script_result_id', 'script_version_id', 'timeout_seconds', 'parallel', 'hardware_type', 'parameters', 'packages',
  'for_hardware', 'apply_configured_networking', 'has_started', 'has_finished', 'default', 'tags', 'path',
];

describe('the maas-scripts tarball of a deployed machine', () => {
  let h: Harness;
  let token: string;
  beforeAll(async () => {
    h = await startHarness('memory');
    ({ token } = await createDeployed(h, { hostname: 'tarball' }));
  });
  afterAll(() => h.stop());

  it('holds the six deploy-info scripts at 0755 and index.json at 0644, last', async () => {
    const response = await call(h, 'GET', '/metadata/2012-03-01/maas-scripts', token);
    expect([response.status, response.headers.get('content-type')]).toEqual([200, 'application/x-tar']);
    const members = await untar(Buffer.from(await response.arrayBuffer()));
    expect(members.map((m) => [m.name, m.mode])).toEqual([
      ...DEPLOY_INFO_SCRIPTS.map((name) => [`commissioning/${name}`, 0o755]),
      ['index.json', 0o644],
    ]);
    const text = members.at(-1)!.content.toString();
    expect(text).toContain('"timeout_seconds": 60.0, ');
    const index = JSON.parse(text) as { '1.0': { commissioning_scripts: Record<string, unknown>[] } };
    const entries = index['1.0'].commissioning_scripts;
    for (const entry of entries) expect(Object.keys(entry)).toEqual(INDEX_KEYS);
    expect(entries.map((e) => [e.name, e.timeout_seconds, e.parallel, e.has_started, e.default, e.tags])).toEqual([
      ['20-maas-03-machine-resources', 60, 0, false, true, ['deploy-info', 'node']],
      ['50-maas-01-commissioning', 60, 0, false, true, ['deploy-info', 'node']],
      ['maas-list-modaliases', 10, 2, false, true, ['deploy-info', 'node']],
      ['maas-lshw', 300, 2, false, true, ['deploy-info', 'node']],
      ['maas-serial-ports', 10, 2, false, true, ['deploy-info', 'node']],
      ['maas-support-info', 300, 2, false, true, ['deploy-info', 'node']],
    ]);
  });

  it('adds the stored outputs of results that ran, and marks them started and finished', async () => {
    const response = await call(h, 'GET', '/metadata/2012-03-01/maas-scripts', token);
    const first = await untar(Buffer.from(await response.arrayBuffer()));
    const index = JSON.parse(first.at(-1)!.content.toString()) as { '1.0': { commissioning_scripts: { name: string; script_result_id: number }[] } };
    const serial = index['1.0'].commissioning_scripts.find((e) => e.name === 'maas-serial-ports')!;
    await signal(h, token, 'maas-serial-ports', { resultId: serial.script_result_id, stdout: '/dev/ttyS0\n' });
    const again = await untar(Buffer.from(await (await call(h, 'GET', '/metadata/2012-03-01/maas-scripts', token)).arrayBuffer()));
    const out = again.find((m) => m.name === `out/maas-serial-ports.${serial.script_result_id}.out`);
    expect(out?.content.toString()).toBe('/dev/ttyS0\n');
    const entry = (JSON.parse(again.at(-1)!.content.toString()) as { '1.0': { commissioning_scripts: Record<string, unknown>[] } })['1.0'].commissioning_scripts.find(
      (e) => e.name === 'maas-serial-ports',
    );
    expect([entry?.has_started, entry?.has_finished]).toEqual([true, true]);
  });
});

describe('the deploy-info scripts', () => {
  it.each(DEPLOY_INFO_CATALOGUE.map((s) => [s.name, s] as const))('%s carries MAAS script metadata matching the index and is valid bash', (name, script) => {
    const block = /# --- Start MAAS 1\.0 script metadata ---\n([\s\S]*?)# --- End MAAS 1\.0 script metadata ---/.exec(script.body)?.[1];
    const meta = parseYaml(block!.replace(/^# ?/gm, '')) as Record<string, unknown>;
    expect(meta.name).toBe(name);
    expect(meta.script_type).toBe('commissioning');
    const timeout = String(meta.timeout);
    const seconds = timeout.includes(':') ? timeout.split(':').reduce((sum, part) => sum * 60 + Number(part), 0) : Number(timeout);
    expect(seconds).toBe(script.timeoutSeconds);
    expect(meta.parallel === 'any' ? 2 : 0).toBe(script.parallel);
    expect(script.body.startsWith('#!/bin/bash\n')).toBe(true);
    expect(spawnSync('bash', ['-n'], { input: script.body }).status).toBe(0);
  });
});

describe('running the deploy-info scripts as a MAAS client does', () => {
  let dir: string;
  let h: Harness;
  const body = (name: string) => DEPLOY_INFO_CATALOGUE.find((s) => s.name === name)!.body;
  const nodeDir = dirname(process.execPath);
  // PATH with the system tools (bash, wget, coreutils) and node, but not our CLI.
  const basePath = [...new Set([nodeDir, '/usr/local/bin', '/usr/bin', '/bin'])].join(':');

  // Async: the server answering the script's download runs in this same process.
  async function runScript(name: string, env: Record<string, string>): Promise<{ status: number | undefined; stdout: string; stderr: string }> {
    const path = join(dir, 'scripts', name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, body(name));
    chmodSync(path, 0o755);
    const run = await execa(path, [], { env: { PATH: basePath, HOME: dir, ...env }, extendEnv: false, reject: false, timeout: 60_000, stripFinalNewline: false });
    return { status: run.exitCode, stdout: String(run.stdout), stderr: String(run.stderr) };
  }
  const direct = (collector: string) => execFileSync(process.execPath, [CLI, 'collect', '--only', collector], { encoding: 'utf8' });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deploy-info-run-'));
    // Our CLI on PATH, as after `wget …/MAAS/maas-run-scripts -O /usr/bin/maas-run-scripts`.
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'bin', 'maas-run-scripts'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
    chmodSync(join(dir, 'bin', 'maas-run-scripts'), 0o755);
    h = await startHarness('memory');
  });
  afterAll(async () => {
    await h.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints what `collect --only serial-ports` prints, using maas-run-scripts from PATH', async () => {
    const run = await runScript('maas-serial-ports', { PATH: `${join(dir, 'bin')}:${basePath}` });
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(direct('serial-ports'));
  });

  it('downloads the CLI from the server into DOWNLOAD_PATH when it is not on PATH', async () => {
    expect(existsSync(join(PROJECT_ROOT, 'build/maas-run-scripts'))).toBe(true);
    const downloads = join(dir, 'downloads');
    mkdirSync(downloads);
    const run = await runScript('maas-list-modaliases', { MAAS_BASE_URL: h.origin, DOWNLOAD_PATH: downloads });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(direct('modaliases'));
    expect(existsSync(join(downloads, 'maas-run-scripts'))).toBe(true);
  });

  it('fails with a clear message when the CLI can be neither found nor downloaded', async () => {
    const run = await runScript('maas-lshw', { MAAS_BASE_URL: 'http://127.0.0.1:9', DOWNLOAD_PATH: join(dir, 'nowhere') });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('cannot download http://127.0.0.1:9/MAAS/maas-run-scripts');
  });

  it('has 20-maas-03-machine-resources print the resources JSON and keep it in MAAS_RESOURCES_FILE', async () => {
    const resourcesFile = join(dir, 'resources.json');
    writeFileSync(resourcesFile, '');
    const run = await runScript('20-maas-03-machine-resources', { PATH: `${join(dir, 'bin')}:${basePath}`, MAAS_RESOURCES_FILE: resourcesFile });
    expect(run.status).toBe(0);
    const document = JSON.parse(run.stdout) as { api_version: string; resources: unknown };
    expect(document.api_version).toBe('1.0');
    expect(readFileSync(resourcesFile, 'utf8')).toBe(run.stdout);
  });

  it('has 50-maas-01-commissioning print MAAS_RESOURCES_FILE with the storage and machine hints added', async () => {
    const resourcesFile = join(dir, 'given.json');
    writeFileSync(resourcesFile, JSON.stringify({ api_version: '1.0', resources: { cpu: { total: 2 } } }));
    writeFileSync(join(dir, 'storage.json'), '{"layout": "flat"}');
    const run = await runScript('50-maas-01-commissioning', {
      MAAS_RESOURCES_FILE: resourcesFile,
      MAAS_STORAGE_CONFIG_FILE: join(dir, 'storage.json'),
      MAAS_MACHINE_CONFIG_HINTS_FILE: join(dir, 'absent.json'),
    });
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ api_version: '1.0', resources: { cpu: { total: 2 } }, 'storage-extra': { layout: 'flat' } });
    expect(run.stdout).toContain('\n  "api_version"');
  });

  it('has 50-maas-01-commissioning fail with a message when there is nothing to read', async () => {
    const empty = join(dir, 'empty.json');
    writeFileSync(empty, '');
    const run = await runScript('50-maas-01-commissioning', { MAAS_RESOURCES_FILE: empty });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/no machine resources in \$MAAS_RESOURCES_FILE/);
  });
});
