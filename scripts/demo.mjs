// `npm start`: runs the demo of src/cli/demo.ts from the build (npm start builds first).
// `npm start -- --keep-serving` keeps the server up and prints its URL and admin key.
import { existsSync } from 'node:fs';

const built = new URL('../dist/src/cli/demo.js', import.meta.url);
if (!existsSync(built)) {
  console.error('npm start failed: the build is missing: run npm run build first (npm start does)');
  process.exit(1);
}
const { runDemo } = await import(built.href);
process.exitCode = await runDemo(process.argv.slice(2));
