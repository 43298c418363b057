// `maas-run-scripts redfish-report`: describes a machine that cannot run this tool (no SSH access,
// or not Linux) from its BMC, out-of-band (docs/design.md requirement 5, D12). It reads the
// machine's inventory over Redfish, registers it in MAAS as a Deployed machine as register-machine
// does (idempotently: by its creds file, its NICs' MACs, then its name), and reports the
// machine-resources document MAAS would get from the machine itself, through the same run as
// report-results (spool, change-only sync). Only that document: lshw, the support report,
// modaliases and serial ports describe a running OS, which a BMC does not see, and no script MAAS
// sends is run here, as it would describe this host instead.
import { readFile } from 'node:fs/promises';
import type { DeployInfoCollector } from '../../../collectors/types.js';
import { formatResources } from '../../../collectors/resources.js';
import { hasCode, UsageError } from '../../errors.js';
import type { ClientDeps } from '../../maas/client.js';
import type { Credentials } from '../../maas/types.js';
import { RedfishClient } from '../../redfish/client.js';
import { readInventory } from '../../redfish/inventory.js';
import { registerMachine } from '../../maas/register.js';
import { identityFromRedfish } from '../../redfish/identity.js';
import { resourcesFromRedfish } from '../../redfish/resources.js';
import type { RunSummary } from '../../runner/progress.js';
import { resolveReportSettings, type ReportSettings } from '../../runner/report-settings.js';
import { runReport } from '../../runner/run-report.js';

/** Environment variable holding the BMC password when no --bmc-password-file is given. */
export const BMC_PASSWORD_ENV = 'MAAS_RUN_SCRIPTS_BMC_PASSWORD';

export interface RedfishReportOptions {
  /** With adminCredentials: register (or find) the machine first. */
  maasUrl?: string;
  adminCredentials?: Credentials;
  /** Instead: the creds file an earlier run wrote (no admin key needed, as for report-results). */
  config?: string;
  bmc: string;
  bmcUser?: string;
  bmcPasswordFile?: string;
  /** Which of the BMC's systems (its id under /redfish/v1/Systems); default: the only one. */
  bmcSystem?: string;
  bmcInsecure?: boolean;
  hostname?: string;
  dir?: string;
  stateDir?: string;
  force?: boolean;
  json?: boolean;
  debug?: boolean;
}

export interface RedfishReportDeps {
  client?: ClientDeps;
  env?: NodeJS.ProcessEnv;
}

/** The deploy-info collector answering the two machine-resources scripts with a document mapped from a BMC's inventory. */
export function redfishCollector({ document, warnings }: ReturnType<typeof resourcesFromRedfish>): DeployInfoCollector {
  return {
    name: 'redfish',
    scripts: ['20-maas-03-machine-resources', '50-maas-01-commissioning'],
    timeoutMs: 10_000,
    // The inventory was read and mapped before registering, so a BMC that cannot be read leaves nothing behind.
    produce: async () => ({ stdout: formatResources(document), stderr: warnings.map((w) => `${w}\n`).join(''), exitCode: 0 }),
  };
}

/** Runs the command; returns the report's summary, or throws a CliError/UsageError. */
export async function redfishReport(options: RedfishReportOptions, deps: RedfishReportDeps = {}): Promise<RunSummary> {
  const registering = options.maasUrl !== undefined && options.adminCredentials !== undefined;
  if (registering === (options.config !== undefined)) {
    throw new UsageError('give either MAAS_URL and ADMIN_TOKEN (to register the machine) or --config FILE (the creds file of an earlier run), not both or neither');
  }
  if (options.config !== undefined && options.hostname !== undefined) {
    throw new UsageError('--hostname names a machine being registered; with --config the machine exists already: leave --hostname out');
  }
  if (options.bmc.includes('@')) {
    // A BMC URL has no use for '@' but user:password@; the value is not repeated.
    throw new UsageError('--bmc holds credentials: give the user with --bmc-user and the password in a file with --bmc-password-file, as a URL shows in the process list');
  }
  // A creds file that cannot be used fails before the BMC is asked anything.
  const fromConfig = options.config !== undefined ? await resolveReportSettings({ config: options.config }) : undefined;
  const password = await bmcPassword(options, deps.env ?? process.env);
  const bmc = new RedfishClient({
    url: options.bmc,
    ...(options.bmcUser !== undefined ? { user: options.bmcUser } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(options.bmcInsecure ? { insecure: true } : {}),
  });
  const inventory = await readInventory(bmc, options.bmcSystem);
  // What the mapping had to guess or leave out is the operator's to know, not only MAAS's.
  const mapped = resourcesFromRedfish(inventory);
  for (const warning of mapped.warnings) process.stderr.write(`warning: ${warning}\n`);

  let settings: ReportSettings;
  if (fromConfig) {
    settings = fromConfig;
  } else {
    const registered = await registerMachine(
      { maasUrl: options.maasUrl!, adminCredentials: options.adminCredentials!, ...(options.hostname ? { hostname: options.hostname } : {}), dir: options.dir ?? '.' },
      {
        identity: { ...identityFromRedfish(inventory), seenBy: 'bmc' },
        ...(deps.client ? { client: deps.client } : {}),
        // With --json, stdout carries the summary alone.
        ...(options.json ? { print: (line: string) => process.stderr.write(`${line}\n`) } : {}),
      },
    );
    settings = { metadataUrl: registered.endpoint, credentials: registered.credentials, endpoint: registered.endpoint };
  }
  const collector = redfishCollector(mapped);
  return runReport(
    settings,
    { ...(options.stateDir ? { stateDir: options.stateDir } : {}), force: Boolean(options.force), json: Boolean(options.json), debug: Boolean(options.debug) },
    {
      collectors: { forScript: (name) => ((collector.scripts as readonly string[]).includes(name) ? collector : undefined) },
      outOfBand: true,
      commandName: 'redfish-report',
      ...(deps.client ? { client: deps.client } : {}),
      ...(deps.env ? { env: deps.env } : {}),
    },
  );
}

/** The BMC password: from --bmc-password-file (never a flag: the process list shows flags), else the environment. */
async function bmcPassword(options: RedfishReportOptions, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (options.bmcPasswordFile !== undefined) {
    try {
      return (await readFile(options.bmcPasswordFile, 'utf8')).replace(/\r?\n$/, '');
    } catch (error) {
      const why = hasCode(error, 'ENOENT') ? 'no such file' : hasCode(error, 'EACCES', 'EPERM') ? 'permission denied' : (error as Error).message;
      throw new UsageError(`cannot read the BMC password file ${options.bmcPasswordFile}: ${why}; pass a readable file with --bmc-password-file`, { cause: error });
    }
  }
  const fromEnv = env[BMC_PASSWORD_ENV];
  if (fromEnv !== undefined) return fromEnv;
  if (options.bmcUser !== undefined) {
    throw new UsageError(`--bmc-user needs a password: pass --bmc-password-file FILE or set ${BMC_PASSWORD_ENV}`);
  }
  return undefined;
}
