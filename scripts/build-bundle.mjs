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
import { chmodSync, mkdirSync } from 'node:fs';

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

const prologue = `#!/usr/bin/env node
${check.outputFiles[0].text.trim()}
var __loadedAs = typeof __filename === 'string' ? __filename : '';
var __loadedBy = typeof require === 'function' ? require : undefined;
(async () => {
const __builtin = (name) => (__loadedBy ? Promise.resolve(__loadedBy(name)) : import(name));
const { createRequire: __createRequire } = await __builtin('node:module');
const { realpathSync: __realpathSync } = await __builtin('node:fs');
const { pathToFileURL: __pathToFileURL } = await __builtin('node:url');
const __filename = __loadedAs || (() => { try { return __realpathSync(process.argv[1]); } catch { return process.argv[1] || process.cwd() + '/maas-run-scripts'; } })();
const __dirname = __filename.slice(0, __filename.lastIndexOf('/')) || '/';
const __bundleUrl = __pathToFileURL(__filename).href;
const require = __createRequire(__filename);
const module = { exports: {} };
const exports = module.exports;`;

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
  plugins: [lazyChildProcessForCommander],
  entryPoints: ['src/cli/entry.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: syntaxTarget,
  external: ['better-sqlite3'],
  // The server finds the file it runs from (to serve it) and loads the SQLite addon next to it.
  define: { 'import.meta.url': '__bundleUrl' },
  // Fewer bytes for Node to read and parse at every start; names kept, as messages may show them.
  minify: true,
  keepNames: true,
  legalComments: 'none',
  logLevel: 'warning',
  banner: { js: prologue },
  footer: { js: epilogue },
});
chmodSync(outfile, 0o755);
