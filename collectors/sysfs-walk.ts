// Walks a directory tree under the Host's root the way `find DIR ! -type d` does: symlinks are
// listed but never followed (sysfs is full of links back up the tree), unreadable directories
// are skipped. The walk reads directories synchronously: a sysfs readdir never touches hardware,
// and /sys/devices holds about a thousand directories, whose async reads cost twice the CPU.
import { readdirSync, type Dirent } from 'node:fs';
import { join, posix } from 'node:path';
import type { Host } from '../src/host/host.js';

/** Paths (as seen inside the root) of every non-directory entry under `dir` whose name passes `accept`. */
export async function findEntries(host: Host, dir: string, accept: (name: string) => boolean = () => true): Promise<string[]> {
  const found: string[] = [];
  const pending = [dir];
  for (let path = pending.pop(); path !== undefined; path = pending.pop()) {
    let entries: Dirent[];
    try {
      entries = readdirSync(join(host.root, path), { withFileTypes: true });
    } catch {
      continue; // vanished while walking (hot-unplug) or not permitted: find reports and skips it too
    }
    for (const entry of entries) {
      const child = posix.join(path, entry.name);
      if (entry.isDirectory()) pending.push(child);
      else if (accept(entry.name)) found.push(child);
    }
  }
  return found;
}
