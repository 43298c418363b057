// Builds the single-file CLI `build/maas-run-scripts`: every pure-JS dependency bundled, a node
// shebang, mode 0755, runnable with no node_modules on any host with Node >= 20. The SQLite addon
// (native) stays outside: `serve --db` says so when it is missing; everything else works.
import { build } from 'esbuild';
import { chmodSync, mkdirSync } from 'node:fs';

const outfile = 'build/maas-run-scripts';
mkdirSync('build', { recursive: true });
await build({
  entryPoints: ['src/cli/entry.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3'],
  legalComments: 'none',
  logLevel: 'warning',
  banner: {
    // CommonJS dependencies call require() for Node built-ins; give the ESM bundle one.
    js: "#!/usr/bin/env node\nimport { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
  },
});
chmodSync(outfile, 0o755);
