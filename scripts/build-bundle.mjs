// Builds the single-file CLI `build/maas-run-scripts`: every pure-JS dependency bundled, a node
// shebang, mode 0755, runnable with no node_modules on any host with Node >= 18.19 (Ubuntu
// 24.04's and Debian 12's packaged node). The SQLite addon (native) stays outside: `serve --db`
// says so when it is missing; everything else works.
//
// Older Node releases are refused in one line (src/cli/node-version.ts) before anything else
// runs. For that line to be reached, the whole file must parse there: Node parses a script
// completely before running its first statement, and releases before 14 or 15 do not know `?.`,
// `??=` or `#private` fields. So the syntax is lowered to what Node 10.4 parses (10.4 is the
// first with BigInt literals, which cannot be lowered; Ubuntu 20.04 ships 10.19, 22.04 12.22).
// Lowering changes how the code is written, not what it does, and only syntax: which APIs
// exist is what the version check and the Node 18 test in the suite answer.
//
// The file has no extension, so Node decides by the nearest package.json whether it is CommonJS
// or an ES module: CommonJS in an empty directory (ES module syntax there needs Node >= 20.19's
// syntax detection), an ES module inside this project. The bundle is therefore written in the
// subset both accept: one async function that gets `require` through a dynamic import, which
// both module kinds allow. Loaded as CommonJS (as bin/maas-run-scripts loads it) it takes its
// own path from __filename and Node's builtins from `require`, so it needs no dynamic import;
// otherwise it runs as the program and knows its path from argv.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

const outfile = 'build/maas-run-scripts';
const syntaxTarget = 'node10.4';

// The version check, as a plain statement run before the bundle's function starts.
const check = await build({
  stdin: {
    contents: "import { exitIfNodeTooOld } from './src/cli/node-version.ts';\nexitIfNodeTooOld();\n",
    resolveDir: process.cwd(),
    sourcefile: 'node-version-check.ts',
    loader: 'ts',
  },
  bundle: true,
  write: false,
  platform: 'node',
  format: 'iife',
  target: syntaxTarget,
  legalComments: 'none',
  logLevel: 'warning',
});

// Code that few runs need is kept out of the main script: the bundled server (only `serve`
// runs it, with its HTTP, form-data and tar code) and the YAML library (only register-machine and
// get-machine-token, writing a creds file, `collect --format yaml` and a creds file of unusual
// shape use it). Each is bundled on its own into a chunk, appended to the file after the main
// script as line comments (below CHUNKS_MARKER). bin/maas-run-scripts reads and compiles only the
// main script, less than half of the file; Node running the file itself skips the comments. The
// first time a run needs a chunk, it reads the file again, takes the chunk out and compiles it.
//
// A chunk gets Node's builtins from the single file's `require`. The modules it shares with the
// main script (src/errors.ts, whose classes must be the very ones the CLI checks with instanceof;
// src/standalone.ts; the YAML chunk) are handed to it, not bundled into it again.
const CHUNKS_MARKER = '//# chunks of maas-run-scripts follow (bin/maas-run-scripts reads what is above)';
const sharedWithChunks = { errors: resolve('src/errors.ts'), standalone: resolve('src/standalone.ts') };

/** esbuild resolves `./x.js` imports to `x.ts`: the absolute .ts path an import stands for. */
function sourceOf(args) {
  return args.path.startsWith('.') ? resolve(args.resolveDir, args.path).replace(/\.js$/, '.ts') : args.path;
}

/** In a chunk: the shared modules come from the main script, YAML from its own chunk. */
const fromMainScript = {
  name: 'from-main-script',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.path === 'yaml') return { path: 'yaml', namespace: 'main-script' };
      const shared = Object.entries(sharedWithChunks).find(([, file]) => file === sourceOf(args));
      return shared ? { path: shared[0], namespace: 'main-script' } : undefined;
    });
    build.onLoad({ filter: /.*/, namespace: 'main-script' }, (args) => ({
      contents: args.path === 'yaml' ? "module.exports = __loadChunk('yaml', {});" : `module.exports = __shared.${args.path};`,
      loader: 'js',
    }));
  },
};

/** In the main script: the server and YAML are their chunks, loaded when first required. */
const chunksOfMainScript = {
  name: 'chunks-of-main-script',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.path === 'yaml') return { path: 'yaml', namespace: 'chunk' };
      return sourceOf(args) === resolve('src/server/server.ts') ? { path: 'server', namespace: 'chunk' } : undefined;
    });
    build.onLoad({ filter: /.*/, namespace: 'chunk' }, (args) => ({
      // A copy of the file cut short fails here with the CLI's own one-line error.
      contents: `const { CliError } = require(${JSON.stringify(sharedWithChunks.errors)});\n${
        args.path === 'yaml'
          ? "module.exports = __loadChunk('yaml', {}, CliError);"
          : `module.exports = __loadChunk('server', { ${Object.entries(sharedWithChunks).map(([name, file]) => `${name}: require(${JSON.stringify(file)})`).join(', ')} }, CliError);`
      }`,
      loader: 'js',
      resolveDir: process.cwd(),
    }));
  },
};

/**
 * src/builtin.ts becomes the single file's own `require` (the main script's, or the one handed
 * to a chunk), which loads Node's modules as they are: the compiled modules make a require
 * function from their file URL instead, which costs every first use a URL and a module record.
 */
const ownRequireForBuiltins = {
  name: 'own-require-for-builtins',
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]builtin\.ts$/ }, () => ({ contents: 'export const requireBuiltin = require;\n', loader: 'js' }));
  },
};

/** One chunk: the CommonJS bundle of `entry`, as the line comments the file carries it in. */
async function chunk(name, entry) {
  const result = await build({
    plugins: [fromMainScript, ownRequireForBuiltins],
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'cjs',
    target: syntaxTarget,
    external: ['better-sqlite3'],
    define: { 'import.meta.url': '__bundleUrl' },
    minify: true,
    keepNames: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const code = result.outputFiles[0].text;
  // A line comment ends at any line terminator: the chunk must hold no other than \n.
  if (/[\r\u2028\u2029]/.test(code)) throw new Error(`chunk ${name}: its code holds a line terminator other than \\n`);
  const lines = code.endsWith('\n') ? code.slice(0, -1).split('\n') : code.split('\n');
  return `//@ chunk ${name} ${lines.length}\n${lines.map((line) => `//${line}\n`).join('')}`;
}

const chunks = [await chunk('server', 'src/server/server.ts'), await chunk('yaml', 'node_modules/yaml/dist/index.js')];

const prologue = `#!/usr/bin/env node
${check.outputFiles[0].text.trim()}
var __loadedAs = typeof __filename === 'string' ? __filename : '';
var __loadedBy = typeof require === 'function' ? require : undefined;
(async () => {
const __filename = __loadedAs || (await import('node:fs').then(({ realpathSync }) => { try { return realpathSync(process.argv[1]); } catch { return process.argv[1] || process.cwd() + '/maas-run-scripts'; } }));
const __dirname = __filename.slice(0, __filename.lastIndexOf('/')) || '/';
const require = __loadedBy || (await import('node:module')).createRequire(__filename);
// import.meta.url, made the first time a module asks (most runs never do).
const __bundle = { get url() { const url = require('node:url').pathToFileURL(__filename).href; Object.defineProperty(this, 'url', { value: url }); return url; } };
const module = { exports: {} };
const exports = module.exports;
// A chunk (see CHUNKS_MARKER), read from this file and compiled the first time it is required.
const __chunkExports = {};
function __loadChunk(name, shared, Failure) {
  if (!(name in __chunkExports)) {
    const text = require('node:fs').readFileSync(__filename, 'utf8');
    const head = '\\n//@ chunk ' + name + ' ';
    const at = text.indexOf(head, text.lastIndexOf(${JSON.stringify(`\n${CHUNKS_MARKER}\n`)}));
    const first = text.indexOf('\\n', at + 1) + 1;
    const count = Number(text.slice(at + head.length, first - 1));
    const lines = at < 0 ? [] : text.slice(first).split('\\n', count).map((line) => line.slice(2));
    if (lines.length === 0 || lines.length !== count) throw new (Failure || Error)('this copy of maas-run-scripts lacks its ' + name + ' code (the file is cut short): copy the whole file again');
    const wrapper = '(function (module, exports, __shared, require, __bundleUrl, __filename, __dirname, __loadChunk) {' + lines.join('\\n') + '\\n})';
    const compiled = new (require('node:vm').Script)(wrapper, { filename: __filename + ' (' + name + ')' }).runInThisContext();
    const chunk = { exports: {} };
    __chunkExports[name] = chunk.exports;
    compiled(chunk, chunk.exports, shared, require, __bundle.url, __filename, __dirname, __loadChunk);
    __chunkExports[name] = chunk.exports;
  }
  return __chunkExports[name];
}`;

const epilogue = `})().catch((error) => {
  process.stderr.write(\`unexpected error: \${error && error.message ? error.message : String(error)}\\n\`);
  process.exitCode = 1;
});`;

// commander loads node:child_process when it is first required, for subcommands that are
// separate executables, which this CLI does not have. Loading it (with the stream and socket
// modules under it) is a good part of the start-up of --version or --help, so commander gets it
// through a stand-in that loads the real module on first use.
const lazyChildProcessForCommander = {
  name: 'lazy-child-process-for-commander',
  setup(build) {
    build.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /[\\/]commander[\\/]/.test(args.importer) ? { path: 'commander-child-process', namespace: 'lazy-builtin' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, () => ({
      contents: "let real;\nmodule.exports = new Proxy({}, { get: (_, key) => (real ??= require('node:child_process'))[key] });\n",
      loader: 'js',
    }));
  },
};

mkdirSync('build', { recursive: true });
await build({
  plugins: [lazyChildProcessForCommander, chunksOfMainScript, ownRequireForBuiltins],
  entryPoints: ['src/cli/entry.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: syntaxTarget,
  external: ['better-sqlite3'],
  // The server finds the file it runs from (to serve it) and loads the SQLite addon next to it.
  define: { 'import.meta.url': '__bundle.url' },
  // Fewer bytes for Node to read and parse at every start; names kept, as messages may show them.
  minify: true,
  keepNames: true,
  legalComments: 'none',
  logLevel: 'warning',
  banner: { js: prologue },
  footer: { js: epilogue },
});
appendFileSync(outfile, `${CHUNKS_MARKER}\n${chunks.join('')}`);
// The line after the #! line: the build's identity, then the length of the main script in bytes
// (10 digits, so the line's own length is known before the number is). V8 takes a code cache for
// any source of the same length, so bin/maas-run-scripts keys its caches by this digest of the
// file, not by V8's check; and it reads the main script alone, by its length, where searching the
// whole file for CHUNKS_MARKER would cost more than compiling what it found. The main script is
// ASCII (esbuild escapes any other character), which the bin decodes without checking UTF-8.
const built = readFileSync(outfile, 'utf8');
const firstLine = built.indexOf('\n') + 1;
const mainEnd = built.lastIndexOf(`\n${CHUNKS_MARKER}\n`) + 1;
if (mainEnd <= 0) throw new Error(`${outfile}: no ${CHUNKS_MARKER} line`);
if (/[^\x00-\x7f]/.test(built.slice(0, mainEnd))) throw new Error(`${outfile}: the main script holds a character other than ASCII`);
const identity = `//# build ${createHash('sha256').update(built).digest('hex').slice(0, 16)} `;
const mainBytes = String(mainEnd + identity.length + 10 + 1).padStart(10, '0');
writeFileSync(outfile, `${built.slice(0, firstLine)}${identity}${mainBytes}\n${built.slice(firstLine)}`);
chmodSync(outfile, 0o755);
