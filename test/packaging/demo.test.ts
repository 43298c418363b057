// The `npm start` demo (scripts/demo.mjs), run as a subprocess as npm runs it after the build.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runDemo } from '../../src/cli/demo.js';
import { PROJECT_ROOT } from '../helpers/cli.js';
import { BUNDLE, cleanEnv, ensureBundle, hostCpuCount, isolatedDir, isThisHostsMemory, removeDirs } from './packaging-helpers.js';

const DEMO = join(PROJECT_ROOT, 'scripts', 'demo.mjs');
// An API key as the bundled server makes them: 18:18:32 characters.
const KEY_SHAPE = /[A-Za-z0-9]{18}:[A-Za-z0-9]{18}:[A-Za-z0-9]{32}/;

// Processes whose command line mentions `text` (the demo's temp dir names its subprocesses).
function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text)) found.push(Number(pid));
    } catch {
      // the process ended meanwhile
    }
  }
  return found;
}

// The GiB figure of the summary's memory line, in MiB.
function printedMemoryMib(stdout: string): number {
  const match = /^\s+memory:\s+([\d.]+) (GiB|MiB)$/m.exec(stdout);
  if (!match) throw new Error(`no memory line in:\n${stdout}`);
  return Number(match[1]) * (match[2] === 'GiB' ? 1024 : 1);
}

async function refused(url: string): Promise<boolean> {
  try {
    await fetch(url);
    return false;
  } catch {
    return true;
  }
}

describe('npm start', () => {
  const dirs: string[] = [];
  beforeAll(() => {
    ensureBundle();
  });
  afterEach(() => {
    removeDirs(dirs);
  });

  it("registers and reports this machine, prints its CPU count and memory, exits 0 and leaves no server behind", async () => {
    const run = await execa(process.execPath, [DEMO], { cwd: PROJECT_ROOT, env: cleanEnv(), extendEnv: false, reject: false, stdin: 'ignore', timeout: 120_000 });
    const credsDir = /^Creds file and report state go to (\S+)$/m.exec(run.stdout)?.[1];
    if (credsDir) dirs.push(credsDir);
    expect(run.exitCode, run.stderr).toBe(0);

    const cpus = Number(/^\s+CPU:\s+(\d+) threads?/m.exec(run.stdout)?.[1]);
    expect(cpus).toBe(hostCpuCount());
    const memory = printedMemoryMib(run.stdout);
    // The summary rounds to 0.1 GiB, so the figure may sit up to 0.05 GiB below the true one.
    expect(isThisHostsMemory(memory) || isThisHostsMemory(memory + 0.05 * 1024), `${memory} MiB`).toBe(true);
    expect(run.stdout).toMatch(/^\s+status:\s+Deployed/m);
    expect(run.stdout).toMatch(/^\s+creds:\s+\S+-creds\.yaml$/m);
    // Never two reports: the demo sends none of its own after register-machine's.
    expect(`${run.stdout}\n${run.stderr}`.match(/\bdone: \d+ delivered/g)?.length ?? 0).toBeLessThanOrEqual(1);
    expect(`${run.stdout}${run.stderr}`).not.toMatch(KEY_SHAPE);

    const url = /listening on (http:\S+)/.exec(run.stdout)?.[1];
    expect(url).toBeDefined();
    expect(await refused(`${url}/api/2.0/machines/`)).toBe(true);
    expect(processesMentioning(credsDir!)).toEqual([]);
  });

  it('with --keep-serving prints the URL and admin key, answers the printed commands, and stops cleanly on SIGTERM', async () => {
    const demo = execa(process.execPath, [DEMO, '--keep-serving'], { cwd: PROJECT_ROOT, env: cleanEnv(), extendEnv: false, reject: false, stdin: 'ignore', timeout: 120_000 });
    const lines: string[] = [];
    const printed = await new Promise<{ url: string; adminKey: string; example: string }>((resolve, reject) => {
      let url: string | undefined;
      let adminKey: string | undefined;
      createInterface({ input: demo.stdout! }).on('line', (line) => {
        lines.push(line);
        const dir = /^Creds file and report state go to (\S+)$/.exec(line)?.[1];
        if (dir) dirs.push(dir);
        url ??= /keeps running at (http:\S+)/.exec(line)?.[1];
        adminKey ??= /^Admin API key.*: (\S+)$/.exec(line)?.[1];
        const example = /^\s+(\S+ get-machine-token http\S+ \S+ \S+ -)$/.exec(line)?.[1];
        if (url && adminKey && example) resolve({ url, adminKey, example });
      });
      void demo.then((result) => reject(new Error(`the demo ended early (exit ${result.exitCode}): ${String(result.stderr)}`)));
    });
    expect(printed.adminKey).toMatch(KEY_SHAPE);
    expect(printed.example).toContain(printed.adminKey);

    // Run the printed get-machine-token line as an operator would paste it.
    const [command, ...args] = printed.example.split(' ');
    const token = await execa(command!, args, { cwd: PROJECT_ROOT, env: cleanEnv(), extendEnv: false, reject: false, stdin: 'ignore' });
    expect(token.exitCode, token.stderr).toBe(0);
    expect(token.stdout).toMatch(/token_secret: \S+/);

    demo.kill('SIGTERM');
    const stopped = await demo;
    expect(stopped.exitCode, String(stopped.stderr)).toBe(0);
    expect(await refused(`${printed.url}/api/2.0/machines/`)).toBe(true);
  });

  it('prints a one-line error, exits 1 and closes its server when a step fails', async () => {
    // A stand-in CLI that fails like a real one (one line on stderr, exit 1): the real CLI cannot
    // be made to fail against the demo's own server without breaking the server itself.
    const dir = isolatedDir('demo-fail', dirs);
    const failing = join(dir, 'failing-cli.mjs');
    writeFileSync(failing, "process.stderr.write('Machine creation failed: HTTP 503 Service Unavailable\\n');\nprocess.exit(1);\n");
    const out: string[] = [];
    const err: string[] = [];
    const code = await runDemo([], { cli: failing, stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => err.push(t) } });
    expect(code).toBe(1);
    const last = err.join('').trimEnd().split('\n').at(-1)!;
    expect(last).toMatch(/^npm start failed: maas-run-scripts register-machine exited with 1: Machine creation failed: HTTP 503/);
    const url = /listening on (http:\S+)/.exec(out.join(''))?.[1];
    expect(await refused(`${url}/api/2.0/machines/`)).toBe(true);
    const tempDir = /^Creds file and report state go to (\S+)$/m.exec(out.join(''))?.[1];
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  });

  it('fails with a one-line error when register-machine leaves the machine without hardware', async () => {
    // The real single file, run with --no-report added: registers, reports nothing.
    const dir = isolatedDir('demo-noreport', dirs);
    const wrapper = join(dir, 'register-only.mjs');
    writeFileSync(
      wrapper,
      `import { spawnSync } from 'node:child_process';\nconst run = spawnSync(process.execPath, [${JSON.stringify(BUNDLE)}, ...process.argv.slice(2), '--no-report'], { stdio: 'inherit' });\nprocess.exit(run.status ?? 1);\n`,
    );
    const out: string[] = [];
    const err: string[] = [];
    const code = await runDemo([], { cli: wrapper, stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => err.push(t) } });
    const tempDir = /^Creds file and report state go to (\S+)$/m.exec(out.join(''))?.[1];
    if (tempDir) dirs.push(tempDir);
    expect(code).toBe(1);
    expect(err.join('').trimEnd().split('\n').at(-1)).toMatch(/^npm start failed: register-machine left machine \w+ without hardware results/);
    expect(out.join('')).not.toContain('The machine as the server sees it');
  });

  it('refuses an unknown option with a usage line and exit 2', async () => {
    const run = await execa(process.execPath, [DEMO, '--keep-servng'], { cwd: PROJECT_ROOT, env: cleanEnv(), extendEnv: false, reject: false, stdin: 'ignore' });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/unknown option --keep-servng/);
    expect(run.stdout).toBe('');
  });
});
