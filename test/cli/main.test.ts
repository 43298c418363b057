import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../../src/version.js';
import { PROJECT_ROOT, runCli } from '../helpers/cli.js';

describe('maas-run-scripts', () => {
  it('prints the version recorded in package.json', async () => {
    const pkg = JSON.parse(readFileSync(`${PROJECT_ROOT}/package.json`, 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
    const run = await runCli(['--version']);
    expect(run.exitCode).toBe(0);
    expect(run.stdout.trim()).toBe(pkg.version);
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
});
