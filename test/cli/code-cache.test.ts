// The bin keeps V8's compiled code of the single file between runs, one cache file per command
// (bin/maas-run-scripts). What a cache holds is what the runs that wrote it compiled, so a short
// run (a usage error), or another kind of run of the same command, must not leave a cache that
// every run then works around, and runs must not rewrite a good cache again and again. Node releases with their own
// compile cache (22.1 and later) use that instead, so there is nothing of ours to test there.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import nodeModule from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const ownCache = typeof (nodeModule as { enableCompileCache?: unknown }).enableCompileCache !== 'function';

describe.skipIf(!ownCache)('the code cache of the bin', () => {
  let home: string;
  let file: string;
  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'code-cache-'));
    file = join(home, 'maas-run-scripts', `single-file-collect-${process.version}-${process.arch}.v8-code-cache`);
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });
  const env = () => ({ XDG_CACHE_HOME: home });
  const usageError = () => runCli(['collect', '--no-such-option'], { env: env() });
  const collect = async (only = 'resources') => {
    const run = await runCli(['collect', '--only', only], { env: env() });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).not.toBe('');
  };
  /** The cache file's bytes and the bytecode (KiB) its header says the writing run ended with. */
  const cache = async () => {
    const bytes = await readFile(file);
    expect(bytes.toString('latin1', 0, 4)).toBe('MRC2');
    return { bytes, writerKiB: bytes.readUInt32LE(4), mtimeMs: (await stat(file)).mtimeMs };
  };

  it('is replaced by a full run when a usage error wrote it, and a later usage error or a like run leaves it alone', async () => {
    expect((await usageError()).exitCode).toBe(2);
    const short = await cache();
    await collect();
    const full = await cache();
    expect(full.bytes.length).toBeGreaterThan(short.bytes.length);
    expect(full.writerKiB).toBeGreaterThan(short.writerKiB);
    await usageError();
    await collect();
    const after = await cache();
    expect(after.bytes.equals(full.bytes)).toBe(true);
  });

  it('is written again when V8 refuses it, or when it is of an older format, and the command still works', async () => {
    await collect();
    const good = await cache();
    // A header claiming a huge writer, then data V8 cannot use.
    const junk = Buffer.alloc(64, 7);
    good.bytes.copy(junk, 0, 0, 4);
    junk.writeUInt32LE(0xffffffff, 4);
    await writeFile(file, junk);
    await collect();
    const rewritten = await cache();
    expect(rewritten.bytes.length).toBeGreaterThan(junk.length);
    expect(rewritten.writerKiB).toBeLessThan(0xffffffff);
    // A file without the header (what older releases wrote): V8's data alone. cache() checks
    // that the header is back.
    await writeFile(file, good.bytes.subarray(8));
    await collect();
    expect((await cache()).bytes.length).toBeGreaterThan(good.bytes.length / 2);
  });
  it('is replaced by another kind of run of the command that needs more, until one cache serves both', async () => {
    await collect('serial-ports');
    const light = await cache();
    await collect('resources');
    const both = await cache();
    expect(both.bytes.length).toBeGreaterThan(light.bytes.length);
    expect(both.writerKiB).toBeGreaterThan(light.writerKiB);
    // The lighter kind finds all it needs, and the heavier one its own functions, in that cache.
    await collect('serial-ports');
    await collect('resources');
    expect((await cache()).bytes.equals(both.bytes)).toBe(true);
  });
});
