// register-machine: bring this host under MAAS as a Deployed machine, idempotently, write its
// machine credentials to <name>-creds.yaml (src/maas/register.ts), then report its hardware
// (docs/design.md requirement 3). On a host running a MAAS controller, and with --lock or
// --annotate on any host, the machine is locked and annotated (docs/design.md requirement 6, D17).
import { controllerAnnotationValue, detectController } from '../../../collectors/controller.js';
import { CliError, ReportIncompleteError, UsageError } from '../../errors.js';
import { standardOutput } from '../../files.js';
import { createHost, type Host } from '../../host/host.js';
import { debianArchitecture, hardwareUuidOf, physicalMacs } from '../../../collectors/identity.js';
import { MaasClient } from '../../maas/client.js';
import { markMachine, type MachineMarks } from '../../maas/mark.js';
import { registerMachine, type MachineIdentity, type RegisterOptions } from '../../maas/register.js';

/** The workload annotation naming a machine that runs a MAAS controller (the bundled server's `serve --list-controller` uses the same key). */
export const CONTROLLER_ANNOTATION_KEY = 'maas-controller';

/** This host's identity as register-machine sends it (docs/design.md D4). */
async function hostIdentity(host: Host): Promise<MachineIdentity> {
  const uname = await host.uname();
  const architecture = debianArchitecture(uname.machine);
  const [macs, hardwareUuid] = await Promise.all([physicalMacs(host), hardwareUuidOf(host)]);
  return { hostname: uname.nodename, macs, ...(architecture ? { architecture } : {}), ...(hardwareUuid ? { hardwareUuid } : {}), seenBy: 'host' };
}

/** The CLI action: parses nothing (commander did), registers this host (or the `root` tree), then reports unless `report` is false. */
export async function runRegisterMachine(
  options: RegisterOptions & { root?: string; report?: boolean; stateDir?: string; debug?: boolean; lock?: boolean; annotate?: readonly string[] },
): Promise<void> {
  const host = options.root ? createHost({ root: options.root, isRoot: false }) : createHost();
  const marks = await wantedMarks(host, options);
  const registered = await registerMachine(options, { identity: await hostIdentity(host) });
  await applyMarks(options, registered.systemId, marks);
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

/** What --lock, --annotate and a detected MAAS controller ask of the machine. */
async function wantedMarks(host: Host, options: { lock?: boolean; annotate?: readonly string[] }): Promise<MachineMarks & { controller?: string }> {
  const annotations: Record<string, string> = {};
  const controller = await detectController(host);
  if (controller) {
    const value = controllerAnnotationValue(controller.roles);
    standardOutput.write(`This host runs a MAAS ${value} controller (${controller.evidence.join(', ')}): the machine is locked and annotated ${CONTROLLER_ANNOTATION_KEY}=${value}\n`);
    annotations[CONTROLLER_ANNOTATION_KEY] = value;
  }
  for (const pair of options.annotate ?? []) {
    const eq = pair.indexOf('=');
    const key = pair.slice(0, eq);
    if (controller && key === CONTROLLER_ANNOTATION_KEY && pair.slice(eq + 1) !== annotations[key]) {
      throw new UsageError(`--annotate ${key}=… contradicts what this host runs (${annotations[key]}): leave that key out, it is set by itself`);
    }
    annotations[key] = pair.slice(eq + 1);
  }
  return { lock: Boolean(options.lock) || controller !== undefined, annotations, ...(controller ? { controller: annotations[CONTROLLER_ANNOTATION_KEY]! } : {}) };
}

/** Locks and annotates the registered machine as asked, printing what changed and what already was so. */
async function applyMarks(options: RegisterOptions, systemId: string, marks: MachineMarks): Promise<void> {
  if (!marks.lock && Object.keys(marks.annotations).length === 0) return;
  const client = new MaasClient({ baseUrl: options.maasUrl, credentials: options.adminCredentials }, { log: (line) => process.stderr.write(`${line}\n`) });
  const outcome = await markMachine(client, systemId, marks);
  for (const a of outcome.annotations) {
    const what = a.value === '' ? `workload annotation ${a.key} removed` : `workload annotation ${a.key}=${a.value}`;
    standardOutput.write(`Machine ${systemId}: ${what}${a.changed ? '' : ' (already so)'}\n`);
  }
  if (outcome.lock) standardOutput.write(`Machine ${systemId}: ${outcome.lock}\n`);
}
