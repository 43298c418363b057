// Declares the commands, their arguments and options. Each action lazily imports its command
// module, so `--help` and one command never load the others (or the server's SQLite addon).
import { Command, InvalidArgumentError, Option } from 'commander';
import type * as V8 from 'node:v8';
import { parseCredentials } from '../maas/api-key.js';
import { normaliseMaasUrl } from '../maas/maas-url.js';
import { BadUrlError, UsageError } from '../errors.js';
import { requireBuiltin } from '../builtin.js';
import { standardOutput, waitBeforeWrites } from '../files.js';
import { choosePriority, ensureOwnPriority, IDLE_NICE, lowerOwnCpuPriority, parsePriorityMode, PRIORITY_ENV, type PriorityMode } from '../host/run-command.js';
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
    .addOption(
      new Option('--priority <mode>', `CPU and IO priority of the tool and of every command it starts: idle (nice ${IDLE_NICE}, idle IO class) or normal; default: $${PRIORITY_ENV}, else idle`).choices(['idle', 'normal']),
    )
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      writeOut: (s) => standardOutput.write(s),
      // Usage errors stay on one line, with the way to learn the right usage at its end.
      outputError: (s, write) => write(`${s.trimEnd()} (run with --help for usage)\n`),
    })
    // The command list shows names only (each command's --help shows its arguments), so the
    // descriptions get the width of the terminal instead of a column past it.
    .configureHelp({ subcommandTerm: (command) => command.name() })
    // The tool drops to idle priority before a command does any work (serve, the test server,
    // keeps its own; it lowers itself only if it ever starts a command).
    .hook('preAction', (root, action) => {
      const fromEnv = process.env[PRIORITY_ENV];
      const mode = (root.opts() as { priority?: PriorityMode }).priority ?? parsePriorityMode(fromEnv || undefined);
      if (fromEnv && mode === undefined) throw new UsageError(`${PRIORITY_ENV}=${fromEnv} is not a priority: set it to idle or normal (or unset it)`);
      choosePriority(mode ?? 'idle');
      // The CPU priority now; the IO class before the first command, script or file write.
      if (action.name() !== 'serve') {
        lowerOwnCpuPriority();
        waitBeforeWrites(() => ensureOwnPriority());
      }
      // A command's run lasts a second or less: V8's optimising compiler would spend more memory
      // (and about as much time) compiling hot functions than it saves running them. The server,
      // which runs for long, has it. (bin/maas-run-scripts turns it off before compiling the
      // single file, so its code cache is made under the flags most runs have.)
      setOptimiser(action.name() === 'serve');
    });

  // Each command gets its arguments, options and action when a run goes to it (commander's
  // preSubcommand hook), or when its help is shown (`help <command>` asks for it without going to
  // the command): the command list of --help shows names and descriptions only, and --version
  // needs neither. Building the options of every command, dozens of them, was a good part of a
  // short command's start.
  const completions = new Map<Command, (command: Command) => unknown>();
  const complete = (command: Command): void => {
    const add = completions.get(command);
    completions.delete(command);
    add?.(command);
  };
  const lazily = (name: string, description: string, add: (command: Command) => unknown): void => {
    const command = program.command(name).description(description);
    completions.set(command, add);
    const helpInformation = command.helpInformation.bind(command);
    command.helpInformation = (context) => {
      complete(command);
      return helpInformation(context);
    };
  };
  program.hook('preSubcommand', (_root, command) => complete(command));

  lazily('report-results', "run the built-in collectors (and any custom script MAAS sends) and upload the results; results MAAS cannot take now are spooled and delivered by the next run", (cmd) =>
    cmd
      .option('--config <file>', 'creds file written by register-machine or get-machine-token (reporting: maas: ...)')
      .option('--machine-token <token>', 'machine credentials ck:tk:ts; replaces those of --config')
      .option('--metadata-url <url>', "MAAS URL; replaces the config's endpoint (only scheme and host:port are used)")
      .option('--server-scripts', 'run exactly the scripts MAAS sends instead of the built-in collectors (every result is sent)', false)
      .option('--force', 'send every result, also those MAAS already holds unchanged', false)
      .option('--max-age <hours>', 'send unchanged results again once their last delivery is this old (default: 24)', hoursArgument)
      .option('--state-dir <dir>', 'where undelivered results wait and what was delivered is remembered (default: /var/lib/maas-run-scripts as root, else $XDG_STATE_HOME/maas-run-scripts)')
      .option('--json', 'print a machine-readable summary of every result on stdout instead of progress lines', false)
      .addOption(new Option('--root <dir>', 'collect from a captured tree instead of this machine (testing)').hideHelp())
      .addHelpText(
        'after',
        [
          '',
          'Change-only sync (for cron and timers): a built-in result is not uploaded again',
          'when its hardware data equals the last result this machine delivered and MAAS',
          'still holds that result (same result row, finished, same stored files). Values',
          'that move on an idle machine are not changes: network counters, memory in use,',
          'current CPU frequency, mount state, file-system timestamps. Such a result shows',
          'as "unchanged" (--json: "delivery": "unchanged"). Always sent: failed or timed-out',
          'results, custom scripts, --server-scripts runs, results waiting in the spool, and',
          'everything once MAAS has reset its results, and everything again once a day',
          '(--max-age HOURS) so MAAS keeps seeing the machine report. --force sends everything.',
          '',
          'Exit status: 0 when every result was delivered or unchanged; 1 when something',
          'failed or was spooled (the message says what); 2 for bad usage.',
        ].join('\n'),
      )
      .action(async (opts: { config?: string; machineToken?: string; metadataUrl?: string; serverScripts: boolean; force: boolean; maxAge?: number; stateDir?: string; json: boolean; root?: string }, command: Command) => {
        const { reportResultsCommand } = await import('./commands/report-results.js');
        await reportResultsCommand({ ...opts, debug: globalOptions(command).debug });
      }),
  );

  lazily('register-machine', 'register this host in MAAS as a Deployed machine, or find it when already registered (by its creds file, MAC addresses or hostname), and write <name>-creds.yaml', (cmd) =>
    cmd
      .argument('<MAAS_URL>', 'MAAS URL including /MAAS, e.g. http://maas.example.com:5240/MAAS', maasUrlArgument)
      .argument('[ADMIN_TOKEN]', ADMIN_TOKEN_HELP, (value: string) => adminTokenArgument(cmd, value))
      .option('--admin-key-file <file>', ADMIN_KEY_FILE_HELP)
      .option('--hostname <NAME>', 'name of a new machine (default: this host name up to the first dot)')
      .option('--dir <DIR>', 'directory for the creds file', '.')
      .option('--root <dir>', 'read NICs, host name and MAAS controller files from a captured tree (sys/, proc/, etc/, var/) instead of this machine')
      .option('--no-report', 'only register: do not run report-results right after')
      .option('--state-dir <dir>', 'state directory of the report that follows (see report-results)')
      .option('--lock', 'lock the machine in MAAS (done anyway on a host running a MAAS region or rack controller)', false)
      .option('--annotate <key=value>', 'set a workload annotation on the machine (repeatable)', collectAnnotation, [] as string[])
      .addHelpText('after', CONTROLLER_HELP)
      .action(async (maasUrl: string, adminToken: string | undefined, opts: { adminKeyFile?: string; hostname?: string; dir: string; root?: string; report: boolean; stateDir?: string; lock: boolean; annotate: string[] }, command: Command) => {
        const [{ resolveAdminKey }, { runRegisterMachine }] = await Promise.all([import('./admin-key.js'), import('./commands/register-machine.js')]);
        const adminCredentials = await resolveAdminKey({ argument: adminToken, file: opts.adminKeyFile });
        const { adminKeyFile: _file, ...rest } = opts;
        await runRegisterMachine({ maasUrl, adminCredentials, ...rest, debug: globalOptions(command).debug });
      }),
  );

  lazily('get-machine-token', "write a machine's credentials (creds YAML) to TOKEN_FILE, or print them when TOKEN_FILE is - or omitted", (cmd) =>
    cmd
      .argument('<MAAS_URL>', 'MAAS URL including /MAAS, e.g. http://maas.example.com:5240/MAAS', maasUrlArgument)
      .argument('[ADMIN_TOKEN]', `${ADMIN_TOKEN_HELP} (left out when the key comes from --admin-key-file or $MAAS_ADMIN_KEY)`)
      .argument('[SYSTEM_ID]', "the machine's system_id")
      .argument('[TOKEN_FILE]', 'output file (written atomically, mode 0600); - for standard output')
      .option('--admin-key-file <file>', ADMIN_KEY_FILE_HELP)
      .option('--regenerate', 'replace the token first (the old one stops working); needs a server with op=regenerate_token', false)
      .action(async (maasUrl: string, first: string | undefined, second: string | undefined, third: string | undefined, opts: { adminKeyFile?: string; regenerate: boolean }) => {
        const [{ keyOutsideArguments, looksLikeKey, resolveAdminKey }, { getMachineToken }] = await Promise.all([import('./admin-key.js'), import('./commands/get-machine-token.js')]);
        // Without a key on the command line's other sources, the argument after MAAS_URL is the key;
        // with one, it is the key only when it looks like one (- or a:b:c), which resolveAdminKey
        // then refuses as a second key when --admin-key-file is given too.
        const keyArgument = first !== undefined && (!keyOutsideArguments({ file: opts.adminKeyFile }) || looksLikeKey(first));
        const [adminToken, systemId, tokenFile, extra] = keyArgument ? [first, second, third, undefined] : [undefined, first, second, third];
        if (extra !== undefined) throw new UsageError(`too many arguments: with the admin key from --admin-key-file or $MAAS_ADMIN_KEY, give MAAS_URL SYSTEM_ID [TOKEN_FILE]`);
        const adminCredentials = await resolveAdminKey({ argument: adminToken, file: opts.adminKeyFile });
        if (systemId === undefined) throw new UsageError("error: missing required argument 'SYSTEM_ID'");
        await getMachineToken({ maasUrl, adminCredentials, systemId, tokenFile, regenerate: opts.regenerate });
      }),
  );

  lazily('collect', "run the built-in hardware collectors with no server: print one collector's output (the machine-resources JSON by default), or write every file report-results would upload into --output DIR", (cmd) =>
    cmd
      .option('--only <names>', 'comma-separated collectors: resources, modaliases, lshw, serial-ports, support-info', (value: string) => value.split(',').map((n) => n.trim()).filter(Boolean))
      .option('--output <dir>', 'write <script>.out, <script>.err and <script> for each deploy-info script into DIR (created if missing)')
      .addOption(new Option('--format <format>', 'format of the printed machine-resources document').choices(['json', 'yaml']).default('json'))
      .option('--root <dir>', 'read a captured tree (sys/, proc/, ...) instead of this machine, for testing and offline trees; no command is run')
      .action(async (opts: { only?: string[]; output?: string; format: 'json' | 'yaml'; root?: string }) => {
        const { collect } = await import('./commands/collect.js');
        await collect(opts);
      }),
  );

  lazily('serve', 'run the bundled MAAS-compatible server (for trying the tool without a real MAAS); prints the MAAS URL and the admin API key, or takes the key from MAAS_ADMIN_KEY', (cmd) =>
    cmd
      .option('--host <address>', 'address to listen on', '127.0.0.1')
      .option('--port <port>', 'port to listen on (0: any free port)', '5240')
      .option('--db <file>', 'keep state in this SQLite file (default: in memory)')
      .option('--list-controller', 'list this host as a Deployed machine, locked and annotated as the MAAS controller', false)
      .action(async (opts: { host: string; port: string; db?: string; listController: boolean }, command: Command) => {
        const { serve } = await import('./commands/serve.js');
        await serve({ ...opts, debug: globalOptions(command).debug });
      }),
  );

  lazily('redfish-report', "describe a machine from its BMC over Redfish (for machines without SSH access or not running Linux): register it as Deployed like register-machine, then report the hardware MAAS would get from the machine itself", (cmd) =>
    cmd
      .argument('[MAAS_URL]', 'MAAS URL including /MAAS (with ADMIN_TOKEN: register or find the machine first)', maasUrlArgument)
      .argument('[ADMIN_TOKEN]', ADMIN_TOKEN_HELP, (value: string) => adminTokenArgument(cmd, value))
      .option('--admin-key-file <file>', ADMIN_KEY_FILE_HELP)
      .requiredOption('--bmc <url>', 'the BMC, e.g. https://10.0.0.5 (its Redfish service root is <url>/redfish/v1/)')
      .option('--bmc-user <name>', 'BMC user name')
      .option('--bmc-password-file <file>', 'file holding the BMC password (or set MAAS_RUN_SCRIPTS_BMC_PASSWORD); never given as a flag')
      .option('--bmc-system <id>', 'which system of the BMC (its id under /redfish/v1/Systems), when it has several')
      .option('--bmc-insecure', "accept the BMC's self-signed TLS certificate", false)
      .option('--config <file>', 'instead of MAAS_URL and ADMIN_TOKEN: the creds file an earlier run wrote (for periodic sync without the admin key)')
      .option('--hostname <NAME>', "name of a new machine (default: the BMC's HostName up to the first dot)")
      .option('--dir <DIR>', 'directory for the creds file', '.')
      .option('--state-dir <dir>', 'state directory of the report (see report-results)')
      .option('--force', 'send the result even when MAAS already holds it unchanged', false)
      .option('--json', 'print a machine-readable summary on stdout instead of progress lines', false)
      .action(
        async (
          maasUrl: string | undefined,
          adminToken: string | undefined,
          opts: { adminKeyFile?: string; bmc: string; bmcUser?: string; bmcPasswordFile?: string; bmcSystem?: string; bmcInsecure: boolean; config?: string; hostname?: string; dir: string; stateDir?: string; force: boolean; json: boolean },
          command: Command,
        ) => {
          const [{ resolveAdminKey }, { redfishReport }] = await Promise.all([import('./admin-key.js'), import('./commands/redfish-report.js')]);
          if (maasUrl === undefined && opts.adminKeyFile !== undefined) {
            throw new UsageError('--admin-key-file without MAAS_URL: give MAAS_URL too (to register the machine), or only --config FILE');
          }
          // The key is wanted only to register (MAAS_URL); a --config run needs none.
          const wantKey = maasUrl !== undefined && (opts.config === undefined || adminToken !== undefined || opts.adminKeyFile !== undefined);
          const adminCredentials = wantKey ? await resolveAdminKey({ argument: adminToken, file: opts.adminKeyFile }) : undefined;
          const { adminKeyFile: _file, ...rest } = opts;
          await redfishReport({
            ...rest,
            ...(maasUrl !== undefined ? { maasUrl } : {}),
            ...(adminCredentials !== undefined ? { adminCredentials } : {}),
            debug: globalOptions(command).debug,
          });
        },
      ),
  );

  // Commands are added below, one block each (see src/cli/commands/<name>.ts).

  lazily('diff', "what changed in this host's hardware (CPUs, memory, disks, NICs, PCI and USB devices) since the last report MAAS holds from it; sends nothing", (cmd) =>
    cmd
      .option('--config <file>', 'creds file written by register-machine or get-machine-token (as for report-results)')
      .option('--machine-token <token>', 'machine credentials ck:tk:ts; replaces those of --config')
      .option('--metadata-url <url>', "MAAS URL; replaces the config's endpoint")
      .option('--json', 'print the changes as JSON (baseline, changed, changes[], summary)', false)
      .addOption(new Option('--root <dir>', 'read a captured tree instead of this machine (testing)').hideHelp())
      .addHelpText('after', '\nValues that move on an idle machine (traffic counters, memory in use, current CPU\nclock, mount state) are not changes. Exit status 0 whether or not anything changed.')
      .action(async (opts: { config?: string; machineToken?: string; metadataUrl?: string; json: boolean; root?: string }) => {
        const { diffCommand } = await import('./commands/diff.js');
        await diffCommand(opts);
      }),
  );

  lazily('install-sync', 'install and enable the periodic report-results run (systemd timer, else cron) on this host\'s own slot of the interval, at idle priority with a memory cap', (cmd) =>
    cmd
      .requiredOption('--config <file>', 'the creds file the runs use (must be private: mode 0600)')
      .option('--interval <time>', 'how often: minutes or hours from 5m to 24h that divide a day (e.g. 15m, 1h, 6h)', '1h')
      .option('--user', 'a schedule of this user (user systemd timer or user crontab) instead of the system\'s', false)
      .option('--root <dir>', 'write under DIR instead of / (image builds, tests): nothing is enabled or started, --config names the file inside DIR')
      .addOption(new Option('--scheduler <kind>', 'systemd or cron (default: systemd when <root>/run/systemd/system exists, else cron)').choices(['systemd', 'cron']))
      .option('--exec <file>', 'the maas-run-scripts executable the schedule runs (default: this one)')
      .option('--json', 'print what was installed as JSON', false)
      .action(async (opts: { config: string; interval: string; user: boolean; root?: string; scheduler?: 'systemd' | 'cron'; exec?: string; json: boolean }) => {
        const { installSyncCommand } = await import('./commands/install-sync.js');
        await installSyncCommand(opts);
      }),
  );

  lazily('uninstall-sync', 'remove exactly what install-sync installed (and disable its timer)', (cmd) =>
    cmd
      .option('--user', 'remove the user schedule', false)
      .option('--root <dir>', 'remove from under DIR instead of /')
      .action(async (opts: { user: boolean; root?: string }) => {
        const { uninstallSyncCommand } = await import('./commands/uninstall-sync.js');
        await uninstallSyncCommand(opts);
      }),
  );

  lazily('sync-status', 'show the installed periodic sync: schedule, offset, last run and its outcome, last delivery', (cmd) =>
    cmd
      .option('--json', 'print it as JSON', false)
      .option('--user', 'the user schedule (default: the system one, else the user one)', false)
      .option('--root <dir>', 'read from under DIR instead of /')
      .action(async (opts: { json: boolean; user: boolean; root?: string }) => {
        const { syncStatusCommand } = await import('./commands/sync-status.js');
        await syncStatusCommand(opts);
      }),
  );

  return program;
}

/**
 * Turns V8's optimising compiler on or off. Only on the V8 releases known to have the `--opt`
 * flag (Node 18 to 24): V8 prints an error for a flag it does not know.
 */
function setOptimiser(on: boolean): void {
  // node:v8 is loaded here, not with this module: --version and --help do without it.
  if (Number(process.versions.v8.split('.')[0]) <= 13) (requireBuiltin('node:v8') as typeof V8).setFlagsFromString(on ? '--opt' : '--no-opt');
}

/** Commander parser for a number of hours (>= 0, fractions allowed). */
function hoursArgument(value: string): number {
  const hours = Number(value);
  if (value.trim() === '' || !Number.isFinite(hours) || hours < 0) throw new InvalidArgumentError('It must be a number of hours, 0 or more (e.g. 24, or 0.5).');
  return hours;
}

/** Commander parser for MAAS_URL: an http(s) URL, trailing slashes stripped. */
function maasUrlArgument(value: string): string {
  try {
    return normaliseMaasUrl(value);
  } catch (error) {
    // commander names the argument and the value itself; the problem follows as "It …". A value
    // that must not be repeated (it holds a password) gets our own one-line usage error instead.
    if (error instanceof BadUrlError && error.value === undefined) throw new UsageError(`error: argument MAAS_URL ${error.problem} (run with --help for usage)`);
    if (error instanceof BadUrlError) throw new InvalidArgumentError(`It ${error.problem}`);
    throw error;
  }
}

/**
 * Commander parser for an admin token: "-" (read from standard input) or a key, checked here and
 * kept as given (admin-key.ts parses it). Reports through command.error() rather than
 * InvalidArgumentError, whose message would repeat the value (it may hold a secret).
 */
function adminTokenArgument(command: Command, value: string): string {
  if (value === '-') return value;
  try {
    parseCredentials(value, 'ADMIN_TOKEN');
    return value;
  } catch {
    return command.error(
      'error: argument ADMIN_TOKEN: Invalid OAuth credentials format (expected consumer-key:token-key:token-secret; the value is not shown)',
      { exitCode: 2, code: 'maas-run-scripts.invalidToken' },
    );
  }
}

/** Commander collector for a repeatable --annotate key=value. */
function collectAnnotation(value: string, previous: string[]): string[] {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('It must be key=value (e.g. role=database); an empty value removes the key.');
  return [...previous, value];
}

const ADMIN_TOKEN_HELP = "a MAAS administrator's API key: consumer-key:token-key:token-secret, or - to read it from standard input (it shows in the process list: prefer -, --admin-key-file or $MAAS_ADMIN_KEY)";
const ADMIN_KEY_FILE_HELP = 'read the admin API key from this file (- for standard input) instead of ADMIN_TOKEN';
const CONTROLLER_HELP = [
  '',
  'The admin key: ADMIN_TOKEN, --admin-key-file FILE, $MAAS_ADMIN_KEY, or standard input',
  '(ADMIN_TOKEN or FILE given as -). The command line wins over $MAAS_ADMIN_KEY;',
  'ADMIN_TOKEN and --admin-key-file together are refused.',
  '',
  'On a host running a MAAS region or rack controller (the maas snap in a mode other',
  'than none, or /etc/maas/regiond.conf or rackd.conf of the Debian packages), the',
  'machine is locked and annotated maas-controller=region, rack or region+rack.',
  'Both are left alone when already so; --lock and --annotate do the same anywhere.',
].join('\n');

/** Reads the global options from a subcommand's parent. */
export function globalOptions(command: Command): GlobalOptions {
  const root = command.parent ?? command;
  return { debug: Boolean(root.opts().debug) };
}
