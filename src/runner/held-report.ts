// The hardware report MAAS holds from this machine: its stored machine-resources result, which
// MAAS sends back in the scripts tarball as out/<script>.<result id>.out (docs/protocol.md §5.3),
// read from the tarball's files. `diff` and report-results compare it with what the host reads
// now (hardware-diff.ts).
import type { ScriptIndexEntry } from '../maas/types.js';
import type { MachineResources } from '../resources/types.js';
import { parseResources } from './hardware-diff.js';
import { storedCopyName, type ScriptFiles } from './signal-files.js';

/** The two deploy-info scripts whose output is the machine-resources document, in the order tried. */
export const RESOURCES_SCRIPTS = ['20-maas-03-machine-resources', '50-maas-01-commissioning'] as const;

/** A stored machine-resources result. */
export interface HeldReport {
  script: string;
  script_result_id: number;
  document: MachineResources;
}

/**
 * The machine-resources document MAAS holds, from the first of RESOURCES_SCRIPTS whose result has
 * a stored copy that is a document (a failed run's output is not); undefined when there is none.
 */
export function heldReport(scripts: ScriptFiles, entries: readonly ScriptIndexEntry[]): HeldReport | undefined {
  for (const script of RESOURCES_SCRIPTS) {
    const entry = entries.find((e) => e.name === script);
    if (typeof entry?.script_result_id !== 'number') continue;
    const stored = scripts.read(storedCopyName(script, entry.script_result_id, '.out'));
    const document = stored === undefined ? undefined : parseResources(Buffer.from(stored).toString('utf8'));
    if (document) return { script, script_result_id: entry.script_result_id, document };
  }
  return undefined;
}
