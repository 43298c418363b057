// Declares the commands, their arguments and options. Each action lazily imports its command
// module, so `--help` and one command never load the others (or the server's SQLite addon).
import { Command, Option } from 'commander';
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

  program
    .command('report-results')
    .description("run the built-in collectors (and any custom script MAAS sends) and upload the results; results MAAS cannot take now are spooled and delivered by the next run")
    .option('--config <file>', 'creds file written by register-machine or get-machine-token (reporting: maas: ...)')
    .option('--machine-token <token>', 'machine credentials ck:tk:ts; replaces those of --config')
    .option('--metadata-url <url>', "MAAS URL; replaces the config's endpoint (only scheme and host:port are used)")
    .option('--server-scripts', 'run exactly the scripts MAAS sends instead of the built-in collectors', false)
    .option('--state-dir <dir>', 'where undelivered results wait (default: /var/lib/maas-run-scripts as root, else $XDG_STATE_HOME/maas-run-scripts)')
    .option('--json', 'print a machine-readable summary of every result on stdout instead of progress lines', false)
    .addOption(new Option('--root <dir>', 'collect from a captured tree instead of this machine (testing)').hideHelp())
    .action(async (opts: { config?: string; machineToken?: string; metadataUrl?: string; serverScripts: boolean; stateDir?: string; json: boolean; root?: string }, command: Command) => {
      const { reportResultsCommand } = await import('./commands/report-results.js');
      await reportResultsCommand({ ...opts, debug: globalOptions(command).debug });
    });

  // Commands are added below, one block each (see src/cli/commands/<name>.ts).

  return program;
}

/** Reads the global options from a subcommand's parent. */
export function globalOptions(command: Command): GlobalOptions {
  const root = command.parent ?? command;
  return { debug: Boolean(root.opts().debug) };
}
