// The monotonic clock runtimes are measured with.

/**
 * Milliseconds on a monotonic clock (fractions included), as performance.now() gives them, but
 * without touching the global `performance`: Node loads its perf_hooks module the first time that
 * is used, a cost a short command need not pay for two readings of the clock.
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
