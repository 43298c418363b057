// The executable's entry: runs the CLI. Kept apart from main.ts so importing main() runs nothing.
import { runMain } from './main.js';

runMain();
