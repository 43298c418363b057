// The bin keeps V8's compiled code of the single file between runs, one cache file per command
// (bin/maas-run-scripts). What a cache holds is what the runs that wrote it compiled, so a short
// run (a usage error), or another kind of run of the same command, must not leave a cache that
// every run then works around, and runs must not rewrite a good cache again and again; nor may
// a cache of another build of the single file be used. Node releases with their own compile
// cache (22.1 and later) use that instead, so there is nothing of ours to test there.
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import nodeModule from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { PROJECT_ROOT, runCli } from '../helpers/cli.js';

/** The header of a cache file: magic, bytecode size, the build's identity (bin/maas-run-scripts). */
const HEADER_BYTES = 24;

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
    expect(bytes.toString('latin1', 0, 4)).toBe('MRC3');
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
    // The header of this build claiming a huge writer, then data V8 cannot use.
    const junk = Buffer.alloc(64, 7);
    good.bytes.copy(junk, 0, 0, HEADER_BYTES);
    junk.writeUInt32LE(0xffffffff, 4);
    await writeFile(file, junk);
    await collect();
    const rewritten = await cache();
    expect(rewritten.bytes.length).toBeGreaterThan(junk.length);
    expect(rewritten.writerKiB).toBeLessThan(0xffffffff);
    // A file without the header (what older releases wrote): V8's data alone. cache() checks
    // that the header is back.
    await writeFile(file, good.bytes.subarray(HEADER_BYTES));
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
  it('is not used for another build of the single file, even one whose main script is just as long', async () => {
    // The bin and a copy of the single file, which is then changed as a new release would change it.
    const copy = join(home, 'install');
    await cp(join(PROJECT_ROOT, 'bin'), join(copy, 'bin'), { recursive: true });
    await mkdir(join(copy, 'build'));
    const single = join(copy, 'build', 'maas-run-scripts');
    const text = await readFile(join(PROJECT_ROOT, 'build', 'maas-run-scripts'), 'utf8');
    await writeFile(single, text, { mode: 0o755 });
    const version = async () => (await execa(process.execPath, [join(copy, 'bin', 'maas-run-scripts'), '--version'], { env: env(), reject: false })).stdout.trim();
    const released = await version();
    expect(await version()).toBe(released); // the second run takes the first one's cache
    // Same length, another version string and another build identity.
    const next = released.replace(/^\d/, (digit) => String((Number(digit) + 1) % 10));
    const rebuilt = text.replace(`"${released}"`, `"${next}"`).replace(/^(#![^\n]*\n\/\/# build )[0-9a-f]{16}/, '$1' + 'f'.repeat(16));
    expect(rebuilt.length).toBe(text.length);
    expect(rebuilt).not.toBe(text);
    await writeFile(single, rebuilt, { mode: 0o755 });
    expect(await version()).toBe(next);
  });
});

// The bin reads the main script alone, by the length the single file's second line gives, and
// keys its caches by the build's identity on that line (scripts/build-bundle.mjs). A file whose
// line does not fit what follows it (edited by hand, or written by an older build) is read whole.
describe.skipIf(!ownCache)('how the bin finds the main script', () => {
  let home: string;
  let text: string;
  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'main-script-'));
    text = await readFile(join(PROJECT_ROOT, 'build', 'maas-run-scripts'), 'utf8');
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });
  const MARKER = '\n//# chunks of maas-run-scripts follow (bin/maas-run-scripts reads what is above)\n';
  const SECOND_LINE = /^(#![^\n]*\n\/\/# build [0-9a-f]{16}) (\d{10})\n/;

  /** A copy of the bin beside `single`; runs it with a cache directory of its own. */
  async function install(single: string) {
    const copy = join(home, 'install');
    await cp(join(PROJECT_ROOT, 'bin'), join(copy, 'bin'), { recursive: true });
    await mkdir(join(copy, 'build'), { recursive: true });
    await writeFile(join(copy, 'build', 'maas-run-scripts'), single, { mode: 0o755 });
    return (args: string[]) => execa(process.execPath, [join(copy, 'bin', 'maas-run-scripts'), ...args], { env: { XDG_CACHE_HOME: join(home, 'cache') }, reject: false });
  }
  const cacheFiles = () => readdir(join(home, 'cache', 'maas-run-scripts')).catch(() => [] as string[]);

  it('is the length the second line gives, which ends where the chunks begin, in ASCII', () => {
    const line = SECOND_LINE.exec(text);
    expect(line).not.toBeNull();
    const length = Number(line![2]);
    expect(text.slice(length - 1, length - 1 + MARKER.length)).toBe(MARKER);
    expect(text.lastIndexOf(MARKER)).toBe(length - 1);
    expect(/[^\x00-\x7f]/.test(text.slice(0, length))).toBe(false);
  });

  it('is found by its marker when the line gives a wrong length, and the file still runs and is cached', async () => {
    const length = Number(SECOND_LINE.exec(text)![2]);
    // A length inside the main script: read by it, the script would be cut in the middle.
    const wrong = text.replace(SECOND_LINE, (_, head) => `${head} ${String(length - 1000).padStart(10, '0')}\n`);
    expect(wrong.length).toBe(text.length);
    const run = await install(wrong);
    const collected = await run(['collect', '--only', 'resources']);
    expect(collected.exitCode, collected.stderr).toBe(0);
    expect(JSON.parse(collected.stdout)).toHaveProperty('resources');
    expect((await cacheFiles()).some((name) => name.startsWith('single-file-collect-'))).toBe(true);
  });

  it('is found by its marker in a file whose second line has the identity alone, as older builds wrote it', async () => {
    const older = text.replace(SECOND_LINE, (_, head) => `${head}\n`);
    const run = await install(older);
    const version = await run(['--version']);
    expect(version.exitCode, version.stderr).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    // The identity is still read: the cache is written, keyed by it.
    expect(await cacheFiles()).toEqual([`single-file-none-${process.version}-${process.arch}.v8-code-cache`]);
  });
});
