// The repository stands alone: its git-tracked files, copied into an empty directory under the
// system temp dir (nothing beside the copy), pass the tests that lean hardest on test data. A
// test that read its data from outside the repository, say from a folder next to the checkout,
// finds nothing there and fails, and so does this test.
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/cli.js';
import { cleanEnv, isolatedDir, removeDirs } from './packaging-helpers.js';

const THIS_FILE = 'test/packaging/standalone-repo.test.ts';

/** Set for the run inside the copy; this file refuses to run there (no copy of a copy). */
const INSIDE_COPY = 'MRS_STANDALONE_COPY';

/** Test files that read the data sets in test/fixtures, between them all of those data sets. */
const SUBSET = [
  'test/collectors/zoo.test.ts', // zoo: whole captures unpacked, checked against expected.json
  'test/collectors/dmidecode.test.ts', // zoo: archive members read in place
  'test/collectors/identity.test.ts', // zoo: network members and the NICs' ground truth
  'test/server/hooks/maas-samples.test.ts', // MAAS samples and MAAS's view of each
  'test/server/samples.test.ts', // the same, through the bundled server
  'test/server/wire.test.ts', // every wire recording, replayed
  'test/maas/oauth.test.ts', // wire recordings through test/helpers/wire.ts
  'test/redfish/resources.test.ts', // the three Redfish mockups over HTTP
];

/** The files git tracks, as paths relative to the checkout (a clone has these and no others). */
async function trackedFiles(): Promise<string[]> {
  const listed = await execa('git', ['ls-files', '-z', '--cached'], { cwd: PROJECT_ROOT, reject: false, stdin: 'ignore' });
  if (listed.exitCode !== 0) throw new Error(`git ls-files failed in ${PROJECT_ROOT} (this test needs a git checkout): ${listed.stderr}`);
  return listed.stdout.split('\0').filter(Boolean);
}

/** Copies the tracked files that exist in the working tree into `to`, symlinks as symlinks. */
function copyTracked(files: readonly string[], to: string): void {
  for (const file of files) {
    const from = join(PROJECT_ROOT, file);
    let stat;
    try {
      stat = lstatSync(from);
    } catch {
      continue; // deleted in the working tree, not committed yet
    }
    const target = join(to, file);
    mkdirSync(dirname(target), { recursive: true });
    if (stat.isSymbolicLink()) symlinkSync(readlinkSync(from), target);
    else copyFileSync(from, target); // keeps the mode, so bin/ stays executable
  }
}

/**
 * The copy's own node_modules: a link to each installed package of the checkout (dependencies
 * are installed, not part of the repository), but its own caches, so the run writes nothing
 * into the checkout.
 */
function linkDependencies(to: string): void {
  const installed = join(PROJECT_ROOT, 'node_modules');
  mkdirSync(join(to, 'node_modules'));
  for (const name of readdirSync(installed)) {
    if (name.startsWith('.vite')) continue;
    symlinkSync(join(installed, name), join(to, 'node_modules', name));
  }
}

interface VitestReport {
  numPassedTests: number;
  numFailedTests: number;
  numFailedTestSuites: number;
  testResults: { name: string; status: string; message?: string; assertionResults: { status: string; fullName: string; failureMessages?: string[] }[] }[];
}

describe('the repository on its own', () => {
  const dirs: string[] = [];
  afterAll(() => removeDirs(dirs));

  it('passes its fixture-heavy tests from a copy of its tracked files with nothing beside it', { timeout: 240_000 }, async () => {
    expect(process.env[INSIDE_COPY], 'this test copies the repository; it does not run inside a copy').toBeUndefined();
    expect(SUBSET).not.toContain(THIS_FILE);

    const files = await trackedFiles();
    for (const file of [...SUBSET, 'package.json', 'vitest.config.ts']) expect(files, `${file} is not tracked by git`).toContain(file);
    // An absolute path to this checkout would still resolve from the copy; none may be written down.
    const sources = files.filter((f) => /^(test|bench|scripts)\/.*\.(ts|mjs|js)$/.test(f) && existsSync(join(PROJECT_ROOT, f)));
    const naming = sources.filter((f) => readFileSync(join(PROJECT_ROOT, f), 'utf8').includes(PROJECT_ROOT.replace(/\/+$/, '')));
    expect(naming, 'files naming the checkout by its absolute path').toEqual([]);

    // The copy sits one level down in a fresh temp dir: its parent holds nothing else.
    const outer = isolatedDir('standalone', dirs);
    const repo = join(outer, 'repo');
    copyTracked(files, repo);
    linkDependencies(repo);
    expect(readdirSync(outer)).toEqual(['repo']);

    const report = join(repo, '.test-results.json');
    const env = cleanEnv({ [INSIDE_COPY]: '1' });
    for (const name of Object.keys(env)) if (/^VITEST/.test(name) || name === 'TEST') delete env[name];
    const run = await execa(
      process.execPath,
      [join(repo, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--maxWorkers=1', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...SUBSET],
      { cwd: repo, env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 200_000 },
    );
    const output = `${run.stderr}\n${run.stdout}`.slice(-4000);
    expect(existsSync(report), `vitest wrote no report:\n${output}`).toBe(true);
    const result = JSON.parse(readFileSync(report, 'utf8')) as VitestReport;
    // One line per failing file: its load error, or its first failing test and why.
    const failures = result.testResults
      .filter((file) => file.status !== 'passed')
      .map((file) => {
        const failed = file.assertionResults.find((a) => a.status === 'failed');
        const why = file.message || (failed ? `${failed.fullName}: ${(failed.failureMessages?.[0] ?? '').split('\n')[0]}` : file.status);
        return `${relative(repo, file.name)}: ${why}`;
      });
    expect(failures, output).toEqual([]);
    expect(run.exitCode, output).toBe(0);
    expect(result.numFailedTests + result.numFailedTestSuites).toBe(0);

    // Every file of the subset ran from the copy, and each passed tests of its own.
    expect(result.testResults.map((file) => relative(repo, file.name)).sort()).toEqual([...SUBSET].sort());
    for (const file of result.testResults) {
      expect(file.name.startsWith(`${repo}/`)).toBe(true);
      expect(file.assertionResults.filter((a) => a.status === 'passed').length, relative(repo, file.name)).toBeGreaterThan(0);
    }
    expect(result.numPassedTests).toBeGreaterThanOrEqual(SUBSET.length);
    // Nothing appeared beside the copy while it ran.
    expect(readdirSync(outer)).toEqual(['repo']);
  });
});
