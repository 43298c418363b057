// Declares the commands, their arguments and options. Each action lazily imports its command
// module, so `--help` and one command never load the others (or the server's SQLite addon).
import { Command } from 'commander';
import { VERSION } from '../version.js';

/** Options every command can read: the global flags given before the command name. */
export interface GlobalOptions {
  debug: boolean;
}

export function buildProgram(): Command {
  const program = new Command('maas-run-scripts')
    .description('Bring running Linux machines under MAAS without disturbing them: register them as Deployed and keep their hardware data current.')
    .version(VERSION, '-V, --version')
    .option('--debug', 'show details (script output, stack traces) while running', false)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });

  // Commands are added below, one block each (see src/cli/commands/<name>.ts).

  return program;
}

/** Reads the global options from a subcommand's parent. */
export function globalOptions(command: Command): GlobalOptions {
  const root = command.parent ?? command;
  return { debug: Boolean(root.opts().debug) };
}
