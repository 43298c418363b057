// Whether this process is the standalone executable (Node's single executable application, built
// by scripts/build-standalone.mjs) rather than Node running the single file or the compiled CLI.
// In the standalone, process.execPath is the tool itself and only builtin modules can be loaded.
import { isBuiltin } from 'node:module';
import { requireBuiltin } from './builtin.js';

let cached: boolean | undefined;

/** True inside the standalone executable. */
export function isStandalone(): boolean {
  cached ??= detect();
  return cached;
}

function detect(): boolean {
  // node:sea's isSea() exists from Node 20.12; older Node cannot build the standalone either.
  if (!isBuiltin('node:sea')) return false;
  try {
    const sea = requireBuiltin('node:sea') as { isSea?: () => boolean };
    return typeof sea.isSea === 'function' && sea.isSea();
  } catch {
    return false;
  }
}

/** The standalone executable's file name for an architecture (process.arch: x64, arm64). */
export function standaloneName(arch: string): string {
  return `maas-run-scripts-linux-${arch}`;
}

/** Architectures a standalone executable is built for. */
export const STANDALONE_ARCHES = ['x64', 'arm64'] as const;
