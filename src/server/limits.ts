// How much a request may send and how slowly: body caps by route and by who is asking, the
// memory all bodies may hold at once, and the timeouts that close stalled or trickling uploads.
// docs/design.md D20 explains the choices; the README's `serve` section lists the defaults.

/** Every limit the server applies to requests (bytes, milliseconds, bytes per second). */
export interface ServerLimits {
  /** Body cap of a machine's signal (`POST …/metadata/…` with a machine token). */
  signalBytes: number;
  /** Body cap of an administrator's script upload (`POST`/`PUT …/scripts/`). */
  scriptUploadBytes: number;
  /** Body cap of every other request signed by a user or machine (machine forms and the like). */
  apiBytes: number;
  /** Body cap of an unsigned enlistment (`POST …/machines/` without OAuth); other unsigned bodies are never read. */
  anonymousBytes: number;
  /** Bytes the bodies of signed requests may hold in memory at once. */
  budgetBytes: number;
  /** Bytes one token may hold of that budget at once. */
  perCallerBytes: number;
  /** Bytes unsigned enlistments may hold at once: their own small pool, no share of the above. */
  anonymousBudgetBytes: number;
  /** The request line and headers must have arrived this long after the request began. */
  headersTimeoutMs: number;
  /** The whole body must have arrived this long after the headers. */
  bodyTimeoutMs: number;
  /** A connection (or body) with no data for this long is closed. */
  idleTimeoutMs: number;
  /** After `rateGraceMs`, a body must arrive at least this fast on average. */
  minBytesPerSecond: number;
  rateGraceMs: number;
}

const MiB = 1024 * 1024;

/** The defaults: far above any real upload (lshw XML is a few MB), far below what hurts the server. */
export const DEFAULT_LIMITS: Readonly<ServerLimits> = Object.freeze({
  signalBytes: 64 * MiB,
  scriptUploadBytes: 64 * MiB,
  apiBytes: 1 * MiB,
  anonymousBytes: 64 * 1024,
  budgetBytes: 256 * MiB,
  perCallerBytes: 64 * MiB,
  anonymousBudgetBytes: 1 * MiB,
  headersTimeoutMs: 20_000,
  bodyTimeoutMs: 120_000,
  idleTimeoutMs: 30_000,
  minBytesPerSecond: 32 * 1024,
  rateGraceMs: 10_000,
});
