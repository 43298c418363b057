// Delivering a run's results: each result is in the spool before it is sent, is marked in flight
// while it is, and leaves the spool once MAAS answered 200 (or refused it for good). After MAAS
// proved unreachable, or refused the machine's credentials, nothing more is sent in this run:
// the rest stays spooled for the next one. Every result, sent or not, becomes one line of the
// run's summary.
import { MaasApiError, oneLine } from '../errors.js';
import type { SignalFields, SignalFile } from '../maas/types.js';
import type { Progress, ResultSummary, RunSummary } from './progress.js';
import type { MachineState, SpooledSignal } from './spool.js';
import type { SyncState } from './sync-state.js';

/** Why delivery stopped for this run. */
export interface Halt {
  /** 'unreachable': MAAS cannot take results now; 'auth': it refused the machine credentials. */
  kind: 'unreachable' | 'auth';
  /** The one-line error that stopped it. */
  message: string;
}

/** How a failed MAAS call counts: refused for good, refused as this machine, or worth trying again later. */
export type Failure = 'rejected' | 'auth' | 'unreachable';

/** 'rejected' for an answer that will not change on a retry (4xx other than auth and the "later" codes). */
export function classifyFailure(error: unknown): Failure {
  if (error instanceof MaasApiError) {
    if (error.status === 401 || error.status === 403) return 'auth';
    return error.retryable ? 'unreachable' : 'rejected';
  }
  return 'unreachable';
}

/** What a Deliverer works with. */
export interface DelivererDeps {
  client: { signal(fields: SignalFields, files: SignalFile[]): Promise<void> };
  state: MachineState;
  sync: SyncState;
  progress: Progress;
}

/** A result that is not sent (see Deliverer.unchanged). */
export interface UnsentResult {
  fields: SignalFields;
}

/** Sends spooled results one by one and records what became of each in `summary`. */
export class Deliverer {
  /** Set once delivery stopped for this run; from then on results only stay spooled. */
  private stopped: Halt | undefined;
  /** Spool files of results MAAS was found to hold already (not sent again). */
  private readonly confirmedPaths = new Set<string>();

  constructor(
    private readonly deps: DelivererDeps,
    private readonly summary: RunSummary,
  ) {}

  /** Why delivery stopped, or undefined while it goes on. */
  get halted(): Halt | undefined {
    return this.stopped;
  }

  /** Stops delivery for the rest of the run (the first reason is kept). */
  halt(reason: Halt): void {
    this.stopped ??= reason;
  }

  /**
   * Sends a spooled result unless delivery has stopped. Delivered: it leaves the spool and is
   * remembered for change-only sync. Refused for good: it leaves the spool as rejected. Otherwise
   * it stays spooled and delivery stops.
   */
  async send(signal: SpooledSignal, fromSpool: boolean): Promise<void> {
    const line = this.lineOf(signal, fromSpool);
    if (!this.stopped) {
      try {
        await this.deps.state.spool.markInFlight(signal);
        await this.deps.client.signal(signal.fields, signal.files);
        line.delivery = 'delivered';
        this.deps.sync.delivered(signal.fields, signal.files, Date.now());
        await this.deps.state.spool.remove(signal);
      } catch (error) {
        const kind = classifyFailure(error);
        if (kind === 'rejected') {
          // MAAS will never take this one: say so and drop it rather than retry forever.
          line.delivery = 'rejected';
          line.error = oneLine(error);
          this.deps.sync.forget(signal.fields.name);
          await this.deps.state.spool.remove(signal);
        } else {
          this.stopped = { kind, message: oneLine(error) };
        }
      }
    }
    this.record(line);
  }

  /** Records a spooled result MAAS is known to hold already, and forgets it without sending. */
  async confirm(signal: SpooledSignal): Promise<void> {
    await this.deps.state.spool.remove(signal);
    this.deps.sync.delivered(signal.fields, signal.files, Date.now());
    this.confirmedPaths.add(signal.path);
    this.record({ ...this.lineOf(signal, true), delivery: 'delivered', note: 'already stored by MAAS; not sent again' });
  }

  /** Whether `signal` was confirmed (and so must not be sent). */
  isConfirmed(signal: SpooledSignal): boolean {
    return this.confirmedPaths.has(signal.path);
  }

  /** Records a result that is not sent: MAAS holds the same hardware data already. */
  unchanged({ fields }: UnsentResult): void {
    this.record({
      name: fields.name,
      status: fields.status,
      exit_status: fields.exit_status,
      runtime: fields.runtime,
      bytes: 0,
      delivery: 'unchanged',
      from_spool: false,
      note: 'same hardware data as the result MAAS holds; not sent',
    });
  }

  private lineOf(signal: SpooledSignal, fromSpool: boolean): ResultSummary {
    const line: ResultSummary = {
      name: signal.fields.name,
      status: signal.fields.status,
      exit_status: signal.fields.exit_status,
      runtime: signal.fields.runtime,
      bytes: signal.files.reduce((sum, f) => sum + Buffer.byteLength(f.content), 0),
      delivery: 'spooled',
      from_spool: fromSpool,
    };
    if (signal.fields.error) line.error = signal.fields.error;
    return line;
  }

  private record(line: ResultSummary): void {
    const { summary } = this;
    summary.results.push(line);
    if (line.delivery === 'delivered') summary.delivered += 1;
    else if (line.delivery === 'unchanged') summary.unchanged += 1;
    else if (line.delivery === 'spooled') summary.spooled += 1;
    else {
      summary.rejected += 1;
      summary.problems.push(`MAAS rejected the result of ${line.name}: ${line.error}`);
    }
    this.deps.progress.delivered(line);
  }
}
