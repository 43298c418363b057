// Builds the standalone executable `build/maas-run-scripts-linux-<arch>`: a copy of the Node
// binary running this script with the whole CLI injected as a single executable application
// (SEA), so a host needs no Node at all. Steps:
//   1. esbuild writes a CommonJS variant of the CLI (SEA runs its main script as CommonJS and its
//      `require` loads builtins only; the single file's dynamic-import prologue cannot run there);
//   2. `node --experimental-sea-config` turns it into a blob (with V8's code cache: it is made for
//      this very binary, so the CLI starts without compiling its code);
//   3. postject injects the blob into a stripped copy of the binary and flips its SEA fuse;
//   4. the result is run once (`--version`) before it replaces an earlier build.
// The SQLite addon cannot be inside: `serve --db` in the standalone says so.
//
// Nothing is rebuilt when the inputs (the CommonJS variant, the Node binary, this script,
// postject) are those of the last build: `npm test` and `npm run build` run this every time.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const { values: args } = parseArgs({ options: { arch: { type: 'string', default: process.arch } } });
const arch = args.arch;
const SUPPORTED = ['x64', 'arm64'];
const SEA_RESOURCE = 'NODE_SEA_BLOB';
const workDir = resolve('build/.standalone');
const outfile = `build/maas-run-scripts-linux-${arch}`;
const version = JSON.parse(readFileSync('package.json', 'utf8')).version;

function fail(message) {
  console.error(`build-standalone: ${message}`);
  process.exit(1);
}

// Exit 0 with a reason: the single file is the product every Node host can run; a Node that
// cannot make single executable applications leaves only the standalone out. An earlier build
// left in place would no longer match the sources, so it goes (serve would offer it).
function skip(reason) {
  rmSync(outfile, { force: true });
  console.log(`build-standalone: skipped ${outfile}: ${reason}`);
  process.exit(0);
}

if (!SUPPORTED.includes(arch)) fail(`--arch must be one of ${SUPPORTED.join(', ')}, got '${arch}'`);
if (process.platform !== 'linux') skip(`standalone executables are built on Linux only (this is ${process.platform})`);
const [major, minor] = process.versions.node.split('.').map(Number);
// node:sea (how the standalone knows it is one) exists from Node 20.12.
if (major < 20 || (major === 20 && minor < 12)) skip(`Node ${process.version} cannot build it; use Node >= 20.12`);

const native = arch === process.arch;
if (!native) skip(`building for linux-${arch} on a ${process.arch} host is not supported`);
const nodeBinary = process.execPath;
const binaryBytes = readFileSync(nodeBinary);
const fuses = new Set(binaryBytes.toString('latin1').match(/NODE_SEA_FUSE_[0-9a-f]{32}(?=:[01])/g) ?? []);
if (fuses.size !== 1) skip(`${nodeBinary} has ${fuses.size === 0 ? 'no' : 'more than one'} single-executable fuse (not an official Node build?)`);
const [fuse] = fuses;

// 1. The CommonJS variant. `import.meta.url` (how the server finds the files it serves, and
// the SQLite loader its addon) becomes the executable's own file URL.
mkdirSync(workDir, { recursive: true });
const mainFile = join(workDir, 'main.cjs');
await build({
  entryPoints: ['src/cli/entry.ts'],
  outfile: mainFile,
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

// Strip what the binary carries for debuggers (symbols, debug info); the SEA note is added after.
const strip = native ? findTool('strip') : findTool(arch === 'arm64' ? 'aarch64-linux-gnu-strip' : 'x86_64-linux-gnu-strip');
const codeCache = native;

const stamp = createHash('sha256')
  .update(readFileSync(mainFile))
  .update(binaryBytes)
  .update(readFileSync(new URL(import.meta.url)))
  .update(readFileSync('node_modules/postject/package.json'))
  .update(JSON.stringify({ strip: Boolean(strip), codeCache }))
  .digest('hex');
const stampFile = join(workDir, `linux-${arch}.stamp`);
if (existsSync(outfile) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) {
  console.log(`build-standalone: ${outfile} is up to date`);
  process.exit(0);
}

// 2. The blob.
const blobFile = join(workDir, `linux-${arch}.blob`);
const configFile = join(workDir, `sea-config-linux-${arch}.json`);
writeFileSync(configFile, `${JSON.stringify({ main: mainFile, output: blobFile, disableExperimentalSEAWarning: true, useCodeCache: codeCache, useSnapshot: false }, null, 2)}\n`);
const made = spawnSync(process.execPath, ['--experimental-sea-config', configFile], { encoding: 'utf8' });
if (made.status !== 0) fail(`node --experimental-sea-config failed: ${(made.stderr || made.stdout).trim()}`);

// 3. A copy of the binary, stripped, with the blob injected.
const partial = `${outfile}.partial`;
rmSync(partial, { force: true });
copyFileSync(nodeBinary, partial);
chmodSync(partial, 0o755);
if (strip) {
  const stripped = spawnSync(strip, ['--strip-all', partial], { encoding: 'utf8' });
  if (stripped.status !== 0) fail(`${strip} failed: ${stripped.stderr.trim()}`);
}
// postject's command line, in a child process: its ELF library prints warnings about the notes
// it rewrites, which only matter when the injection fails.
const injected = spawnSync(process.execPath, ['node_modules/postject/dist/cli.js', partial, SEA_RESOURCE, blobFile, '--sentinel-fuse', fuse], { encoding: 'utf8' });
if (injected.status !== 0) {
  rmSync(partial, { force: true });
  fail(`postject could not inject the blob: ${(injected.stderr + injected.stdout).trim()}`);
}

// 4. It must run (on this host, when it is for this host).
if (native) {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const ran = spawnSync(partial, ['--version'], { encoding: 'utf8', env });
  if (ran.status !== 0 || ran.stdout.trim() !== version) {
    rmSync(partial, { force: true });
    fail(`the built executable does not run: --version gave exit ${ran.status}, ${JSON.stringify((ran.stdout + ran.stderr).trim())}`);
  }
}
renameSync(partial, outfile);
writeFileSync(stampFile, stamp);
console.log(`build-standalone: ${outfile} (${(statSync(outfile).size / 1048576).toFixed(1)} MiB, Node ${process.version}, ${codeCache ? 'with' : 'without'} code cache${strip ? ', stripped' : ''})`);

// The path of a command on PATH, or undefined.
function findTool(name) {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}
