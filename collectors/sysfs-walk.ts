// Walks a directory tree under the Host's root the way `find DIR ! -type d` does: symlinks are
// listed but never followed (sysfs is full of links back up the tree), unreadable directories
// are skipped.
import { readdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Host } from '../src/host/host.js';

/** Paths (as seen inside the root) of every non-directory entry under `dir` whose name passes `accept`. */
export async function findEntries(host: Host, dir: string, accept: (name: string) => boolean = () => true): Promise<string[]> {
  const found: string[] = [];
  const visit = async (path: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(join(host.root, path), { withFileTypes: true });
    } catch {
      return; // vanished while walking (hot-unplug) or not permitted: find reports and skips it too
    }
    const below: Promise<void>[] = [];
    for (const entry of entries) {
      const child = posix.join(path, entry.name);
      if (entry.isDirectory()) below.push(visit(child));
      else if (accept(entry.name)) found.push(child);
    }
    await Promise.all(below);
  };
  await visit(dir);
  return found;
}
