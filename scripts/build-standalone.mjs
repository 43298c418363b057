// Builds the standalone executables `build/maas-run-scripts-linux-<arch>`: a Node binary with
// the whole CLI injected as a single executable application (SEA), so a host needs no Node at
// all. Steps:
//   1. esbuild writes a CommonJS variant of the CLI (SEA runs its main script as CommonJS and its
//      `require` loads builtins only; the single file's dynamic-import prologue cannot run there);
//   2. `node --experimental-sea-config` turns it into a blob;
//   3. postject injects the blob into a stripped copy of the Node binary and flips its SEA fuse;
//   4. the result is run once (`--version`) before it replaces an earlier build.
// The SQLite addon cannot be inside: `serve --db` in the standalone says so.
//
// For this host's architecture the binary is the Node running this script, and the blob carries
// V8's code cache (made by and for that very binary, so the CLI starts without compiling its
// code). For the other architecture (x64 ↔ arm64) it is the official Node binary of the same
// version (scripts/fetch-node.mjs fetches it once into a cache outside the project), without
// code cache, stripped and run only where qemu-user can run it; when it cannot be had, that
// build is skipped with the reason.
//
//   node scripts/build-standalone.mjs                 this host's architecture
//   node scripts/build-standalone.mjs --arch arm64    one architecture
//   node scripts/build-standalone.mjs --arch all      every architecture (what npm run build does)
//
// Nothing is rebuilt when the inputs (the CommonJS variant, the Node binary, this script,
// postject) are those of the last build: `npm test` and `npm run build` run this every time.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { fetchNode } from './fetch-node.mjs';

const SUPPORTED = ['x64', 'arm64'];
// What runs a binary of another architecture here: qemu-user and the target's C libraries
// (Debian's qemu-user-static and libc6-<arch>-cross, libstdc++6-<arch>-cross).
const FOREIGN = {
  arm64: { qemu: 'qemu-aarch64-static', sysroot: '/usr/aarch64-linux-gnu', loader: 'lib/ld-linux-aarch64.so.1', strip: 'aarch64-linux-gnu-strip' },
  x64: { qemu: 'qemu-x86_64-static', sysroot: '/usr/x86_64-linux-gnu', loader: 'lib64/ld-linux-x86-64.so.2', strip: 'x86_64-linux-gnu-strip' },
};
const SEA_RESOURCE = 'NODE_SEA_BLOB';
const workDir = resolve('build/.standalone');
const version = JSON.parse(readFileSync('package.json', 'utf8')).version;

class Skip extends Error {}

const { values: args } = parseArgs({ options: { arch: { type: 'string', default: process.arch } } });
const arches = args.arch === 'all' ? [process.arch, ...SUPPORTED.filter((arch) => arch !== process.arch)] : [args.arch];
if (!arches.every((arch) => SUPPORTED.includes(arch))) fail(`--arch must be all or one of ${SUPPORTED.join(', ')}, got '${args.arch}'`);

let mainFile;
for (const arch of arches) {
  const outfile = `build/maas-run-scripts-linux-${arch}`;
  try {
    console.log(`build-standalone: ${await buildFor(arch, outfile)}`);
  } catch (error) {
    if (!(error instanceof Skip)) fail(`${outfile}: ${error.message}`);
    // The single file is the product every Node host can run; a standalone that cannot be built
    // here is left out. An earlier build of it no longer matches the sources, so it goes (serve
    // would offer it).
    rmSync(outfile, { force: true });
    console.log(`build-standalone: skipped ${outfile}: ${error.message}`);
  }
}

async function buildFor(arch, outfile) {
  if (process.platform !== 'linux') throw new Skip(`standalone executables are built on Linux only (this is ${process.platform})`);
  const [major, minor] = process.versions.node.split('.').map(Number);
  // node:sea (how the standalone knows it is one) exists from Node 20.12.
  if (major < 20 || (major === 20 && minor < 12)) throw new Skip(`Node ${process.version} cannot build it; use Node >= 20.12`);

  const native = arch === process.arch;
  let nodeBinary = process.execPath;
  if (!native) {
    try {
      nodeBinary = fetchNode(process.versions.node, { arch });
    } catch (error) {
      throw new Skip(`no Node ${process.version} binary for linux-${arch}: ${error.message}`);
    }
  }
  const binaryBytes = readFileSync(nodeBinary);
  const fuses = new Set(binaryBytes.toString('latin1').match(/NODE_SEA_FUSE_[0-9a-f]{32}(?=:[01])/g) ?? []);
  if (fuses.size !== 1) throw new Skip(`${nodeBinary} has ${fuses.size === 0 ? 'no' : 'more than one'} single-executable fuse (not an official Node build?)`);
  const [fuse] = fuses;

  mainFile ??= await bundleMain();
  // How the result can be run here: directly, or under qemu-user (then also the only way to
  // know a stripped foreign binary still works, so it is stripped only then).
  const runner = native ? [] : foreignRunner(arch);
  const strip = native ? findTool('strip') : runner && findTool(FOREIGN[arch].strip);
  const codeCache = native;

  const stamp = createHash('sha256')
    .update(readFileSync(mainFile))
    .update(binaryBytes)
    .update(readFileSync(new URL(import.meta.url)))
    .update(readFileSync('node_modules/postject/package.json'))
    .update(JSON.stringify({ strip: Boolean(strip), codeCache, runs: Boolean(runner) }))
    .digest('hex');
  const stampFile = join(workDir, `linux-${arch}.stamp`);
  if (existsSync(outfile) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return `${outfile} is up to date`;

  // 2. The blob.
  const blobFile = join(workDir, `linux-${arch}.blob`);
  const configFile = join(workDir, `sea-config-linux-${arch}.json`);
  writeFileSync(configFile, `${JSON.stringify({ main: mainFile, output: blobFile, disableExperimentalSEAWarning: true, useCodeCache: codeCache, useSnapshot: false }, null, 2)}\n`);
  const made = spawnSync(process.execPath, ['--experimental-sea-config', configFile], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`node --experimental-sea-config failed: ${(made.stderr || made.stdout).trim()}`);

  // 3. A copy of the binary, stripped, with the blob injected.
  const partial = `${outfile}.partial`;
  rmSync(partial, { force: true });
  try {
    copyFileSync(nodeBinary, partial);
    chmodSync(partial, 0o755);
    if (strip) {
      const stripped = spawnSync(strip, ['--strip-all', partial], { encoding: 'utf8' });
      if (stripped.status !== 0) throw new Error(`${strip} failed: ${stripped.stderr.trim()}`);
    }
    // postject's command line, in a child process: its ELF library prints warnings about the
    // notes it rewrites, which only matter when the injection fails.
    const injected = spawnSync(process.execPath, ['node_modules/postject/dist/cli.js', partial, SEA_RESOURCE, blobFile, '--sentinel-fuse', fuse], { encoding: 'utf8' });
    if (injected.status !== 0) throw new Error(`postject could not inject the blob: ${(injected.stderr + injected.stdout).trim()}`);

    // 4. It must run, wherever it can be run here.
    if (runner) {
      const env = { ...process.env };
      delete env.NODE_OPTIONS;
      const [command, ...prefix] = [...runner, partial];
      const ran = spawnSync(command, [...prefix, '--version'], { encoding: 'utf8', env, timeout: 120_000 });
      if (ran.status !== 0 || ran.stdout.trim() !== version) {
        throw new Error(`the built executable does not run: --version gave exit ${ran.status}, ${JSON.stringify((ran.stdout + ran.stderr).trim())}`);
      }
    }
    renameSync(partial, outfile);
  } finally {
    rmSync(partial, { force: true });
  }
  writeFileSync(stampFile, stamp);
  const notes = [`Node ${process.version}`, codeCache ? 'with code cache' : 'without code cache', strip ? 'stripped' : 'not stripped', runner ? (native ? 'ran' : `ran under ${runner[0]}`) : 'not run: no qemu-user for it here'];
  return `${outfile} (${(statSync(outfile).size / 1048576).toFixed(1)} MiB, ${notes.join(', ')})`;
}

// 1. The CommonJS variant, shared by every architecture. `import.meta.url` (how the server finds
// the files it serves, and the SQLite loader its addon) becomes the executable's own file URL.
async function bundleMain() {
  mkdirSync(workDir, { recursive: true });
  const file = join(workDir, 'main.cjs');
  await build({
    entryPoints: ['src/cli/entry.ts'],
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${process.versions.node}`,
    external: ['better-sqlite3'],
    define: { 'import.meta.url': '__executableUrl' },
    banner: { js: `'use strict';\nconst __executableUrl = require('node:url').pathToFileURL(process.execPath).href;` },
    legalComments: 'none',
    logLevel: 'warning',
  });
  return file;
}

// The command prefix that runs a linux-`arch` executable on this host, or undefined.
function foreignRunner(arch) {
  const { qemu, sysroot, loader } = FOREIGN[arch];
  const command = findTool(qemu);
  return command && existsSync(join(sysroot, loader)) ? [command, '-L', sysroot] : undefined;
}

// The path of a command on PATH, or undefined.
function findTool(name) {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

function fail(message) {
  console.error(`build-standalone: ${message}`);
  process.exit(1);
}
