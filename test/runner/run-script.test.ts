import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { goneWithin } from '../helpers/processes.js';
import { formatDuration, runPaths, runScript, scriptEnvironment } from '../../src/runner/run-script.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function script(body: string): Promise<{ file: string; outDir: string; base: string }> {
  const base = await mkdtemp(join(tmpdir(), 'run-script-'));
  dirs.push(base);
  const paths = runPaths(base);
  await Promise.all([mkdir(paths.out, { recursive: true }), mkdir(paths.scripts, { recursive: true }), mkdir(paths.downloads)]);
  const file = join(paths.scripts, 'test-script');
  await writeFile(file, body);
  await chmod(file, 0o755);
  return { file, outDir: paths.out, base };
}

describe('runScript', () => {
  it('captures stdout, stderr and both interleaved, and writes them where the script was told', async () => {
    const { file, outDir } = await script('#!/bin/sh\necho one\necho two >&2\necho three\n');
    const outcome = await runScript({ name: 'test-script', file, env: {}, outDir });
    expect(outcome.stdout.toString()).toBe('one\nthree\n');
    expect(outcome.stderr.toString()).toBe('two\n');
    expect(outcome.combined.toString().split('\n').sort()).toEqual(['', 'one', 'three', 'two']);
    expect(outcome.exitStatus).toBe(0);
    expect(outcome.error).toBeUndefined();
    expect(await readFile(join(outDir, 'test-script.out'), 'utf8')).toBe('one\nthree\n');
    expect(await readFile(join(outDir, 'test-script.err'), 'utf8')).toBe('two\n');
  });

  it('applies the carriage-return emulation to what it captures', async () => {
    const { file, outDir } = await script("#!/bin/sh\nprintf '10%%\\r50%%\\r100%%\\n'\n");
    const outcome = await runScript({ name: 'test-script', file, env: {}, outDir });
    expect(outcome.stdout.toString()).toBe('100%\n');
  });

  it('reports the real exit code of a failing script with the error MAAS uses', async () => {
    const { file, outDir } = await script('#!/bin/sh\necho partial\nexit 3\n');
    const outcome = await runScript({ name: 'test-script', file, env: {}, outDir });
    expect(outcome.exitStatus).toBe(3);
    expect(outcome.timedOut).toBe(false);
    expect(outcome.error).toBe('Failed to execute test-script: 3');
  });

  it('picks up what the script wrote to RESULT_PATH, and nothing when it wrote none', async () => {
    const { file, outDir, base } = await script('#!/bin/sh\n[ -n "$WRITE" ] && echo "status: passed" > "$RESULT_PATH"\nexit 0\n');
    const env = scriptEnvironment({ paths: runPaths(base), name: 'test-script', baseUrl: 'http://127.0.0.1:1', hasStarted: false, timeoutSeconds: 10 });
    const without = await runScript({ name: 'test-script', file, env, outDir });
    expect(without.result).toBeUndefined();
    const withResult = await runScript({ name: 'test-script', file, env: { ...env, WRITE: '1' }, outDir });
    expect(withResult.result?.toString()).toBe('status: passed\n');
  });

  it('gives the script the MAAS environment on top of the inherited one', async () => {
    const { file, outDir, base } = await script('#!/bin/sh\nenv\n');
    const paths = runPaths(base);
    const env = scriptEnvironment({ paths, name: 'test-script', baseUrl: 'http://127.0.0.1:5240', hasStarted: true, timeoutSeconds: 60 });
    const outcome = await runScript({ name: 'test-script', file, env, outDir });
    const seen = new Map(outcome.stdout.toString().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(seen.get('MAAS_BASE_URL')).toBe('http://127.0.0.1:5240');
    expect(seen.get('HAS_STARTED')).toBe('True');
    expect(seen.get('RUNTIME')).toBe('60.0');
    expect(seen.get('RESULT_PATH')).toBe(join(paths.out, 'test-script.yaml'));
    expect(seen.get('OUTPUT_STDOUT_PATH')).toBe(join(paths.out, 'test-script.out'));
    expect(seen.get('MAAS_RESOURCES_FILE')).toBe(join(base, 'resources.json'));
    expect(seen.get('DOWNLOAD_PATH')).toBe(paths.downloads);
    expect(seen.get('PATH')).toBe(process.env.PATH);
  });

  it('kills a script that outlives its timeout together with the children it started, and reports 124', async () => {
    const { file, outDir, base } = await script('#!/bin/sh\nsleep 30 &\necho $! > "$DOWNLOAD_PATH/child.pid"\necho started\nsleep 30\n');
    const env = { DOWNLOAD_PATH: runPaths(base).downloads };
    const outcome = await runScript({ name: 'test-script', file, env, outDir, timeoutSeconds: 0.5 });
    expect(outcome.timedOut).toBe(true);
    expect(outcome.exitStatus).toBe(124);
    expect(outcome.error).toBe('Timeout(0:00:00.500000) expired on test-script');
    expect(outcome.stdout.toString()).toBe('started\n');
    const child = Number(await readFile(join(env.DOWNLOAD_PATH, 'child.pid'), 'utf8'));
    expect(child).toBeGreaterThan(0);
    expect(await goneWithin(child)).toBe(true);
  });

  it('reports a script that cannot be started instead of throwing', async () => {
    const { file, outDir } = await script('#!/nonexistent/interpreter\n');
    const outcome = await runScript({ name: 'test-script', file, env: {}, outDir });
    expect(outcome.exitStatus).toBe(127);
    expect(outcome.error).toMatch(/^Failed to execute test-script: 127 /);
  });
});

describe('formatDuration', () => {
  it('prints seconds the way MAAS words its timeout errors', () => {
    expect(formatDuration(60)).toBe('0:01:00');
    expect(formatDuration(300)).toBe('0:05:00');
    expect(formatDuration(10)).toBe('0:00:10');
    expect(formatDuration(3 * 3600 + 62)).toBe('3:01:02');
    expect(formatDuration(86_400 + 1)).toBe('1 day, 0:00:01');
  });
});
