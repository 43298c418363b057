// Collector contracts. An AreaReader reads one area of the machine-resources document through a
// Host and returns it with its warnings; resources.ts runs them all and assembles the document. A
// DeployInfoCollector produces what one or more of MAAS's deploy-info scripts would print, and is
// what `collect` and `report-results` run.
import type { Host } from '../src/host/host.js';
import type { AreaReading, DeployInfoScriptName } from '../src/resources/types.js';

/** Reads one area through the Host. Pure parsing lives in separate exported functions. */
export type AreaReader<T> = (host: Host) => Promise<AreaReading<T>>;

/** What a deploy-info collector hands to the runner: the script's outputs and exit code. */
export interface DeployInfoOutput {
  /** What the upstream script prints on stdout (uploaded as `<script>.out`). */
  stdout: string;
  /** Warnings and partial-data notes (uploaded as `<script>.err`); never secrets. */
  stderr: string;
  /** 0 on success; non-zero when the collector failed (the error is in stderr). */
  exitCode: number;
}

/** A built-in, non-disruptive replacement for one or more MAAS deploy-info scripts. */
export interface DeployInfoCollector {
  /** Short name used by `collect --only` (e.g. "resources", "lshw"). */
  readonly name: string;
  /** The deploy-info scripts this collector answers (the resources JSON answers two). */
  readonly scripts: readonly DeployInfoScriptName[];
  /** Its own tight timeout; the runner kills it (and what it started) past this. */
  readonly timeoutMs: number;
  /**
   * Started before the others: it spends its time waiting on one long external command, which
   * should already run while Node does the in-process collectors' reading.
   */
  readonly startFirst?: boolean;
  produce(host: Host): Promise<DeployInfoOutput>;
}
