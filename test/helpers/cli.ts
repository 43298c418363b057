// Runs the built CLI (bin/maas-run-scripts → dist) as a subprocess, as users do.
import { execa, type Options } from 'execa';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = fileURLToPath(new URL('../../bin/maas-run-scripts', import.meta.url));

export interface CliRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs `maas-run-scripts ...args`; never throws on a non-zero exit. */
export async function runCli(args: readonly string[], options: Options = {}): Promise<CliRun> {
  const result = await execa(process.execPath, [CLI, ...args], { reject: false, timeout: 120_000, ...options, stdin: 'ignore' });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}
