// `npm pack`: the tarball carries the bin, the compiled CLI and the single file, and installs
// (offline, from the npm cache `npm ci` filled) into a prefix where the bin runs.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/cli.js';
import { cleanEnv, ensureBundle, isolatedDir, PACKAGE_VERSION, removeDirs } from './packaging-helpers.js';


// npm as a user runs it, without the variables of the npm run that started the tests, except
// the cache: the one `npm ci` filled is where the offline install finds the packages.
// --ignore-scripts: npm test has built dist/ and build/ already; prepack would rebuild them
// while other test files run the built CLI.
function npm(args: string[], cwd: string) {
  const cache = process.env.npm_config_cache;
  const env = cleanEnv(cache ? { npm_config_cache: cache } : {});
  return execa('npm', [...args, '--ignore-scripts', '--no-audit', '--no-fund'], { cwd, env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 120_000 });
}

interface LockEntry {
  version?: string;
  dev?: boolean;
  [field: string]: unknown;
}

interface PackageManifest {
  name: string;
  version: string;
  license?: string;
  bin: Record<string, string>;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/**
 * A lockfile for a project whose only dependency is the tarball `file`, with its dependencies at
 * the versions package-lock.json locks (its production part, at the same places in node_modules).
 *
 * Why: a user's `npm install` of the tarball resolves its dependency ranges against the registry.
 * Offline, npm can resolve a range only from the registry's full package document, which `npm ci`
 * never fetches (it caches the short documents and the tarballs of the locked versions), so a
 * plain offline install fails on a machine whose cache holds only what `npm ci` put there. An
 * npm-shrinkwrap.json in the package would not help: npm reads a dependency's shrinkwrap only
 * when the registry says the package has one, never from a local tarball. Installing with this
 * lockfile uses the versions this project is tested with, from that cache, while the package's
 * own files and its own dependency list still decide what gets installed: npm refuses a lockfile
 * whose versions do not satisfy the ranges the tarball declares.
 */
function lockfileFor(file: string, integrity: string, manifest: PackageManifest): object {
  const locked = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const packages: Record<string, unknown> = {
    '': { dependencies: { [manifest.name]: `file:${file}` } },
    [`node_modules/${manifest.name}`]: {
      version: manifest.version,
      resolved: `file:${file}`,
      integrity,
      license: manifest.license,
      dependencies: manifest.dependencies,
      optionalDependencies: manifest.optionalDependencies,
      bin: manifest.bin,
      engines: manifest.engines,
    },
  };
  for (const [path, entry] of Object.entries(locked.packages)) {
    if (path !== '' && !entry.dev) packages[path] = entry;
  }
  return { name: 'install-check', lockfileVersion: 3, requires: true, packages };
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

  it('installs offline into an empty project and exposes a maas-run-scripts bin that runs', async () => {
    const prefix = isolatedDir('prefix', dirs);
    const packed = await npm(['pack', '--pack-destination', prefix, '--json'], PROJECT_ROOT);
    expect(packed.exitCode, packed.stderr).toBe(0);
    const [report] = JSON.parse(packed.stdout) as { filename: string; integrity: string }[];

    const unpacked = isolatedDir('unpacked', dirs);
    await execa('tar', ['-xzf', join(prefix, report!.filename), '-C', unpacked]);
    const manifest = JSON.parse(readFileSync(join(unpacked, 'package', 'package.json'), 'utf8')) as PackageManifest;
    expect(Object.keys(manifest.bin)).toEqual(['maas-run-scripts']);

    writeFileSync(join(prefix, 'package.json'), `${JSON.stringify({ name: 'install-check', private: true, dependencies: { [manifest.name]: `file:${report!.filename}` } }, null, 2)}\n`);
    writeFileSync(join(prefix, 'package-lock.json'), `${JSON.stringify(lockfileFor(report!.filename, report!.integrity, manifest), null, 2)}\n`);
    const installed = await npm(['ci', '--offline'], prefix);
    expect(installed.exitCode, installed.stderr).toBe(0);
    for (const name of Object.keys(manifest.dependencies ?? {})) {
      expect(JSON.parse(readFileSync(join(prefix, 'node_modules', name, 'package.json'), 'utf8')), name).toHaveProperty('name', name);
    }

    const bin = join(prefix, 'node_modules', '.bin', 'maas-run-scripts');
    const version = await execa(bin, ['--version'], { cwd: prefix, env: cleanEnv(), extendEnv: false, reject: false, stdin: 'ignore' });
    expect(version.stdout.trim()).toBe(PACKAGE_VERSION);
    const help = await execa(bin, ['register-machine', '--help'], { cwd: prefix, env: cleanEnv(), extendEnv: false, reject: false, stdin: 'ignore' });
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('MAAS_URL');
  });
});
