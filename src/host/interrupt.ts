// Ctrl-C, SIGTERM (systemd stopping a timer's unit) or SIGHUP (a closed SSH session) during a
// run: what the run started outside its own process is undone before it dies. Scripts and
// collector commands run in process groups of their own, which the terminal's signal does not
// reach, so they are killed; the run's temporary directory and its state lock are removed. The
// spool needs nothing: its writes are atomic and the next run cleans what a dying one left.
// Then the signal is raised again, so the process ends as killed by it (exit 130 for Ctrl-C).
// It belongs to the process the tool runs in, below both the runner and the collectors, which
// both register cleanups (support-info removes its temporary DMI dump).

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

const cleanups = new Set<() => void>();

function onSignal(signal: NodeJS.Signals): void {
  for (const s of SIGNALS) process.off(s, onSignal);
  const pending = [...cleanups].reverse();
  cleanups.clear();
  for (const cleanup of pending) {
    try {
      cleanup();
    } catch {
      // Dying anyway: one failed cleanup must not keep the others from running.
    }
  }
  process.kill(process.pid, signal);
}

/**
 * Runs `cleanup` (synchronous: the process is about to die) if SIGINT, SIGTERM or SIGHUP arrives
 * before the returned function is called; that function unregisters it once the thing it cleans
 * up is gone. While anything is registered these signals are handled here.
 */
export function onInterrupt(cleanup: () => void): () => void {
  if (cleanups.size === 0) for (const s of SIGNALS) process.on(s, onSignal);
  cleanups.add(cleanup);
  return () => {
    if (!cleanups.delete(cleanup) || cleanups.size > 0) return;
    for (const s of SIGNALS) process.off(s, onSignal);
  };
}
