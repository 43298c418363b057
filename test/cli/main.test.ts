import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../../src/version.js';
import { CLI, PROJECT_ROOT, runCli } from '../helpers/cli.js';

describe('maas-run-scripts', () => {
  it('prints the version recorded in package.json', async () => {
    const pkg = JSON.parse(readFileSync(`${PROJECT_ROOT}/package.json`, 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
    const run = await runCli(['--version']);
    expect(run.exitCode).toBe(0);
    expect(run.stdout.trim()).toBe(pkg.version);
  });

  it.each([[['--help']], [['collect', '--only', 'serial-ports']]])(
    'exits 0 without a word on stderr when whoever reads its output has gone (%j piped into head, say)',
    async (args) => {
      // Standard output is a pipe whose reading end is closed before anything is written.
      const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const [code] = (await once(child, 'close')) as [number | null];
      expect([code, stderr]).toEqual([0, '']);
    },
  );

  it('prints the same help, options included, for `help COMMAND` and `COMMAND --help`', async () => {
    for (const [command, option] of [['collect', '--only <names>'], ['register-machine', '--admin-key-file <file>'], ['sync-status', '--json']] as const) {
      const [asked, flagged] = await Promise.all([runCli(['help', command]), runCli([command, '--help'])]);
      expect([asked.exitCode, flagged.exitCode]).toEqual([0, 0]);
      expect(asked.stdout).toBe(flagged.stdout);
      expect(asked.stdout).toContain(`  ${option}`);
    }
  });

  it('lists every command in --help, within an 80-column terminal', async () => {
    const run = await runCli(['--help']);
    expect(run.exitCode).toBe(0);
    for (const name of ['register-machine', 'get-machine-token', 'report-results', 'collect', 'serve']) expect(run.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    expect(run.stdout.split('\n').filter((line) => line.length > 80)).toEqual([]);
  });

  it('exits 2 with a one-line error and usage hint for an unknown command', async () => {
    const run = await runCli(['no-such-command']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/unknown command 'no-such-command'.*--help/);
  });

  it('names a missing argument on one line and exits 2', async () => {
    const run = await runCli(['get-machine-token', 'http://maas.example.com:5240/MAAS']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/missing required argument 'ADMIN_TOKEN'/);
  });

  it('refuses a MAAS URL carrying a password in one line, exit 2, without ever repeating the password', async () => {
    const password = 'pw-Never-Printed-42';
    const dir = mkdtempSync(join(tmpdir(), 'mrs-userinfo-'));
    try {
      const creds = join(dir, 'creds.yaml');
      writeFileSync(creds, `reporting:\n  maas:\n    consumer_key: a\n    token_key: b\n    token_secret: c\n    endpoint: http://ops:${password}@127.0.0.1:9/MAAS/metadata/status/abc\n`, { mode: 0o600 });
      const runs = [
        ['register-machine', `http://ops:${password}@127.0.0.1:9/MAAS`, 'a:b:c', '--no-report', '--dir', dir],
        ['get-machine-token', `http://ops:${password}@[::1`, 'a:b:c', 'abc', '-'],
        ['report-results', '--machine-token', 'a:b:c', '--metadata-url', `https://ops:${password}@127.0.0.1:9/MAAS`, '--state-dir', dir],
        ['report-results', '--config', creds, '--state-dir', join(dir, 'state')],
        // A password that itself holds "@": all of the user information is hidden, not only up to the first "@".
        ['register-machine', `http://ops@x:${password}@127.0.0.1:9/MAAS`, 'a:b:c', '--no-report', '--dir', dir],
      ];
      for (const args of runs) {
        const run = await runCli(args);
        expect(run.exitCode, args[0]).toBe(2);
        expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
        expect(run.stderr).toMatch(/must not carry a user name or password \('https?:\/\/\*\*\*@/);
        expect(`${run.stdout}${run.stderr}`).not.toContain(password);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
