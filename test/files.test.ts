// The one atomic writer and its reasons: what a reader of the file, and of the error, sees.
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { fsReason, removeFile, writeAtomic, writeFileAtomic } from '../src/files.js';
import { makeRoot } from './helpers/make-root.js';
import { PROJECT_ROOT } from './helpers/cli.js';

describe('writeFileAtomic', () => {
  it('creates the file with mode 0600 by default', async () => {
    const dir = await makeRoot({});
    const path = join(dir, 'out.yaml');
    await writeFileAtomic(path, 'hello\n');
    expect(await readFile(path, 'utf8')).toBe('hello\n');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('replaces an existing file and leaves no temporary file behind', async () => {
    const dir = await makeRoot({});
    const path = join(dir, 'out.yaml');
    await writeFile(path, 'old\n', { mode: 0o644 });
    await writeFileAtomic(path, 'new\n');
    expect(await readFile(path, 'utf8')).toBe('new\n');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['out.yaml']);
  });

  it('fails with a one-line usage error and keeps the old content when the target cannot be replaced', async () => {
    const dir = await makeRoot({});
    const path = join(dir, 'taken');
    await mkdir(path);
    await writeFile(join(path, 'inside'), 'x');
    const error = await writeFileAtomic(path, 'new\n').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(/^cannot write .*taken: /);
    expect(await readdir(dir)).toEqual(['taken']);
  });

  it('fails for a directory that does not exist', async () => {
    const dir = await makeRoot({});
    await expect(writeFileAtomic(join(dir, 'missing', 'out.yaml'), 'x')).rejects.toThrow(/no such file or directory/);
  });
});

describe('writeAtomic', () => {
  it('throws the file system\'s own error and leaves nothing behind when the directory is missing', async () => {
    const dir = await makeRoot({});
    const error = await writeAtomic(join(dir, 'missing', 'x.json'), 'x').catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('ENOENT');
    expect(await readdir(dir)).toEqual([]);
  });

  it('lets the umask narrow the mode when asked, as a plain write would', async () => {
    const dir = await makeRoot({});
    const previous = process.umask(0o027);
    try {
      await writeAtomic(join(dir, 'shared.out'), 'x', { mode: 0o666, umask: true });
      await writeAtomic(join(dir, 'exact.out'), 'x', { mode: 0o644 });
    } finally {
      process.umask(previous);
    }
    expect((await stat(join(dir, 'shared.out'))).mode & 0o777).toBe(0o640);
    expect((await stat(join(dir, 'exact.out'))).mode & 0o777).toBe(0o644);
  });

  it('passes over a leftover temporary file of the same name, leaving it and what a leftover link points at untouched', async () => {
    const dir = await makeRoot({ '.tmp-taken': 'left by a crash\n', '.tmp-link': { link: '/elsewhere' }, elsewhere: 'not to be written\n' });
    const names = ['taken', 'link', 'free'];
    await writeAtomic(join(dir, 'state.json'), 'new\n', { temporaryName: () => names.shift()! });
    expect(await readFile(join(dir, 'state.json'), 'utf8')).toBe('new\n');
    expect(await readFile(join(dir, '.tmp-taken'), 'utf8')).toBe('left by a crash\n');
    expect(await readFile(join(dir, 'elsewhere'), 'utf8')).toBe('not to be written\n');
    expect((await readdir(dir)).sort()).toEqual(['.tmp-link', '.tmp-taken', 'elsewhere', 'state.json']);
  });

  it('gives up with the file system\'s EEXIST when every name it tries is taken, and leaves the target as it was', async () => {
    const dir = await makeRoot({ '.tmp-taken': 'left by a crash\n', 'state.json': 'old\n' });
    const error = await writeAtomic(join(dir, 'state.json'), 'new\n', { temporaryName: () => 'taken' }).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('EEXIST');
    expect(await readFile(join(dir, 'state.json'), 'utf8')).toBe('old\n');
    expect(await readFile(join(dir, '.tmp-taken'), 'utf8')).toBe('left by a crash\n');
  });
});

describe('fsReason', () => {
  it('turns errno codes into short reasons, and anything else into its first line', () => {
    expect(fsReason(Object.assign(new Error('EACCES: permission denied, open \'/x\''), { code: 'EACCES' }))).toBe('permission denied');
    expect(fsReason(new Error('disk on fire\n    at somewhere'))).toBe('disk on fire');
  });
});

describe('removeFile', () => {
  it('removes a file, takes one that is already gone as removed, and fails on what it cannot remove', async () => {
    const root = await makeRoot({});
    const file = join(root, 'result.json');
    await writeFile(file, '{}');
    removeFile(file);
    expect(await readdir(root)).toEqual([]);
    expect(() => removeFile(file)).not.toThrow();
    // A directory is not a file: `rm -f DIR` refuses it too.
    await mkdir(join(root, 'dir'));
    expect(() => removeFile(join(root, 'dir'))).toThrow(expect.objectContaining({ code: expect.stringMatching(/^(EISDIR|EPERM)$/) }));
    expect(await readdir(root)).toEqual(['dir']);
  });
});

describe('standardOutput', () => {
  // A child writes more than a pipe holds into a non-blocking standard output (as it is once
  // Node's own stream for it exists), then waits while the reader empties the pipe, then writes
  // one more line: that line must come out last, after the rest of the first text.
  it('keeps the order of what it writes when the pipe was full and the reader has since made room', async () => {
    const files = pathToFileURL(join(PROJECT_ROOT, 'dist/src/files.js')).href;
    const script = [
      `import { standardOutput } from ${JSON.stringify(files)};`,
      'void process.stdout; // makes the pipe non-blocking, as a run that uses the stream does',
      "standardOutput.write('x'.repeat(4 * 1024 * 1024) + '\\n');",
      'const until = Date.now() + 400;',
      'while (Date.now() < until);',
      "standardOutput.write('END\\n');",
    ].join('\n');
    const child = await execa(process.execPath, ['--input-type=module', '-e', script], { stripFinalNewline: false, maxBuffer: 64 * 1024 * 1024 });
    expect(child.stdout.length).toBe(4 * 1024 * 1024 + 5);
    expect(child.stdout.endsWith('x\nEND\n')).toBe(true);
    expect(child.stdout.indexOf('END')).toBe(4 * 1024 * 1024 + 1);
  });
});
