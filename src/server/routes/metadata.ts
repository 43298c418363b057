// Metadata API for machine tokens: the maas-scripts tarball (docs/protocol.md §5) and the signal
// operation (docs/protocol.md §4), including the processing of `50-maas-01-commissioning`
// (docs/protocol.md §7).
import { parse as parseYaml } from 'yaml';
import { NodeStatus, SIGNAL_STATUSES, ScriptResultStatus } from '../../maas/types.js';
import type { ScriptIndex, ScriptIndexEntry, SignalStatus } from '../../maas/types.js';
import { requestOp, textReply, unknownOp } from '../context.js';
import type { Reply, RequestContext } from '../context.js';
import { tagsFromModaliases } from '../hooks/modaliases.js';
import { HookError, deriveHardware, emptyHardware, hardwareMacs, hardwareUuid, withoutMacs, withoutUuid } from '../hooks/process-resources.js';
import type { MachineHardware } from '../hooks/process-resources.js';
import { HttpError, badRequest, conflict } from '../http-error.js';
import { nodeStatusLabel, withHardware } from '../machine-json.js';
import { field } from '../request-body.js';
import type { ParsedForm } from '../request-body.js';
import { deployInfoScripts, servedScript } from '../scripts/script-library.js';
import type { MachineRecord, ScriptResultRecord, Store } from '../store.js';
import { buildTar } from '../tarball.js';
import type { TarMember } from '../tarball.js';

const S = ScriptResultStatus;

/** The machine whose token signed the request (docs/protocol.md §2.5). */
function requestMachine(ctx: RequestContext): MachineRecord {
  if (ctx.caller.kind === 'anonymous') throw new HttpError(401, 'Forbidden', 'text/plain');
  const { systemId } = ctx.caller.token;
  const machine = systemId === null ? undefined : ctx.store.getMachine(systemId);
  if (!machine) throw new HttpError(403, 'Not authenticated as a known node.');
  return machine;
}

/** `GET /MAAS/metadata/<version>/maas-scripts`: the tarball, or 204 when nothing is due. */
export async function maasScripts(ctx: RequestContext): Promise<Reply> {
  if (ctx.method !== 'GET') throw unknownOp(ctx);
  const machine = requestMachine(ctx);
  const { store } = ctx;
  const statusesWithSet: number[] = [NodeStatus.COMMISSIONING, NodeStatus.DEPLOYED, NodeStatus.ENTERING_RESCUE_MODE, NodeStatus.RESCUE_MODE];
  let results: ScriptResultRecord[] = [];
  if (statusesWithSet.includes(machine.status) && machine.scriptSetId !== null) {
    const setId = machine.scriptSetId;
    if (machine.status === NodeStatus.DEPLOYED) store.transaction(() => addNewDeployInfoScripts(store, machine.systemId, setId));
    results = store.resultsOfSet(setId);
    // A deployed machine gets finished results again (re-runs); others only the unfinished ones.
    if (machine.status !== NodeStatus.DEPLOYED) results = results.filter((r) => !hasFinished(r.status));
  }
  const members: TarMember[] = [];
  const entries: ScriptIndexEntry[] = [];
  for (const result of results) {
    const script = servedScript(store, result.name);
    if (!script) continue; // a result whose script this server does not have (deleted): skipped, as MAAS does
    const path = `commissioning/${script.name}`;
    members.push({ name: path, mode: 0o755, content: script.body });
    const started = result.status !== S.PENDING;
    if (started) {
      const base = `out/${script.name}.${result.id}`;
      members.push({ name: base, mode: 0o755, content: blob(result.output) });
      members.push({ name: `${base}.out`, mode: 0o755, content: blob(result.stdout) });
      members.push({ name: `${base}.err`, mode: 0o755, content: blob(result.stderr) });
      members.push({ name: `${base}.yaml`, mode: 0o755, content: blob(result.result) });
    }
    entries.push({
      name: script.name,
      script_result_id: result.id,
      script_version_id: script.versionId,
      timeout_seconds: script.timeoutSeconds,
      parallel: script.parallel,
      hardware_type: script.hardwareType,
      parameters: {},
      packages: { ...script.packages },
      for_hardware: [...script.forHardware],
      apply_configured_networking: script.applyConfiguredNetworking,
      has_started: started,
      has_finished: hasFinished(result.status),
      default: script.isDefault,
      tags: [...script.tags],
      path,
    });
  }
  if (entries.length === 0) return { status: 204, body: '', contentType: 'text/plain' };
  const index: ScriptIndex = { '1.0': { commissioning_scripts: entries } };
  members.push({ name: 'index.json', mode: 0o644, content: indexJson(index) });
  return { status: 200, body: await buildTar(members, ctx.now()), contentType: 'application/x-tar' };
}

/**
 * Adds a PENDING result to the set for each deploy-info script it lacks: all of them for a new
 * set; for an existing one, the scripts uploaded since (the next time the machine asks for them).
 */
export function addNewDeployInfoScripts(store: Store, systemId: string, setId: number): void {
  const present = new Set(store.resultsOfSet(setId).map((r) => r.name));
  for (const script of deployInfoScripts(store)) {
    if (present.has(script.name)) continue;
    store.putResult({ ...newResult(store, systemId, setId, script.name), status: S.PENDING });
  }
}

// Python's json.dumps layout (", " and ": " separators) with timeout_seconds as a float (60.0),
// as MAAS writes index.json.
function indexJson(value: unknown, key = ''): string {
  if (Array.isArray(value)) return `[${value.map((item) => indexJson(item)).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    const members = Object.entries(value).filter(([, item]) => item !== undefined);
    return `{${members.map(([name, item]) => `${JSON.stringify(name)}: ${indexJson(item, name)}`).join(', ')}}`;
  }
  if (key === 'timeout_seconds' && typeof value === 'number' && Number.isInteger(value)) return value.toFixed(1);
  return JSON.stringify(value);
}

function blob(base64: string | null): Buffer {
  return base64 === null ? Buffer.alloc(0) : Buffer.from(base64, 'base64');
}

function hasFinished(status: number): boolean {
  return !([S.PENDING, S.RUNNING, S.INSTALLING, S.APPLYING_NETCONF] as number[]).includes(status);
}

/** `…/metadata/<version>/`: GET lists what exists; POST with op=signal reports a result. */
export function versionIndex(ctx: RequestContext): Reply {
  const op = requestOp(ctx);
  if (ctx.method === 'GET' && op === undefined) return textReply(200, 'meta-data\nmaas-scripts\n');
  if (ctx.method === 'POST' && op === 'signal') return signal(ctx);
  throw unknownOp(ctx);
}

// ---------------------------------------------------------------------------------------------
// Signal

// Machine statuses whose signals are answered 200 with nothing stored (docs/protocol.md §4.2).
const IGNORING_STATUSES: number[] = [
  NodeStatus.NEW,
  NodeStatus.BROKEN,
  NodeStatus.FAILED_COMMISSIONING,
  NodeStatus.FAILED_DEPLOYMENT,
  NodeStatus.READY,
  NodeStatus.FAILED_ENTERING_RESCUE_MODE,
  NodeStatus.FAILED_TESTING,
  // These have processors upstream (testing, deploying, …); no machine of this server has the
  // script sets they work on, so nothing is stored either.
  NodeStatus.TESTING,
  NodeStatus.DEPLOYING,
  NodeStatus.DISK_ERASING,
  NodeStatus.ENTERING_RESCUE_MODE,
  NodeStatus.RESCUE_MODE,
  NodeStatus.RELEASING,
];

const OK_REPLY: Reply = { status: 200, body: 'OK', contentType: 'text/plain' };

function signal(ctx: RequestContext): Reply {
  const machine = requestMachine(ctx);
  const { form } = ctx;
  const statusText = field(form, 'status');
  if (statusText === undefined || statusText === '') throw badRequest('No provided status!');
  if (!(SIGNAL_STATUSES as readonly string[]).includes(statusText)) throw badRequest(`Unknown status: '${statusText}'`);
  const status = statusText as SignalStatus;
  const resultIdText = field(form, 'script_result_id');
  let resultId: number | undefined;
  if (resultIdText !== undefined && resultIdText !== '') {
    if (!/^\s*-?\d+\s*$/.test(resultIdText)) throw badRequest('Invalid script_result_id: Please enter an integer value');
    resultId = Number(resultIdText);
  }

  if (IGNORING_STATUSES.includes(machine.status)) return OK_REPLY;
  if (machine.status !== NodeStatus.DEPLOYED && machine.status !== NodeStatus.COMMISSIONING) {
    throw conflict(`Machine status isn't valid (status is ${nodeStatusLabel(machine.status)})`);
  }
  // The whole signal is one transaction: a 409 below leaves nothing stored (docs/protocol.md §4.2).
  ctx.store.transaction(() => commissioningSignal(ctx, machine, status, resultId));
  return OK_REPLY;
}

interface Upload {
  stdout?: Buffer;
  stderr?: Buffer;
  output?: Buffer;
  result?: Buffer;
}

function commissioningSignal(ctx: RequestContext, machine: MachineRecord, status: SignalStatus, resultId: number | undefined): void {
  const { store, form } = ctx;
  const nowSeconds = ctx.now().getTime() / 1000;
  const setId = machine.scriptSetId ?? newSet(store, machine);
  const inSet = (id: number | undefined) => {
    if (id === undefined) return undefined;
    const found = store.getResult(id);
    return found && found.scriptSetId === setId ? found : undefined;
  };

  // 1–3: group the file parts by target result; the first file fixes the result's metadata.
  // A result this request creates is found by name by the request's later files (upstream
  // creates it in the database at once), so `x.out`, `x.err`, `x` and `x.yaml` share one result.
  const uploads = new Map<number, { result: ScriptResultRecord; upload: Upload }>();
  const createdByName = new Map<string, ScriptResultRecord>();
  for (const file of form.files) {
    const dot = file.name.lastIndexOf('.');
    const extension = dot > 0 ? file.name.slice(dot + 1).toLowerCase() : '';
    const kind = extension === 'out' ? 'stdout' : extension === 'err' ? 'stderr' : extension === 'yaml' ? 'result' : 'output';
    const scriptName = kind === 'output' ? file.name : file.name.slice(0, dot);
    let target = inSet(resultId) ?? createdByName.get(scriptName) ?? latestByName(store, setId, scriptName);
    if (target && uploads.has(target.id)) target = uploads.get(target.id)!.result;
    if (!target) {
      target = newResult(store, machine.systemId, setId, scriptName);
      createdByName.set(scriptName, target);
    }
    let entry = uploads.get(target.id);
    if (!entry) {
      entry = { result: target, upload: {} };
      target.exitStatus = firstInteger(form, ['exit_status', 'script_result', 'result']) ?? (status === 'TIMEDOUT' ? target.exitStatus : 0);
      const versionId = firstInteger(form, ['script_version_id']);
      if (versionId) target.scriptVersionId = versionId;
      const runtime = Number(field(form, 'runtime'));
      if (Number.isFinite(runtime) && runtime !== 0) target.runtime = runtime;
      uploads.set(target.id, entry);
    }
    entry.upload[kind] = file.data;
  }

  // 4: commit each result, run the hooks.
  for (const { result, upload } of uploads.values()) commitResult(ctx, machine, result, upload, status, nowSeconds);

  // 6: WORKING / INSTALLING / APPLYING_NETCONF move a pending result into that phase.
  const phase = status === 'WORKING' ? S.RUNNING : status === 'INSTALLING' ? S.INSTALLING : status === 'APPLYING_NETCONF' ? S.APPLYING_NETCONF : undefined;
  if (phase !== undefined) {
    const name = field(form, 'name');
    const located = resultId !== undefined ? inSet(resultId) : name ? latestByName(store, setId, name) : undefined;
    if (located && ([S.PENDING, S.APPLYING_NETCONF, S.INSTALLING] as number[]).includes(located.status)) {
      store.putResult({ ...located, status: phase, started: located.started ?? nowSeconds });
    }
  }

  // Machine-status effect (docs/protocol.md §4.4): only the final statuses have one; the machine
  // is read again only then (the hooks above may have changed it).
  if (status !== 'FAILED' && status !== 'OK' && status !== 'TESTING') return;
  const current = store.getMachine(machine.systemId)!;
  const anyFailed = () => store.resultsOfSet(setId).some((r) => r.status === S.FAILED);
  const refuse = (target: number) => {
    throw conflict(`Invalid transition: ${nodeStatusLabel(current.status)} -> ${nodeStatusLabel(target)}.`);
  };
  if (status === 'FAILED') {
    if (current.status === NodeStatus.DEPLOYED) refuse(NodeStatus.FAILED_COMMISSIONING);
    store.putMachine({ ...current, status: NodeStatus.FAILED_COMMISSIONING, error: field(form, 'error') ?? '' });
  } else if (status === 'OK' || status === 'TESTING') {
    if (anyFailed()) {
      if (current.status === NodeStatus.DEPLOYED) refuse(NodeStatus.FAILED_COMMISSIONING);
      store.putMachine({ ...current, status: NodeStatus.FAILED_COMMISSIONING });
    } else if (status === 'TESTING') {
      store.putMachine({ ...current, status: NodeStatus.TESTING });
    } else {
      // OK on a deployed machine: READY, owner cleared, token revoked, as upstream does
      // (docs/design.md D2).
      const token = store.machineToken(current.systemId);
      if (token) store.deleteToken(token.tokenKey);
      store.putMachine({ ...current, status: NodeStatus.READY, owner: null, workloadAnnotations: {}, error: field(form, 'error') ?? '' });
      ctx.log(`machine ${current.systemId} signalled OK → Ready, token revoked`);
    }
  }
}

function newSet(store: Store, machine: MachineRecord): number {
  const setId = store.nextId('scriptset');
  store.putMachine({ ...store.getMachine(machine.systemId)!, scriptSetId: setId });
  return setId;
}

function latestByName(store: Store, setId: number, name: string): ScriptResultRecord | undefined {
  return store.latestResult(setId, name);
}

function newResult(store: Store, systemId: string, setId: number, name: string): ScriptResultRecord {
  return {
    id: store.nextId('result'),
    systemId,
    scriptSetId: setId,
    name,
    scriptVersionId: servedScript(store, name)?.versionId ?? null,
    status: S.RUNNING,
    exitStatus: null,
    stdout: null,
    stderr: null,
    output: null,
    result: null,
    started: null,
    ended: null,
    runtime: null,
  };
}

function firstInteger(form: ParsedForm, names: readonly string[]): number | undefined {
  for (const name of names) {
    const value = field(form, name);
    if (value !== undefined && /^\s*-?\d+\s*$/.test(value)) return Number(value);
  }
  return undefined;
}

const YAML_STATUSES: Record<string, number> = { passed: S.PASSED, failed: S.FAILED, degraded: S.DEGRADED, timedout: S.TIMEDOUT, skipped: S.SKIPPED };

function commitResult(ctx: RequestContext, machine: MachineRecord, result: ScriptResultRecord, upload: Upload, status: SignalStatus, now: number): void {
  const { store } = ctx;
  const event = (description: string) => store.addEvent({ systemId: machine.systemId, at: now, type: 'Script result', description });
  const next: ScriptResultRecord = { ...result };
  if (status === 'TIMEDOUT') {
    // The exit status is not updated: the hook below sees the previously stored one
    // (docs/protocol.md §4.3).
    next.exitStatus = store.getResult(result.id)?.exitStatus ?? null;
    next.status = S.TIMEDOUT;
  } else {
    const exit = next.exitStatus ?? 0;
    next.status =
      exit === 0 ? S.PASSED : result.status === S.INSTALLING ? S.FAILED_INSTALLING : result.status === S.APPLYING_NETCONF ? S.FAILED_APPLYING_NETCONF : S.FAILED;
  }
  if (upload.stdout) next.stdout = upload.stdout.toString('base64');
  if (upload.stderr) next.stderr = upload.stderr.toString('base64');
  if (upload.output) next.output = upload.output.toString('base64');
  if (upload.result) {
    next.result = upload.result.toString('base64');
    const override = yamlStatus(upload.result.toString('utf8'));
    if (override === 'invalid') event(`Invalid YAML result uploaded for ${result.name}: it must be empty or a mapping with an optional known status`);
    else if (override !== undefined) next.status = override;
  }
  const script = servedScript(store, result.name);
  if (script && result.scriptVersionId !== null && result.scriptVersionId !== script.versionId) {
    event(`Script version ${result.scriptVersionId} of ${result.name} is unknown; results stored against version ${script.versionId}`);
    next.scriptVersionId = script.versionId;
  }
  if (next.ended === null && next.status !== S.PENDING && next.status !== S.RUNNING) {
    next.ended = now;
    if (next.started === null) next.started = now - (next.runtime ?? 0);
  }
  if (result.name === '50-maas-01-commissioning' && upload.stdout && next.exitStatus === 0) {
    if (!processResources(ctx, machine.systemId, upload.stdout, now)) next.status = S.FAILED;
  }
  if (result.name === 'maas-list-modaliases' && upload.stdout && next.exitStatus === 0) {
    if (!processModaliases(ctx, machine.systemId, upload.stdout, now)) next.status = S.FAILED;
  }
  store.putResult(next);
}

function yamlStatus(text: string): number | undefined | 'invalid' {
  let doc: unknown;
  try {
    // Warnings would go to the server's stderr as Node warnings, quoting the machine's text.
    doc = parseYaml(text, { logLevel: 'error' });
  } catch {
    return 'invalid';
  }
  if (doc === null || doc === undefined) return undefined;
  if (typeof doc !== 'object' || Array.isArray(doc)) return 'invalid';
  const value = (doc as Record<string, unknown>).status;
  if (value === undefined) return undefined;
  return typeof value === 'string' && value in YAML_STATUSES ? YAML_STATUSES[value] : 'invalid';
}

// MAAS's hook on the `.out` of maas-list-modaliases (docs/protocol.md §7.9): switch tags. Output
// that is not UTF-8 fails the hook, as upstream's decode does. Returns false when it failed.
function processModaliases(ctx: RequestContext, systemId: string, stdout: Buffer, now: number): boolean {
  const { store } = ctx;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(stdout);
  } catch {
    store.addEvent({
      systemId,
      at: now,
      type: 'Script result',
      description: "commissioning script 'maas-list-modaliases' failed during post-processing: the output is not valid UTF-8",
    });
    return false;
  }
  const machine = store.getMachine(systemId)!;
  const hardware = (machine.hardware as MachineHardware | null) ?? emptyHardware();
  const tags = tagsFromModaliases(hardware.tags, text);
  if (tags.join('\n') !== hardware.tags.join('\n')) store.putMachine(withHardware(machine, { ...hardware, tags }));
  return true;
}

// MAAS's hook on the `.out` of 50-maas-01-commissioning (docs/protocol.md §7). Returns false when
// it failed (the result then becomes FAILED and an event says why; the request still succeeds).
function processResources(ctx: RequestContext, systemId: string, stdout: Buffer, now: number): boolean {
  const { store } = ctx;
  const machine = store.getMachine(systemId)!;
  const event = (description: string) => store.addEvent({ systemId, at: now, type: 'Script result', description });
  let hardware: MachineHardware;
  try {
    hardware = deriveHardware({ document: stdout, previous: machine.hardware as MachineHardware, deployed: machine.status === NodeStatus.DEPLOYED });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (error instanceof HookError) for (const e of error.events) event(e.description);
    else ctx.log(`unexpected failure while processing the resources of ${systemId}: ${reason}`);
    event(`commissioning script '50-maas-01-commissioning' failed during post-processing: ${reason}`);
    return false;
  }

  // Cross-machine effects (docs/protocol.md §7.10). A MAC that another machine's physical
  // interface holds stays with that machine: moving it would let one machine's token take another
  // machine's identity (a lookup by MAC would then find the wrong machine). The report keeps its
  // other data, and the clash is recorded on both machines. A hardware UUID another machine has
  // too is cleared on all of them.
  const macs = new Set(hardwareMacs(hardware));
  const held = new Map<string, MachineRecord>();
  for (const other of store.machinesByMac([...macs])) {
    if (other.systemId === systemId) continue;
    for (const mac of hardwareMacs((other.hardware as MachineHardware | null) ?? emptyHardware())) if (macs.has(mac)) held.set(mac, other);
  }
  if (held.size > 0) hardware = withoutMacs(hardware, [...held.keys()]);
  for (const [mac, owner] of held) {
    const description = `MAC address ${mac} reported by ${machine.hostname} (${systemId}) belongs to a physical interface of ${owner.hostname} (${owner.systemId}); it stays there`;
    for (const id of [systemId, owner.systemId]) store.addEvent({ systemId: id, at: now, type: 'MAC address conflict', description });
  }
  const uuid = hardwareUuid(hardware);
  const sharingUuid = uuid === null ? [] : store.machinesByHardwareUuid(uuid).filter((m) => m.systemId !== systemId);
  for (const other of sharingUuid) store.putMachine(withHardware(other, withoutUuid(other.hardware as MachineHardware)));
  if (sharingUuid.length > 0) hardware = withoutUuid(hardware);
  store.putMachine(withHardware(machine, hardware));
  return true;
}
