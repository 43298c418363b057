// The outcome of a machine's last report run, kept in its state directory (last-run.json) so
// that `sync-status` can say when the periodic sync last ran, how it ended and when it last
// delivered something, without asking MAAS. One small file, replaced atomically by every run.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { oneLine } from '../errors.js';
import type { RunSummary } from './progress.js';
import { writeStateFile } from './spool.js';

const RECORD_FORMAT = 1;
const FILE_NAME = 'last-run.json';

/** How a run ended: everything delivered or unchanged; some results spooled or refused; stopped by an error. */
export type RunOutcome = 'ok' | 'incomplete' | 'failed';

/** What last-run.json holds. Times are ISO 8601 (UTC). */
export interface RunRecord {
  format: number;
  started_at: string;
  finished_at: string;
  outcome: RunOutcome;
  delivered: number;
  unchanged: number;
  spooled: number;
  rejected: number;
  /** The first problem of an incomplete or failed run. */
  problem?: string;
  /** The latest run that delivered at least one result (this one or an earlier one). */
  last_delivery?: { at: string; delivered: number };
}

/** Reads the record of the machine whose state is `machineDir`; undefined when there is none or it is unreadable. */
export async function readRunRecord(machineDir: string): Promise<RunRecord | undefined> {
  try {
    const parsed = JSON.parse(readFileSync(join(machineDir, FILE_NAME), 'utf8')) as Partial<RunRecord>;
    return parsed.format === RECORD_FORMAT && typeof parsed.finished_at === 'string' ? (parsed as RunRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** Records a run that started at `startedAt` and ended with `summary`, or with `error` before it had one. */
export async function recordRun(machineDir: string, startedAt: Date, ended: { summary: RunSummary } | { error: unknown }, now = new Date()): Promise<void> {
  const previous = await readRunRecord(machineDir);
  const summary = 'summary' in ended ? ended.summary : undefined;
  const finishedAt = now.toISOString();
  const delivered = summary?.delivered ?? 0;
  const problem = summary ? summary.problems[0] : oneLine((ended as { error: unknown }).error);
  const record: RunRecord = {
    format: RECORD_FORMAT,
    started_at: startedAt.toISOString(),
    finished_at: finishedAt,
    outcome: !summary ? 'failed' : summary.ok ? 'ok' : 'incomplete',
    delivered,
    unchanged: summary?.unchanged ?? 0,
    spooled: summary?.spooled ?? 0,
    rejected: summary?.rejected ?? 0,
    ...(problem !== undefined ? { problem } : {}),
    ...(delivered > 0 ? { last_delivery: { at: finishedAt, delivered } } : previous?.last_delivery ? { last_delivery: previous.last_delivery } : {}),
  };
  // Not flushed (docs/design.md D28): what sync-status shows; losing it loses nothing else.
  await writeStateFile(join(machineDir, FILE_NAME), Buffer.from(`${JSON.stringify(record)}\n`), { durable: false });
}
