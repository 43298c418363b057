// Whether a process still runs, for tests that check what the tool killed.
import { readFile } from 'node:fs/promises';

/** True while `pid` runs; a killed process that nobody reaped yet (a zombie) counts as gone. */
export async function isAlive(pid: number): Promise<boolean> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return status !== '' && !/^State:\s+Z/m.test(status);
}

/**
 * True once `pid` is gone, false if it still runs after `withinMs`. SIGKILL is delivered at once
 * but a process at idle priority on a busy machine may wait a moment for a CPU to finish dying.
 */
export async function goneWithin(pid: number, withinMs = 5000): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (await isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}
