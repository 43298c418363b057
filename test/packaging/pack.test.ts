// `npm pack`: the tarball carries the bin, the compiled CLI and the single file, and installs
// (offline, from the npm cache `npm ci` filled) into a prefix where the bin runs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/cli.js';
import { cleanEnv, ensureBundle, isolatedDir, removeDirs } from './packaging-helpers.js';

const VERSION = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

// npm as a user runs it, without the variables of the npm run that started the tests.
// --ignore-scripts: npm test has built dist/ and build/ already; prepack would rebuild them
// while other test files run the built CLI.
function npm(args: string[], cwd: string) {
  return execa('npm', [...args, '--ignore-scripts', '--no-audit', '--no-fund'], { cwd, env: cleanEnv(), extendEnv: false, reject: false, stdin: 'ignore', timeout: 120_000 });
}

describe('the npm package', () => {
  const dirs: string[] = [];
  beforeAll(() => {
    ensureBundle();
  });
  afterEach(() => {
    removeDirs(dirs);
  });

  it('holds the bin, the compiled CLI and the single file, and no sources or tests', async () => {
    const packed = await npm(['pack', '--dry-run', '--json'], PROJECT_ROOT);
    expect(packed.exitCode, packed.stderr).toBe(0);
    const [report] = JSON.parse(packed.stdout) as { files: { path: string; mode: number }[] }[];
    const files = new Map(report!.files.map((f) => [f.path, f.mode]));
    expect(files.get('bin/maas-run-scripts')! & 0o111).not.toBe(0);
    expect(files.get('build/maas-run-scripts')! & 0o111).not.toBe(0);
    expect(files.has('dist/src/cli/entry.js')).toBe(true);
    expect(files.has('dist/src/server/server.js')).toBe(true);
    expect(files.has('package.json')).toBe(true);
    expect([...files.keys()].filter((path) => path.endsWith('.ts') || path.startsWith('test/') || path.startsWith('src/'))).toEqual([]);
  });

  it('installs offline into an empty prefix and exposes a maas-run-scripts bin that runs', async () => {
    const packDir = isolatedDir('pack', dirs);
    const packed = await npm(['pack', '--pack-destination', packDir, '--json'], PROJECT_ROOT);
    expect(packed.exitCode, packed.stderr).toBe(0);
    const [report] = JSON.parse(packed.stdout) as { filename: string }[];
    const tarball = join(packDir, report!.filename);

    const unpacked = isolatedDir('unpacked', dirs);
    await execa('tar', ['-xzf', tarball, '-C', unpacked]);
    const manifest = JSON.parse(readFileSync(join(unpacked, 'package', 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(Object.keys(manifest.bin)).toEqual(['maas-run-scripts']);

    const prefix = isolatedDir('prefix', dirs);
    const installed = await npm(['install', '--offline', '--prefix', prefix, tarball], prefix);
    expect(installed.exitCode, installed.stderr).toBe(0);
    const bin = join(prefix, 'node_modules', '.bin', 'maas-run-scripts');
    const version = await execa(bin, ['--version'], { cwd: prefix, env: cleanEnv(), extendEnv: false, reject: false, stdin: 'ignore' });
    expect(version.stdout.trim()).toBe(VERSION);
    const help = await execa(bin, ['register-machine', '--help'], { cwd: prefix, env: cleanEnv(), extendEnv: false, reject: false, stdin: 'ignore' });
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('MAAS_URL');
  });
});
