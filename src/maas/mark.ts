// Locking a machine and setting its workload annotations through MAAS's own API operations
// (op=lock, op=set_workload_annotations; docs/design.md requirement 6, D17), idempotently: the
// machine is read first and only what differs is changed, so a second run sends no change, and a
// lock MAAS refuses as "already locked" (409) counts as done.
import { CliError, MaasApiError } from '../errors.js';
import type { MaasClient } from './client.js';

/** What to make true of a machine. */
export interface MachineMarks {
  lock: boolean;
  /** Workload annotations to set; an empty value removes the key. */
  annotations: Record<string, string>;
}

/** What was done: for the lock and for each annotation, whether it changed or was already so. */
export interface MarkOutcome {
  lock?: 'locked' | 'already locked';
  annotations: { key: string; value: string; changed: boolean }[];
}

/**
 * Makes `marks` true of machine `systemId`. Annotations go first: MAAS refuses changes to a
 * locked machine, so a machine locked by this run must already carry them.
 */
export async function markMachine(client: Pick<MaasClient, 'readMachine' | 'lockMachine' | 'setWorkloadAnnotations'>, systemId: string, marks: MachineMarks): Promise<MarkOutcome> {
  const outcome: MarkOutcome = { annotations: [] };
  const wanted = Object.entries(marks.annotations);
  if (!marks.lock && wanted.length === 0) return outcome;
  const machine = await client.readMachine(systemId);
  const held = machine.workload_annotations ?? {};
  const changes: Record<string, string> = {};
  for (const [key, value] of wanted) {
    const same = value === '' ? !Object.hasOwn(held, key) : held[key] === value;
    if (!same) changes[key] = value;
    outcome.annotations.push({ key, value, changed: !same });
  }
  if (Object.keys(changes).length > 0) {
    try {
      await client.setWorkloadAnnotations(systemId, changes);
    } catch (error) {
      if (error instanceof MaasApiError && (error.status === 403 || error.status === 409)) {
        const why = machine.locked
          ? 'the machine is locked: unlock it in MAAS (op=unlock), re-run, and it is locked again'
          : 'MAAS keeps workload annotations only for the user the machine is deployed to: register with that user\'s API key';
        throw new CliError(`${error.message}; ${why}`, { cause: error });
      }
      throw error;
    }
  }
  if (marks.lock) {
    if (machine.locked) {
      outcome.lock = 'already locked';
    } else {
      try {
        await client.lockMachine(systemId, 'locked by maas-run-scripts register-machine');
        outcome.lock = 'locked';
      } catch (error) {
        // MAAS answers 409 to a lock of a locked machine: someone locked it meanwhile.
        if (!(error instanceof MaasApiError && error.status === 409 && (await client.readMachine(systemId)).locked)) throw error;
        outcome.lock = 'already locked';
      }
    }
  }
  return outcome;
}
