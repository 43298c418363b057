// The official Node binary of this Node's version for another Linux architecture, for building
// the standalone executable for it. It comes from the npm package node-linux-<arch> (the Node
// project's release binary, repackaged) through `npm pack`, once: it is kept in a cache
// directory outside the project ($XDG_CACHE_HOME/maas-run-scripts, else ~/.cache/…), so no
// install of the project ever needs it.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

// ELF e_machine of each architecture.
const ELF_MACHINE = { x64: 62, arm64: 183 };

/** Where downloaded Node binaries are kept. */
export function cacheDir() {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'maas-run-scripts');
}

/** The path of Node `process.version` for linux-`arch`, fetched when not cached yet; throws a one-line reason when it cannot be had. */
export function officialNodeBinary(arch) {
  if (!(arch in ELF_MACHINE)) throw new Error(`no Node binary is known for linux-${arch}`);
  const version = process.versions.node;
  const dir = join(cacheDir(), `node-v${version}-linux-${arch}`);
  const binary = join(dir, 'bin', 'node');
  if (existsSync(binary)) return binary;

  mkdirSync(cacheDir(), { recursive: true });
  const work = mkdtempSync(join(cacheDir(), '.fetch-'));
  try {
    const spec = `node-linux-${arch}@${version}`;
    const packed = spawnSync('npm', ['pack', spec, '--pack-destination', work, '--json', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: work,
      encoding: 'utf8',
      timeout: 300_000,
    });
    if (packed.error || packed.status !== 0) {
      const why = packed.error?.message ?? (packed.stderr.split('\n').find((line) => /error/i.test(line)) || `exit ${packed.status}`);
      throw new Error(`npm pack ${spec} failed: ${why.trim()}`);
    }
    const [{ filename }] = JSON.parse(packed.stdout);
    const unpacked = spawnSync('tar', ['-xzf', join(work, filename), '-C', work, 'package/bin/node'], { encoding: 'utf8' });
    if (unpacked.status !== 0) throw new Error(`${filename} has no package/bin/node: ${unpacked.stderr.trim()}`);
    const fetched = join(work, 'package', 'bin', 'node');
    const machine = elfMachine(fetched);
    if (machine !== ELF_MACHINE[arch]) throw new Error(`${spec} holds no linux-${arch} ELF executable (ELF machine ${machine})`);
    mkdirSync(dirname(binary), { recursive: true });
    renameSync(fetched, binary);
    return binary;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// The e_machine field of an ELF file, or undefined when it is not ELF.
function elfMachine(path) {
  const header = Buffer.alloc(20);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, header, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  if (header.readUInt32BE(0) !== 0x7f454c46) return undefined;
  return header.readUInt16LE(18);
}
