// The standalone executable (build/maas-run-scripts-linux-<arch>: Node and the CLI in one file)
// copied alone into an empty directory and run as on a server that never had Node: no `node`
// anywhere on PATH, no node_modules in reach.
import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/cli.js';
import { cleanEnv, ensureBundle, ensureStandalone, envWithoutNode, hostCpuCount, isolatedDir, PACKAGE_VERSION, removeDirs } from './packaging-helpers.js';


interface Resources {
  resources: {
    cpu: { total: number };
    memory: { total: number };
    storage: { disks?: { id: string; size: number }[] };
    network: { cards?: { ports?: { id: string; address: string }[] }[] };
  };
}

// What a collect run says about the hardware, leaving out what moves between two runs.
function hardware(document: Resources) {
  const { cpu, memory, storage, network } = document.resources;
  return {
    threads: cpu.total,
    memory: memory.total,
    disks: (storage.disks ?? []).map((disk) => [disk.id, disk.size]),
    ports: (network.cards ?? []).flatMap((card) => (card.ports ?? []).map((port) => [port.id, port.address])),
  };
}

describe('the standalone executable', () => {
  const dirs: string[] = [];
  let standalone: string;
  let bundle: string;
  beforeAll(() => {
    standalone = ensureStandalone();
    bundle = ensureBundle();
  });
  afterEach(() => {
    removeDirs(dirs);
  });

  // The executable alone in a fresh directory, and an environment whose PATH has no node.
  function copyAlone(): { dir: string; exe: string; env: Record<string, string> } {
    const dir = isolatedDir('standalone', dirs);
    const exe = join(dir, basename(standalone));
    copyFileSync(standalone, exe);
    return { dir, exe, env: envWithoutNode(isolatedDir('path', dirs)) };
  }

  it('prints its version and collects this host the way the single file does, with no node on PATH', async () => {
    const { dir, exe, env } = copyAlone();
    const options = { cwd: dir, env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 120_000 } as const;

    const version = await execa(exe, ['--version'], options);
    expect([version.exitCode, version.stdout.trim(), version.stderr]).toEqual([0, PACKAGE_VERSION, '']);

    const collected = await execa(exe, ['collect'], options);
    expect(collected.exitCode, collected.stderr).toBe(0);
    const viaNode = await execa(bundle, ['collect'], { ...options, env: cleanEnv() });
    expect(viaNode.exitCode, viaNode.stderr).toBe(0);
    const mine = hardware(JSON.parse(collected.stdout) as Resources);
    expect(mine.threads).toBe(hostCpuCount());
    expect(mine).toEqual(hardware(JSON.parse(viaNode.stdout) as Resources));

    // Every deploy-info file report-results would upload, as the single file writes them (both
    // exit 1 alike where a wrapped tool such as lshw is not installed).
    const output = join(dir, 'preview');
    const written = await execa(exe, ['collect', '--output', output], options);
    const nodeOutput = join(isolatedDir('preview-node', dirs), 'preview');
    const nodeWritten = await execa(bundle, ['collect', '--output', nodeOutput], { ...options, env: cleanEnv() });
    expect(written.exitCode, written.stderr).toBe(nodeWritten.exitCode);
    expect(readdirSync(output).length).toBeGreaterThan(0);
    expect(readdirSync(output).sort()).toEqual(readdirSync(nodeOutput).sort());
  });

  it('refuses serve --db with one line saying it has no SQLite and where to get it, exit 1, no file made', async () => {
    const { dir, exe, env } = copyAlone();
    const db = join(dir, 'state.db');
    const run = await execa(exe, ['serve', '--port', '0', '--db', db], { cwd: dir, env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 60_000 });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^maas-run-scripts-linux-\w+ is the standalone executable, which has no SQLite support for --db: /);
    expect(lines[0]).toContain('better-sqlite3');
    expect(lines[0]).toContain('without --db');
    expect(existsSync(db)).toBe(false);
  });

  it('refuses serve --db even where a better-sqlite3 install is in reach (inside this project)', async () => {
    const dir = isolatedDir('db', dirs);
    const db = join(dir, 'state.db');
    const run = await execa(standalone, ['serve', '--port', '0', '--db', db], { cwd: PROJECT_ROOT, env: cleanEnv(), extendEnv: false, reject: false, stdin: 'ignore', timeout: 60_000 });
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain('has no SQLite support for --db');
    expect(existsSync(db)).toBe(false);
  });
});
