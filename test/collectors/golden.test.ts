// Pins every byte the built-in collectors produce on the captured trees: the files
// `collect --output` writes (what report-results uploads) are compared with golden copies in
// test/fixtures/golden, taken from an earlier version of the code (see its README). A change in
// speed or memory use must leave them as they are; a deliberate change of output regenerates
// them with MRS_UPDATE_GOLDEN=1 and says why in its commit.
import { execa } from 'execa';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployInfoCollectors } from '../../collectors/index.js';
import { runCollectors } from '../../src/runner/run-collectors.js';
import { scriptOutputFiles } from '../../src/runner/signal-files.js';
import { PROJECT_ROOT } from '../helpers/cli.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { removeTree, tempDir } from '../helpers/trees.js';
import { useZoo, type ZooMachine } from '../helpers/zoo.js';

const GOLDEN = join(FIXTURES, 'golden');
const UPDATE = process.env.MRS_UPDATE_GOLDEN === '1';
const BUNDLE = join(PROJECT_ROOT, 'build', 'maas-run-scripts');

/** Compares `files` (name → content) with the golden folder `name`, or rewrites it when updating. */
async function checkGolden(name: string, files: Map<string, string>): Promise<void> {
  const dir = join(GOLDEN, name);
  if (UPDATE) {
    await mkdir(dir, { recursive: true });
    for (const [file, content] of files) await writeFile(join(dir, file), content);
  }
  const stored = (await readdir(dir)).sort();
  expect([...files.keys()].sort(), `files of ${name}`).toEqual(stored);
  for (const file of stored) {
    const want = await readFile(join(dir, file), 'utf8');
    // Compared as a boolean first: a diff of a 100 kB file is unreadable, the name says enough.
    if (files.get(file) !== want) expect(files.get(file), `${name}/${file} differs from its golden copy`).toBe(want);
  }
}

async function readFolder(dir: string): Promise<Map<string, string>> {
  const names = await readdir(dir);
  return new Map(await Promise.all(names.map(async (n) => [n, await readFile(join(dir, n), 'utf8')] as const)));
}

describe('the single-file CLI on the captured KVM guest tree', () => {
  let root: string;
  let out: string;
  beforeAll(async () => {
    root = await tempDir();
    out = await tempDir();
    await execa('tar', ['-xzf', join(FIXTURES, 'trees', 'kvm-2cpu.tar.gz'), '-C', root]);
  });
  afterAll(async () => {
    await removeTree(root);
    await removeTree(out);
  });

  it('writes with collect --output exactly the files it wrote before', async () => {
    const run = await execa(process.execPath, [BUNDLE, 'collect', '--root', root, '--output', join(out, 'files')], { reject: false, stdin: 'ignore' });
    // No command runs on a tree, so the lshw collector fails and collect says so (exit 1).
    const files = await readFolder(join(out, 'files'));
    files.set('collect.status', `exit ${run.exitCode}\n${run.stderr}\n`);
    await checkGolden('kvm-2cpu', files);
  });

  it('prints the machine-resources document as YAML exactly as before', async () => {
    const run = await execa(process.execPath, [BUNDLE, 'collect', '--root', root, '--format', 'yaml'], { reject: false, stdin: 'ignore' });
    expect(run.exitCode, run.stderr).toBe(0);
    await checkGolden('kvm-2cpu-yaml', new Map([['resources.yaml', `${run.stdout}\n`]]));
  });
});

// The zoo machines with their own recorded command outputs replayed (the machines are not here),
// as root and as an ordinary user: the command-fed sections (lshw, support-info) are covered too.
describe.each(['m1', 'm2', 'm3'] as ZooMachine[])('every collector on zoo machine %s', (m) => {
  let zoo: Awaited<ReturnType<typeof useZoo>>;
  beforeAll(async () => {
    zoo = await useZoo(m);
  });

  it.each([true, false])('produces the same upload files as before (as root: %s)', async (isRoot) => {
    const outcomes = await runCollectors(deployInfoCollectors, zoo.host({ isRoot }));
    const files = new Map<string, string>();
    for (const outcome of outcomes) {
      for (const { files: named } of scriptOutputFiles(outcome)) for (const f of named) files.set(f.name, f.content);
    }
    await checkGolden(`${m}-${isRoot ? 'root' : 'user'}`, files);
  });
});
