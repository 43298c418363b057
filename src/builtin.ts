// Loads one of Node's own modules the first time it is needed, for code that must not load it at
// start, as a static import would (node:child_process in a --version run, node:zlib for a tarball
// that is not compressed). Node's own modules need no resolving from any place: the single file
// puts its own `require` here (scripts/build-bundle.mjs), which spares making a require function
// from a file URL at each first use; the compiled modules make one, once.
import { createRequire } from 'node:module';

/** `require` for `node:` modules only. */
export const requireBuiltin: (id: `node:${string}`) => unknown = createRequire(import.meta.url);
