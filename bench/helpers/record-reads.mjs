// Notes what the built-in collectors read, for the floor of a report-results run
// (bench/helpers/floor-process.cjs): every file, directory listing, link and status that one
// pass of the collectors asks the kernel for, in order. The collectors run in this process, on
// one Host as a run shares it, with node:fs and node:fs/promises wrapped while they run; the
// tool's modules import those functions by name, and module.syncBuiltinESMExports() points
// their bindings at the wrappers (and back after). Commands run as in a real run, but their
// start is not noted here: the floor takes the commands from a run of the tool itself.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';

import { deployInfoCollectors } from '../../dist/collectors/index.js';
import { createHost } from '../../dist/src/host/host.js';

/**
 * The reads one pass of every collector makes, as [kind, path] pairs: kind is one of file,
 * dir, dirents (a listing with entry types), link, realpath, lstat, stat. A collector's own
 * temporary files are left out (a command's output it reads back is the command's cost).
 */
export async function recordCollectorReads() {
  const reads = [];
  const scratch = tmpdir();
  const note = (kind, path) => {
    if (typeof path === 'string' && path.startsWith('/') && !path.startsWith(`${scratch}/`)) reads.push([kind, path]);
  };
  const wrapped = [
    [fs, 'readFileSync', (real) => (path, ...rest) => (note('file', path), real(path, ...rest))],
    [fs, 'readdirSync', (real) => (path, options) => (note(options?.withFileTypes ? 'dirents' : 'dir', path), real(path, options))],
    [fs, 'readlinkSync', (real) => (path, ...rest) => (note('link', path), real(path, ...rest))],
    [fs, 'lstatSync', (real) => (path, ...rest) => (note('lstat', path), real(path, ...rest))],
    [fs, 'statSync', (real) => (path, ...rest) => (note('stat', path), real(path, ...rest))],
    [fs.realpathSync, 'native', (real) => (path, ...rest) => (note('realpath', path), real(path, ...rest))],
    [fsp, 'readFile', (real) => (path, ...rest) => (note('file', path), real(path, ...rest))],
  ];
  const originals = wrapped.map(([object, name]) => object[name]);
  wrapped.forEach(([object, name, wrap], i) => (object[name] = wrap(originals[i])));
  syncBuiltinESMExports();
  try {
    const host = createHost();
    await Promise.all(deployInfoCollectors.map((collector) => collector.produce(host)));
  } finally {
    wrapped.forEach(([object, name], i) => (object[name] = originals[i]));
    syncBuiltinESMExports();
  }
  return reads;
}
