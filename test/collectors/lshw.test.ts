import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_NOT_FOUND, lshwCollector, runLshw } from '../../collectors/lshw.js';
import { createHost } from '../../src/host/host.js';
import { createRunCommand, defaultSearchPath, TIMEOUT_EXIT_STATUS } from '../../src/host/run-command.js';
import { installed } from '../helpers/trees.js';
import { makeRoot } from '../helpers/make-root.js';

const hasLshw = await installed('lshw');

/** A host whose tool search path is only `dir` (plus nothing else), to stand a script in for lshw. */
async function hostWithFakeLshw(script: string) {
  const dir = await makeRoot({ 'bin/lshw': { exec: script } });
  return createHost({ run: createRunCommand({ searchPath: [join(dir, 'bin')] }), isRoot: true });
}

describe('maas-lshw', () => {
  it.skipIf(!hasLshw)('prints the hardware tree as lshw XML on this machine', async () => {
    const output = await lshwCollector.produce(createHost({ isRoot: true }));
    expect(output.exitCode).toBe(0);
    expect(output.stdout.startsWith('<?xml')).toBe(true);
    expect(output.stdout).toMatch(/<node id="[^"]+" claimed="true" class="system"/);
    expect(output.stderr).not.toMatch(/not running as root/);
  });

  it.skipIf(!hasLshw)('still prints the tree when not root, and warns that it is partial', async () => {
    const output = await lshwCollector.produce(createHost({ isRoot: false }));
    expect(output.exitCode).toBe(0);
    expect(output.stdout.startsWith('<?xml')).toBe(true);
    expect(output.stderr).toMatch(/not running as root: lshw output is partial/);
  });

  it('fails with exit 127 and says how to install lshw when it is missing', async () => {
    const host = createHost({ run: createRunCommand({ searchPath: defaultSearchPath({ PATH: '', MAAS_RUN_SCRIPTS_PATH: '' }) }) });
    const output = await runLshw(host, 10_000);
    expect(output.exitCode).toBe(EXIT_NOT_FOUND);
    expect(output.stdout).toBe('');
    expect(output.stderr).toMatch(/^lshw is not available \(lshw: command not found\): install the lshw package/);
    expect(output.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('passes on the exit status and message of an lshw that fails', async () => {
    // A stand-in script on an injected path: real lshw cannot be made to fail on demand.
    const host = await hostWithFakeLshw('#!/bin/sh\necho "lshw: out of memory" >&2\nexit 3\n');
    const output = await runLshw(host, 10_000);
    expect(output.exitCode).toBe(3);
    expect(output.stderr).toContain('lshw: out of memory');
    expect(output.stderr).toContain('exited with status 3');
  });

  it('reports a hung lshw as timed out (exit 124) once its timeout kills it', async () => {
    const host = await hostWithFakeLshw('#!/bin/sh\nsleep 60\n');
    const output = await runLshw(host, 300);
    expect(output.exitCode).toBe(TIMEOUT_EXIT_STATUS);
    expect(output.stderr).toMatch(/did not finish within/);
  });
});

describe('maas-lshw and physical memory', () => {
  /** A tree host whose lshw stand-in prints the arguments it was given. */
  async function treeHost(tree: Record<string, string>) {
    const root = await makeRoot({ ...tree, 'bin/lshw': { exec: '#!/bin/sh\necho "$@"\n' } });
    return createHost({ root, run: createRunCommand({ searchPath: [join(root, 'bin')] }), isRoot: true });
  }

  it("disables lshw's DMI scan when the kernel exposes no SMBIOS table (it would read /dev/mem), and says so", async () => {
    const output = await runLshw(await treeHost({ 'proc/cmdline': 'quiet\n' }), 10_000);
    expect(output.stdout).toBe('-xml -disable dmi\n');
    expect(output.exitCode).toBe(0);
    expect(output.stderr).toMatch(/no SMBIOS table.*DMI scan is disabled.*\/dev\/mem/);
  });

  it('runs plain `lshw -xml` when the kernel exposes the SMBIOS table', async () => {
    const output = await runLshw(await treeHost({ 'sys/firmware/dmi/tables/DMI': 'table' }), 10_000);
    expect(output.stdout).toBe('-xml\n');
    expect(output.stderr).toBe('');
  });
});
