// Walks a directory tree under the Host's root the way `find DIR ! -type d` does: symlinks are
// listed but never followed (sysfs is full of links back up the tree), unreadable directories
// are skipped. The walk reads directories synchronously: a sysfs readdir never touches hardware,
// and /sys/devices holds about a thousand directories, whose async reads cost twice the CPU. It
// hands the thread back every few dozen directories, so the commands other collectors are
// starting and reading are not held up behind it.
import { readdirSync, type Dirent } from 'node:fs';
import { join, posix } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Host } from '../src/host/host.js';

/** Directories read between two turns of the event loop. */
const DIRS_PER_TURN = 64;

export interface WalkOptions {
  /** Which non-directory entries to return, by name (default: all). */
  accept?: (name: string) => boolean;
  /**
   * Skip each device's `power` directory. A directory holding a `uevent` file is a device, and
   * its `power` subdirectory is the kernel's power-management attribute group: plain
   * attributes, never a child device (a child of that name could not be registered). It is
   * about four in ten of the directories under /sys/devices.
   */
  skipDevicePower?: boolean;
  /**
   * Skip the memory block devices, /sys/devices/system/memory/memoryN. The memory subsystem gives
   * a block only its own attributes (state, online, phys_index, valid_zones, ...), never a
   * `modalias` and never a child device, and there is one block per 128 MiB to 2 GiB of memory:
   * hundreds or thousands of directories on a large server, a third of those under /sys/devices
   * on a 24 GiB virtual machine, none of which a search for device files can find anything in.
   */
  skipMemoryBlocks?: boolean;
}

/** The directory holding the memory block devices (see WalkOptions.skipMemoryBlocks). */
const MEMORY_BLOCKS = '/sys/devices/system/memory';
const MEMORY_BLOCK = /^memory\d+$/;

/** Paths (as seen inside the root) of every non-directory entry under `dir` that `accept` takes. */
export async function findEntries(host: Host, dir: string, { accept = () => true, skipDevicePower = false, skipMemoryBlocks = false }: WalkOptions = {}): Promise<string[]> {
  const found: string[] = [];
  // Paths are joined by hand (the names readdir gives hold no '/', '.' or '..'): path.join's
  // normalising, once for each of thousands of entries, is a good part of the walk's CPU.
  const pending = [posix.normalize(dir)];
  const onHost = (path: string) => (host.root === '/' ? path : join(host.root, path));
  let read = 0;
  for (let path = pending.pop(); path !== undefined; path = pending.pop()) {
    if (++read % DIRS_PER_TURN === 0) await nextTurn();
    let entries: Dirent[];
    try {
      entries = readdirSync(onHost(path), { withFileTypes: true });
    } catch {
      continue; // vanished while walking (hot-unplug) or not permitted: find reports and skips it too
    }
    const isDevice = skipDevicePower && entries.some((e) => e.name === 'uevent' && !e.isDirectory());
    const inMemoryBlocks = skipMemoryBlocks && path === MEMORY_BLOCKS;
    const prefix = path.endsWith('/') ? path : `${path}/`;
    for (const entry of entries) {
      const child = prefix + entry.name;
      if (entry.isDirectory()) {
        if (!(isDevice && entry.name === 'power') && !(inMemoryBlocks && MEMORY_BLOCK.test(entry.name))) pending.push(child);
      } else if (accept(entry.name)) found.push(child);
    }
  }
  return found;
}
