// register-machine: bring this host under MAAS as a Deployed machine, idempotently, write its
// machine credentials to <name>-creds.yaml (src/maas/register.ts), then report its hardware
// (docs/design.md requirement 3).
import { CliError, ReportIncompleteError } from '../../errors.js';
import { createHost, type Host } from '../../host/host.js';
import { debianArchitecture, hardwareUuidOf, physicalMacs } from '../../../collectors/identity.js';
import { registerMachine, type MachineIdentity, type RegisterOptions } from '../../maas/register.js';

/** This host's identity as register-machine sends it (docs/design.md D4). */
async function hostIdentity(host: Host): Promise<MachineIdentity> {
  const uname = await host.uname();
  const architecture = debianArchitecture(uname.machine);
  const [macs, hardwareUuid] = await Promise.all([physicalMacs(host), hardwareUuidOf(host)]);
  return { hostname: uname.nodename, macs, ...(architecture ? { architecture } : {}), ...(hardwareUuid ? { hardwareUuid } : {}), seenBy: 'host' };
}

/** The CLI action: parses nothing (commander did), registers this host (or the `root` tree), then reports unless `report` is false. */
export async function runRegisterMachine(
  options: RegisterOptions & { root?: string; report?: boolean; stateDir?: string; debug?: boolean },
): Promise<void> {
  const host = options.root ? createHost({ root: options.root, isRoot: false }) : createHost();
  const registered = await registerMachine(options, { identity: await hostIdentity(host) });
  if (options.report === false) return;
  const [{ runReport }, { collectorForScript }] = await Promise.all([import('../../runner/run-report.js'), import('../../../collectors/index.js')]);
  try {
    await runReport(
      { metadataUrl: registered.endpoint, credentials: registered.credentials, endpoint: registered.endpoint },
      { stateDir: options.stateDir, root: options.root, debug: options.debug },
      { collectors: { forScript: collectorForScript } },
    );
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    const reason = error instanceof ReportIncompleteError ? error.detail : error.message;
    throw new CliError(`machine ${registered.systemId} is registered, but reporting its hardware failed: ${reason}; retry with report-results --config ${registered.credsPath}`, { cause: error });
  }
}
