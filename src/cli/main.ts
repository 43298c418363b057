// Entry point: parses argv, runs the command, maps errors to exit codes; runMain is the only process.exit.
import { CommanderError } from 'commander';
import { CliError } from '../errors.js';
import { buildProgram } from './program.js';

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  const debug = argv.slice(0, argv.findIndex((a) => !a.startsWith('-')) >>> 0).includes('--debug');
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    return reportError(error, debug);
  }
}

function reportError(error: unknown, debug: boolean): number {
  if (error instanceof CommanderError) {
    // commander already printed its message (and usage); help and version are successes.
    return error.exitCode === 0 ? 0 : 2;
  }
  if (error instanceof CliError) {
    process.stderr.write(`${error.message}\n`);
    if (debug && error.stack) process.stderr.write(`${error.stack}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`unexpected error: ${message.split('\n')[0]}${debug ? '' : ' (run with --debug for details)'}\n`);
  if (debug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return 1;
}

/** Runs the CLI on process.argv and sets the process's exit code. */
export function runMain(): void {
  // When the event loop has nothing left to do, the process ends there (the 'exit' handlers still
  // run): left to itself, Node would first free its heap and its own objects one by one, about a
  // millisecond of a short command's CPU, all of which the kernel frees at once anyway. Nothing
  // is cut short: an output write still pending, or any other work, keeps the loop from emptying.
  process.once('beforeExit', (code) => process.exit(code));
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`unexpected error: ${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
