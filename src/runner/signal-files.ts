// The names of a script's result files, in one place: `<script>.out` (stdout), `<script>.err`
// (stderr), `<script>` (combined) and `<script>.yaml` (what it wrote to $RESULT_PATH). The same
// names are used in the run directory (docs/protocol.md §5.5), in a signal's files
// (docs/protocol.md §4.1), in `collect --output`, and in the scripts tarball's copies of what
// MAAS stores, `out/<script>.<result id><suffix>` (docs/protocol.md §5.3).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeployInfoScriptName } from '../resources/types.js';
import type { CollectorOutcome } from './run-collectors.js';

/** What a result file holds. */
export type ResultStream = 'stdout' | 'stderr' | 'combined' | 'result';

const SUFFIX: Record<ResultStream, string> = { stdout: '.out', stderr: '.err', combined: '', result: '.yaml' };

/** The name of `script`'s file holding `stream`. */
export function resultFileName(script: string, stream: ResultStream): string {
  return `${script}${SUFFIX[stream]}`;
}

/** Whether `suffix` (what follows the script's name) names one of its result files. */
export function isResultSuffix(suffix: string): boolean {
  return Object.values(SUFFIX).includes(suffix);
}

/** The suffix of `fileName` when it is one of `script`'s result files, else undefined. */
export function resultSuffix(script: string, fileName: string): string | undefined {
  if (!fileName.startsWith(script)) return undefined;
  const suffix = fileName.slice(script.length);
  return isResultSuffix(suffix) ? suffix : undefined;
}

/** Where the scripts tarball keeps MAAS's copy of a stored result file (docs/protocol.md §5.3), as a path inside it. */
export function storedCopyName(script: string, resultId: number, suffix: string): string {
  return `out/${script}.${resultId}${suffix}`;
}

/** Files of a scripts tarball, by their "/"-separated path inside it (index.json, storedCopyName…). */
export interface ScriptFiles {
  /** A regular file's bytes; undefined when there is none by that path (or it cannot be read). */
  read(path: string): Uint8Array | undefined;
}

/** The files of a scripts tarball extracted into `dir`. */
export function scriptFilesIn(dir: string): ScriptFiles {
  return {
    read: (path) => {
      try {
        return readFileSync(join(dir, path));
      } catch {
        return undefined;
      }
    },
  };
}

/** A named file of a result. */
export interface ResultFile<C> {
  name: string;
  content: C;
}

/** A result's files in the order a signal sends them: .out, .err, the combined output, then .yaml when there is one. */
export function resultFiles<C>(script: string, contents: { stdout: C; stderr: C; combined: C; result?: C | undefined }): ResultFile<C>[] {
  const files: ResultFile<C>[] = [
    { name: resultFileName(script, 'stdout'), content: contents.stdout },
    { name: resultFileName(script, 'stderr'), content: contents.stderr },
    { name: resultFileName(script, 'combined'), content: contents.combined },
  ];
  if (contents.result !== undefined) files.push({ name: resultFileName(script, 'result'), content: contents.result });
  return files;
}

/** A built-in collector's files for one script: its stdout, its notes, and both as the combined output (it has no interleaving to keep). */
export function collectorFiles(script: string, output: { stdout: string; stderr: string }): ResultFile<string>[] {
  return resultFiles(script, { stdout: output.stdout, stderr: output.stderr, combined: output.stdout + output.stderr });
}

/** The files report-results would upload for each script an outcome answers (what `collect --output` writes). */
export function scriptOutputFiles(outcome: CollectorOutcome): { script: DeployInfoScriptName; files: ResultFile<string>[] }[] {
  return outcome.scripts.map((script) => ({ script, files: collectorFiles(script, outcome.output) }));
}
