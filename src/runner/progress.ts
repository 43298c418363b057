// What report-results shows while it works: on a terminal a line per collector or script with
// its status and time; otherwise (cron, timers, CI) plain timestamped log lines; with --json
// nothing but one machine-readable summary at the end.

/** How a result's delivery ended; 'unchanged': not sent, MAAS already holds the same hardware data (change-only sync). */
export type Delivery = 'delivered' | 'spooled' | 'rejected' | 'unchanged';

/** One line of the --json summary: a result and what became of it. */
export interface ResultSummary {
  name: string;
  /** The signal status sent: WORKING or TIMEDOUT. */
  status: string;
  exit_status: number;
  runtime: number;
  /** Bytes of output uploaded (all files of the signal); 0 for an unchanged result. */
  bytes: number;
  delivery: Delivery;
  /** True for a result left over from an earlier run. */
  from_spool: boolean;
  /** Why the result failed or was not delivered. */
  error?: string;
  /** A remark on the delivery, e.g. that MAAS already held a result whose answer was lost. */
  note?: string;
}

/** The --json document. */
export interface RunSummary {
  ok: boolean;
  metadata_url: string;
  delivered: number;
  /** Results not sent because MAAS already holds the same hardware data. */
  unchanged: number;
  spooled: number;
  rejected: number;
  state_dir: string;
  results: ResultSummary[];
  /** What went wrong, one line each; empty when ok. */
  problems: string[];
  /** What changed in the hardware since the report MAAS holds, in one line (see hardware-diff.ts); absent when not known. */
  hardware_changes?: string;
}

/** Receives the run's events; one implementation per output mode. */
export interface Progress {
  info(message: string): void;
  warn(message: string): void;
  /** A collector or script finished running. */
  ran(result: { name: string; exitStatus: number; timedOut: boolean; runtimeSeconds: number; error?: string; builtIn: boolean }): void;
  /** A result was delivered, spooled, rejected or found unchanged. */
  delivered(summary: ResultSummary): void;
  /** The run is over. */
  finish(summary: RunSummary): void;
}

export type ProgressMode = 'tty' | 'log' | 'json';

/** Picks the mode: --json wins, then whether `stream` is a terminal. */
export function progressMode(json: boolean, stream: { isTTY?: boolean }): ProgressMode {
  if (json) return 'json';
  return stream.isTTY ? 'tty' : 'log';
}

/** Where progress is written: process.stdout or anything else that takes text. */
export interface TextOutput {
  write(text: string): unknown;
}

export interface ProgressStreams {
  stdout: TextOutput;
  stderr: TextOutput;
  /** For log lines; defaults to the real clock. */
  now?: () => Date;
  /** The command named in log lines (default report-results). */
  command?: string;
}

/** Creates the Progress for `mode`. */
export function createProgress(mode: ProgressMode, { stdout, stderr, now = () => new Date(), command = 'report-results' }: ProgressStreams): Progress {
  if (mode === 'json') {
    return {
      info: () => undefined,
      warn: (message) => stderr.write(`warning: ${message}\n`),
      ran: () => undefined,
      delivered: () => undefined,
      finish: (summary) => stdout.write(`${JSON.stringify(summary, null, 2)}\n`),
    };
  }
  if (mode === 'tty') {
    return {
      info: (message) => stdout.write(`${message}\n`),
      warn: (message) => stderr.write(`warning: ${message}\n`),
      ran: (r) => {
        const verdict = r.timedOut ? 'timed out' : r.exitStatus === 0 ? 'ok' : `failed (exit ${r.exitStatus})`;
        stdout.write(`  ${r.name.padEnd(30)} ${verdict.padEnd(18)} ${formatSeconds(r.runtimeSeconds).padStart(8)}\n`);
      },
      delivered: (s) => {
        if (s.delivery !== 'delivered' || s.from_spool) stdout.write(`  ${s.name.padEnd(30)} ${describeDelivery(s)}\n`);
      },
      finish: (summary) => stdout.write(`${finalLine(summary)}\n`),
    };
  }
  const log = (stream: TextOutput, level: string, message: string) => stream.write(`${now().toISOString()} ${command} ${level}: ${message}\n`);
  return {
    info: (message) => log(stdout, 'info', message),
    warn: (message) => log(stderr, 'warning', message),
    ran: (r) =>
      log(stdout, 'info', `ran ${r.name}${r.builtIn ? ' (built-in)' : ''}: ${r.timedOut ? 'timed out' : `exit ${r.exitStatus}`} in ${formatSeconds(r.runtimeSeconds)}`),
    delivered: (s) => log(stdout, s.delivery === 'rejected' ? 'error' : 'info', `${s.name}: ${describeDelivery(s)}${s.delivery === 'unchanged' ? '' : ` (${s.bytes} bytes)`}`),
    finish: (summary) => log(stdout, summary.ok ? 'info' : 'error', finalLine(summary)),
  };
}

function describeDelivery(s: ResultSummary): string {
  const origin = s.from_spool ? 'spooled result ' : '';
  if (s.delivery === 'delivered') return `${origin}delivered${s.note ? ` (${s.note})` : ''}`;
  if (s.delivery === 'spooled') return `${origin}kept in the spool for the next run`;
  if (s.delivery === 'unchanged') return 'unchanged since the last delivered report, not sent';
  return `${origin}rejected by MAAS${s.error ? `: ${s.error}` : ''}`;
}

function finalLine(summary: RunSummary): string {
  const parts = [`${summary.delivered} delivered`];
  if (summary.unchanged) parts.push(`${summary.unchanged} unchanged`);
  if (summary.spooled) parts.push(`${summary.spooled} spooled in ${summary.state_dir}`);
  if (summary.rejected) parts.push(`${summary.rejected} rejected`);
  return `${summary.ok ? 'done' : 'incomplete'}: ${parts.join(', ')}`;
}

function formatSeconds(seconds: number): string {
  return seconds < 10 ? `${seconds.toFixed(2)} s` : `${seconds.toFixed(1)} s`;
}
