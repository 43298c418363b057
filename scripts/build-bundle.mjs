// Builds the single-file CLI `build/maas-run-scripts`: every pure-JS dependency bundled, a node
// shebang, mode 0755, runnable with no node_modules on any host with Node >= 20. The SQLite addon
// (native) stays outside: `serve --db` says so when it is missing; everything else works.
//
// The file has no extension, so Node decides by the nearest package.json whether it is CommonJS
// or an ES module: CommonJS in an empty directory (ES module syntax there needs Node >= 20.19's
// syntax detection), an ES module inside this project. The bundle is therefore written in the
// subset both accept: one async function that gets `require` through a dynamic import, which
// both module kinds allow, and knows its own path from argv (it only ever runs as the program).
import { build } from 'esbuild';
import { chmodSync, mkdirSync } from 'node:fs';

const outfile = 'build/maas-run-scripts';

const prologue = `#!/usr/bin/env node
(async () => {
const { createRequire: __createRequire } = await import('node:module');
const { realpathSync: __realpathSync } = await import('node:fs');
const { pathToFileURL: __pathToFileURL } = await import('node:url');
const __filename = (() => { try { return __realpathSync(process.argv[1]); } catch { return process.argv[1] || process.cwd() + '/maas-run-scripts'; } })();
const __dirname = __filename.slice(0, __filename.lastIndexOf('/')) || '/';
const __bundleUrl = __pathToFileURL(__filename).href;
const require = __createRequire(__filename);
const module = { exports: {} };
const exports = module.exports;`;

const epilogue = `})().catch((error) => {
  process.stderr.write(\`unexpected error: \${error && error.message ? error.message : String(error)}\\n\`);
  process.exitCode = 1;
});`;

mkdirSync('build', { recursive: true });
await build({
  entryPoints: ['src/cli/entry.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['better-sqlite3'],
  // The server finds the file it runs from (to serve it) and loads the SQLite addon next to it.
  define: { 'import.meta.url': '__bundleUrl' },
  legalComments: 'none',
  logLevel: 'warning',
  banner: { js: prologue },
  footer: { js: epilogue },
});
chmodSync(outfile, 0o755);
