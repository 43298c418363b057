import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRunCommand, defaultSearchPath, findExecutable, runCommand, SEARCH_PATH_ENV } from '../../src/host/run-command.js';
import { eventually, processGone } from '../helpers/trees.js';
import { makeRoot } from '../helpers/make-root.js';

describe('runCommand', () => {
  it('runs the command at the lowest CPU priority (nice 19)', async () => {
    // /proc/self/stat of `cat` itself: it inherits the priority the runner gave this process.
    const result = await runCommand('cat', ['/proc/self/stat']);
    expect(result.exitCode).toBe(0);
    const fields = result.stdout.slice(result.stdout.lastIndexOf(')') + 2).split(' ');
    // Field 19 of stat(5) is the nice value; the list starts at field 3 (state).
    expect(fields[19 - 3]).toBe('19');
  });

  it('runs the command in the idle IO scheduling class', async () => {
    if (!(await findExecutable('ionice'))) return; // util-linux missing: no way to set it
    const result = await runCommand('ionice', []);
    expect(result.stdout.trim()).toBe('idle');
  });

  it('forces LC_ALL=C even when the caller asks for another locale', async () => {
    const result = await runCommand('printenv', ['LC_ALL'], { env: { LC_ALL: 'de_DE.UTF-8' } });
    expect(result.stdout).toBe('C\n');
  });

  it('passes arguments verbatim, with no shell to expand them', async () => {
    const result = await runCommand('echo', ['$HOME', '*', '$(id)']);
    expect(result.stdout).toBe('$HOME * $(id)\n');
  });

  it('reports a failing command with its exit code and stderr instead of throwing', async () => {
    const result = await runCommand('sh', ['-c', 'echo partial; echo broken >&2; exit 3']);
    expect(result).toMatchObject({ exitCode: 3, stdout: 'partial\n', stderr: 'broken\n', failed: true, notFound: false, timedOut: false });
  });

  it('says "not found" for a tool that is not installed, without starting anything', async () => {
    let spawned = 0;
    const result = await runCommand('surely-not-an-installed-tool', ['-x'], { onSpawn: () => (spawned += 1) });
    expect(result).toMatchObject({ notFound: true, failed: true, exitCode: undefined });
    expect(result.stderr).toContain('surely-not-an-installed-tool');
    expect(spawned).toBe(0);
  });

  it('tells the caller once the command is running, before it has finished', async () => {
    const log: string[] = [];
    await runCommand('true', [], { onSpawn: () => log.push('running') }).then(() => log.push('finished'));
    expect(log).toEqual(['running', 'finished']);
  });

  it('kills the whole process group on timeout, so a child of the command is gone too', async () => {
    const result = await runCommand('sh', ['-c', 'sleep 60 & echo $!; wait'], { timeoutMs: 300 });
    expect(result.timedOut).toBe(true);
    expect(result.failed).toBe(true);
    expect(result.exitCode).toBeUndefined();
    const child = Number(result.stdout.trim());
    expect(child).toBeGreaterThan(0);
    expect(await eventually(() => processGone(child))).toBe(true);
  });

  it('stops a command whose output passes the cap, keeping what fits and saying why', async () => {
    const result = await runCommand('sh', ['-c', 'while :; do echo 0123456789abcdef; done'], { maxBuffer: 4096, timeoutMs: 60_000 });
    expect(result).toMatchObject({ failed: true, timedOut: false, exitCode: undefined });
    expect(result.stdout.length).toBe(4096);
    expect(result.stdout.startsWith('0123456789abcdef\n')).toBe(true);
    expect(result.stderr).toBe('sh: stopped, its output passed 4096 bytes');
  });

  it('decodes a UTF-8 character whole even when the pipe splits it', async () => {
    // printf writes the two bytes of "é" in separate writes, with a pause between them.
    const result = await runCommand('sh', ['-c', "printf '\\303'; sleep 0.1; printf '\\251\\n'"]);
    expect(result.stdout).toBe('é\n');
  });

  it('kills the process group when its abort signal fires', async () => {
    const dir = await makeRoot({});
    const pidFile = join(dir, 'pid');
    const stop = new AbortController();
    const running = runCommand('sh', ['-c', `sleep 60 & echo $! > ${pidFile}; wait`], { signal: stop.signal, timeoutMs: 60_000 });
    expect(await eventually(async () => (await readFile(pidFile, 'utf8').catch(() => '')).trim() !== '')).toBe(true);
    stop.abort();
    const result = await running;
    expect(result.failed).toBe(true);
    expect(result.timedOut).toBe(false);
    const child = Number((await readFile(pidFile, 'utf8')).trim());
    expect(await eventually(() => processGone(child))).toBe(true);
  });
});

describe('tool search path', () => {
  it('finds tools in the sbin directories even when PATH lacks them', () => {
    const dirs = defaultSearchPath({ PATH: '/usr/bin' });
    expect(dirs[0]).toBe('/usr/bin');
    expect(dirs).toContain('/usr/sbin');
    expect(dirs).toContain('/sbin');
  });

  it(`uses only ${SEARCH_PATH_ENV} when it is set, so an installed tool can be hidden`, () => {
    expect(defaultSearchPath({ PATH: '/usr/bin', [SEARCH_PATH_ENV]: '/opt/a:/opt/b' })).toEqual(['/opt/a', '/opt/b']);
    expect(defaultSearchPath({ PATH: '/usr/bin', [SEARCH_PATH_ENV]: '' })).toEqual([]);
  });

  it('reports an installed tool as not found when the injected search path lacks it', async () => {
    const run = createRunCommand({ searchPath: [] });
    const result = await run('sh', ['-c', 'true']);
    expect(result.notFound).toBe(true);
  });

  it('runs a tool found only in the injected search path', async () => {
    const dir = await makeRoot({ 'bin/hello-tool': { exec: '#!/bin/sh\necho "hello $1"\n' } });
    const run = createRunCommand({ searchPath: [join(dir, 'bin')] });
    const result = await run('hello-tool', ['world']);
    expect(result).toMatchObject({ exitCode: 0, stdout: 'hello world\n', failed: false });
  });
});
