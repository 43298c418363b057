// API 2.0 machines: create (incl. the deployed path of docs/design.md requirement 1), list with
// filters, read, get_token, release, lock/unlock, set_workload_annotations, update of the power
// type, and the extensions of docs/design.md D5 and D14, each marked below
// (docs/protocol.md §3, §8).
import { NodeStatus, ScriptResultStatus } from '../../maas/types.js';
import type { TokenResponse } from '../../maas/types.js';
import { apiUser, jsonReply, requestOp, unknownOp } from '../context.js';
import type { Reply, RequestContext } from '../context.js';
import { emptyHardware, hasHardwareData, releaseHardware } from '../hooks/process-resources.js';
import type { MachineHardware } from '../hooks/process-resources.js';
import { HttpError, badRequest, conflict, forbidden, formErrors, machineNotFound } from '../http-error.js';
import { newSystemId, newToken } from '../ids.js';
import { aggregateStatus, machineMacs, nodeStatusLabel, renderMachine, withHardware } from '../machine-json.js';
import { field } from '../request-body.js';
import { addNewDeployInfoScripts } from './metadata.js';
import type { MachineRecord, Store, TokenRecord, UserRecord } from '../store.js';
import {
  MAC_OPTIONAL_POWER_TYPES,
  POWER_TYPES,
  hostnameProblem,
  looksIpDerived,
  normaliseArchitecture,
  normaliseMac,
  parseBool,
  randomHostname,
} from '../validation.js';

/** `/MAAS/api/2.0/machines/`: GET lists, POST creates. */
export function machinesCollection(ctx: RequestContext): Reply {
  const op = requestOp(ctx);
  if (ctx.method === 'GET' && op === undefined) return listMachines(ctx);
  if (ctx.method === 'POST' && op === undefined) return createMachine(ctx);
  throw unknownOp(ctx);
}

/** `/MAAS/api/2.0/machines/{system_id}/`: read, update and the per-machine operations. */
export function machineResource(ctx: RequestContext, systemId: string): Reply {
  const op = requestOp(ctx);
  if (ctx.method === 'GET') {
    if (op === undefined) return readMachine(ctx, systemId);
    if (op === 'get_token') return getToken(ctx, systemId);
  } else if (ctx.method === 'PUT' && op === undefined) {
    return updateMachine(ctx, systemId);
  } else if (ctx.method === 'POST') {
    switch (op) {
      case 'release':
        return release(ctx, systemId);
      case 'regenerate_token':
        return regenerateToken(ctx, systemId);
      case 'lock':
      case 'unlock':
        return setLocked(ctx, systemId, op === 'lock');
      case 'set_workload_annotations':
        return setWorkloadAnnotations(ctx, systemId);
      case 'deploy':
      case 'rescue_mode':
      case 'test':
        return netbootOperation(ctx, systemId, op);
    }
  }
  throw unknownOp(ctx);
}

// ---------------------------------------------------------------------------------------------
// Permissions

function canView(user: UserRecord, machine: MachineRecord): boolean {
  return user.isAdmin || machine.owner === null || machine.owner === user.username;
}

function canEdit(user: UserRecord, machine: MachineRecord): boolean {
  return user.isAdmin || machine.owner === user.username;
}

// Loads a machine the caller may see; 404 otherwise (MAAS hides machines a user cannot view).
function visibleMachine(ctx: RequestContext, user: UserRecord, systemId: string): MachineRecord {
  const machine = ctx.store.getMachine(systemId);
  if (!machine || !canView(user, machine)) throw machineNotFound();
  return machine;
}

function editableMachine(ctx: RequestContext, user: UserRecord, systemId: string): MachineRecord {
  const machine = visibleMachine(ctx, user, systemId);
  if (!canEdit(user, machine)) throw forbidden(`User ${user.username} cannot change machine ${systemId}: only its owner or an administrator can.`);
  return machine;
}

// ---------------------------------------------------------------------------------------------
// Create

function createMachine(ctx: RequestContext): Reply {
  // No OAuth: MAAS's anonymous enlistment path (a NEW machine that must name its architecture
  // and MACs). A user token: the normal path. A machine token: 403 from apiUser().
  const user = ctx.caller.kind === 'anonymous' ? null : apiUser(ctx);
  const { form, store } = ctx;
  const errors: Record<string, string[]> = {};
  const addError = (name: string, message: string) => (errors[name] ??= []).push(message);

  const deployedText = field(form, 'deployed');
  let deployed = false;
  if (deployedText !== undefined && deployedText !== '') {
    const parsed = parseBool(deployedText);
    if (parsed === undefined) throw badRequest(`Invalid deployed: Value should be true or false, not '${deployedText}'`);
    deployed = parsed;
  }
  // Only administrators may create a machine as deployed; MAAS silently ignores the flag otherwise.
  deployed = deployed && user?.isAdmin === true;

  const powerType = field(form, 'power_type') ?? '';
  if (powerType !== '' && !POWER_TYPES.includes(powerType)) {
    addError('power_type', `Select a valid choice. ${powerType} is not one of the available choices.`);
  }

  const architectureText = field(form, 'architecture') ?? '';
  let architecture = '';
  if (architectureText !== '') {
    const normalised = normaliseArchitecture(architectureText);
    if (normalised === undefined) {
      addError('architecture', `'${architectureText}' is not a valid architecture.  It should be one of: ${archList()}.`);
    } else architecture = normalised;
  }

  const macs = macAddresses(store, form.fields.get('mac_addresses') ?? [], addError);
  const macsOptional = user !== null && (deployed ? MAC_OPTIONAL_POWER_TYPES.includes(powerType) : powerType === 'ipmi');
  if (!macsOptional) {
    if (architectureText === '') addError('architecture', 'This field is required.');
    if (macs.length === 0 && !errors.mac_addresses) {
      if (powerType !== '' && powerType !== 'ipmi') addError('power_type', `Can't set power type to ${powerType} without network interfaces`);
      else addError('mac_addresses', 'This field is required.');
    }
  }

  const hostname = validHostname(store, field(form, 'hostname') ?? '', addError);
  if (Object.keys(errors).length > 0) throw formErrors(errors);

  const power: Record<string, string> = {};
  for (const [name, values] of form.fields) {
    if (name.startsWith('power_parameters_')) power[name.slice('power_parameters_'.length)] = values[values.length - 1] ?? '';
  }

  const machine = store.transaction(() => {
    const systemId = uniqueSystemId(store);
    const base: MachineRecord = {
      systemId,
      hostname,
      domain: 'maas',
      status: deployed ? NodeStatus.DEPLOYED : NodeStatus.NEW,
      owner: deployed && user ? user.username : null,
      locked: false,
      architecture,
      osystem: '',
      distroSeries: '',
      powerType,
      powerParameters: power,
      workloadAnnotations: {},
      scriptSetId: null,
      hardware: null,
      macs: [],
      hardwareUuid: null,
      error: '',
      created: ctx.now().getTime() / 1000,
    };
    // MAAS keeps the MACs (as eth0, eth1, …) only together with an architecture when it does not
    // require them (docs/protocol.md §3.1); it validates them all the same.
    const record = withHardware(base, emptyHardware({ architecture, macAddresses: macsOptional && architecture === '' ? [] : macs }));
    if (deployed) {
      record.scriptSetId = createDeployInfoSet(store, systemId);
      store.putToken(newToken({ systemId }));
    }
    store.putMachine(record);
    return record;
  });
  ctx.log(`created machine ${machine.systemId} (${machine.hostname}, ${nodeStatusLabel(machine.status)})`);
  return jsonReply(renderMachine(store, machine));
}

/**
 * Creates the deploy-info script set of a deployed machine: one PENDING result per script (the
 * built-ins and the uploaded commissioning scripts tagged deploy-info).
 */
export function createDeployInfoSet(store: Store, systemId: string): number {
  const setId = store.nextId('scriptset');
  addNewDeployInfoScripts(store, systemId, setId);
  return setId;
}

function archList(): string {
  return ['amd64/generic', 'arm64/generic', 'armhf/generic', 'i386/generic', 'ppc64el/generic', 'riscv64/generic', 's390x/generic']
    .map((a) => `'${a}'`)
    .join(', ');
}

function uniqueSystemId(store: Store): string {
  for (;;) {
    const id = newSystemId();
    if (!store.getMachine(id)) return id;
  }
}

function macAddresses(store: Store, values: readonly string[], addError: (name: string, message: string) => void): string[] {
  const problems: string[] = [];
  const macs: string[] = [];
  const owners = macOwners(store, values.map((v) => normaliseMac(v)).filter((m): m is string => m !== undefined));
  for (const value of values) {
    const mac = normaliseMac(value);
    if (mac === undefined) problems.push(`'${value}' is not a valid MAC address.`);
    else if (owners.has(mac)) problems.push(`MAC address ${mac} already in use on ${owners.get(mac)}.`);
    else if (!macs.includes(mac)) macs.push(mac);
  }
  if (problems.length === 1 && values.length === 1) addError('mac_addresses', problems[0]!);
  else if (problems.length > 0) addError('mac_addresses', `One or more MAC addresses is invalid. (${problems.join(' ')})`);
  return macs;
}

/** MAC → hostname of the machine that has it, for these MACs. */
export function macOwners(store: Store, macs: readonly string[]): Map<string, string> {
  const owners = new Map<string, string>();
  for (const machine of store.machinesByMac(macs)) {
    for (const mac of machine.macs) if (macs.includes(mac)) owners.set(mac, machine.hostname);
  }
  return owners;
}

function validHostname(store: Store, requested: string, addError: (name: string, message: string) => void): string {
  const taken = (name: string) => store.machineByHostname(name) !== undefined;
  const text = requested.trim();
  if (text === '') return randomHostname(taken);
  const problem = hostnameProblem(text);
  if (problem) {
    addError('hostname', problem);
    return text;
  }
  const [label, ...domain] = text.split('.');
  if (domain.length > 0 && domain.join('.') !== 'maas') {
    addError('hostname', 'Nonexistant domain.');
    return text;
  }
  if (looksIpDerived(label!)) return randomHostname(taken);
  if (taken(label!)) addError('hostname', 'Node with this Hostname already exists.');
  return label!;
}

// ---------------------------------------------------------------------------------------------
// List and read

function listMachines(ctx: RequestContext): Reply {
  const user = apiUser(ctx);
  const query = ctx.url.searchParams;
  const hostnames = query.getAll('hostname');
  const ids = [...query.getAll('id'), ...query.getAll('system_id')];
  const macs = query.getAll('mac_address').map((value) => {
    const mac = normaliseMac(value);
    if (mac === undefined) throw formErrors({ mac_address: [`'${value}' is not a valid MAC address.`] });
    return mac;
  });
  const machines = ctx.store.listMachines().filter((m) => {
    if (!canView(user, m)) return false;
    if (hostnames.length > 0 && !hostnames.includes(m.hostname)) return false;
    if (ids.length > 0 && !ids.includes(m.systemId)) return false;
    if (macs.length > 0) {
      const own = machineMacs(m);
      if (!macs.some((mac) => own.includes(mac))) return false;
    }
    return true;
  });
  return jsonReply(machines.map((m) => renderMachine(ctx.store, m)));
}

function readMachine(ctx: RequestContext, systemId: string): Reply {
  const user = apiUser(ctx);
  return jsonReply(renderMachine(ctx.store, visibleMachine(ctx, user, systemId)));
}

// ---------------------------------------------------------------------------------------------
// Tokens

function tokenJson(token: TokenRecord | undefined): TokenResponse | null {
  return token ? { token_key: token.tokenKey, token_secret: token.tokenSecret, consumer_key: token.consumerKey } : null;
}

// Upstream lets administrators only read a token. Extension (docs/design.md D5): the owner may too;
// anyone else gets 403 with an empty body for a machine they can see, and the 404 of a missing
// machine for one they cannot, so the answer tells nobody which system ids exist.
function tokenMachine(ctx: RequestContext, systemId: string): MachineRecord {
  const user = apiUser(ctx);
  const machine = visibleMachine(ctx, user, systemId);
  if (!canEdit(user, machine)) throw forbidden();
  return machine;
}

function getToken(ctx: RequestContext, systemId: string): Reply {
  tokenMachine(ctx, systemId);
  return jsonReply(tokenJson(ctx.store.machineToken(systemId)));
}

// Extension (docs/design.md D5): `POST …/?op=regenerate_token` atomically replaces the machine's
// token; the old one fails with 401 at once. Owner or admin only.
function regenerateToken(ctx: RequestContext, systemId: string): Reply {
  tokenMachine(ctx, systemId);
  const token = ctx.store.transaction(() => {
    const old = ctx.store.machineToken(systemId);
    if (old) ctx.store.deleteToken(old.tokenKey);
    const fresh = newToken({ systemId });
    ctx.store.putToken(fresh);
    return fresh;
  });
  ctx.log(`regenerated the token of machine ${systemId}`);
  return jsonReply(tokenJson(token));
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

function lockedError(machine: MachineRecord, action: string): HttpError {
  return forbidden(`Machine ${machine.hostname} (${machine.systemId}) is locked: unlock it (op=unlock) before you ${action} it.`);
}

// Release (docs/protocol.md §8.3) without disk erasing or power actions: READY when every
// deploy-info result passed and hardware data exists, else NEW; owner, token and workload
// annotations go. Extension (docs/design.md requirement 4, D14): physical interfaces are kept and
// only non-physical ones (VLANs, bonds, bridges) removed, where upstream deletes every interface a
// report created.
function release(ctx: RequestContext, systemId: string): Reply {
  const user = apiUser(ctx);
  const { store } = ctx;
  const machine = editableMachine(ctx, user, systemId);
  if (machine.locked) throw lockedError(machine, 'release');
  if (machine.status === NodeStatus.READY || machine.status === NodeStatus.RELEASING) return jsonReply(renderMachine(store, machine));
  if (machine.status !== NodeStatus.DEPLOYED && machine.status !== NodeStatus.ALLOCATED) {
    throw conflict(`Machine cannot be released in its current state ('${nodeStatusLabel(machine.status)}').`);
  }
  const released = store.transaction(() => {
    const results = machine.scriptSetId === null ? [] : store.resultsOfSet(machine.scriptSetId);
    const hardware = machine.hardware as MachineHardware;
    const passed = aggregateStatus(results) === ScriptResultStatus.PASSED && hasHardwareData(hardware);
    const next: MachineRecord = withHardware(
      { ...machine, status: passed ? NodeStatus.READY : NodeStatus.NEW, owner: null, osystem: '', distroSeries: '', workloadAnnotations: {} },
      releaseHardware(hardware),
    );
    const token = store.machineToken(systemId);
    if (token) store.deleteToken(token.tokenKey);
    store.putMachine(next);
    return next;
  });
  ctx.log(`released machine ${systemId} → ${nodeStatusLabel(released.status)}`);
  return jsonReply(renderMachine(store, released));
}

// Lock/unlock: a locked machine cannot be released or changed. docs/design.md requirement 6 shows a
// machine running a MAAS controller as Deployed and locked.
function setLocked(ctx: RequestContext, systemId: string, locked: boolean): Reply {
  const user = apiUser(ctx);
  const machine = editableMachine(ctx, user, systemId);
  if (locked && machine.status !== NodeStatus.DEPLOYED && machine.status !== NodeStatus.DEPLOYING) {
    throw conflict(`Machine cannot be locked in its current state ('${nodeStatusLabel(machine.status)}'): only deployed machines can be locked.`);
  }
  const next = { ...machine, locked };
  ctx.store.transaction(() => ctx.store.putMachine(next));
  return jsonReply(renderMachine(ctx.store, next));
}

// Workload annotations (owner data): each form field sets a key; an empty value deletes it.
function setWorkloadAnnotations(ctx: RequestContext, systemId: string): Reply {
  const user = apiUser(ctx);
  const machine = editableMachine(ctx, user, systemId);
  if (machine.owner === null) {
    throw conflict(`Machine ${machine.hostname} has no owner: workload annotations are only kept for allocated or deployed machines.`);
  }
  const annotations = { ...machine.workloadAnnotations };
  for (const [name, values] of ctx.form.fields) {
    if (name === 'op') continue;
    const value = values[values.length - 1] ?? '';
    if (value === '') delete annotations[name];
    else annotations[name] = value;
  }
  const next = { ...machine, workloadAnnotations: annotations };
  ctx.store.transaction(() => ctx.store.putMachine(next));
  return jsonReply(renderMachine(ctx.store, next));
}

// Extension (docs/design.md requirement 1, D14): operations that need a network boot are refused,
// with a clear message, for a machine without a MAC. This server boots nothing, so with a MAC they
// are refused as unavailable.
function netbootOperation(ctx: RequestContext, systemId: string, op: string): Reply {
  const user = apiUser(ctx);
  const machine = editableMachine(ctx, user, systemId);
  if (machine.locked) throw lockedError(machine, op.replace('_', ' '));
  const macs = machineMacs(machine);
  if (macs.length === 0) {
    throw conflict(
      `Machine ${machine.hostname} (${machine.systemId}) has no MAC address, so it cannot network-boot for op=${op}: add its MAC address (or report its hardware) first.`,
    );
  }
  throw conflict(`op=${op} needs a network boot, which this MAAS-compatible server does not provide.`);
}

// PUT: changes the power type (and parameters). docs/design.md requirement 1: a machine registered
// without a MAC that gets a power driver other than IPMI (or manual) must get a MAC too.
function updateMachine(ctx: RequestContext, systemId: string): Reply {
  const user = apiUser(ctx);
  const machine = editableMachine(ctx, user, systemId);
  if (!user.isAdmin) throw forbidden(`Only administrators can change machine ${systemId}.`);
  if (machine.locked) throw lockedError(machine, 'change');
  const next: MachineRecord = { ...machine, powerParameters: { ...machine.powerParameters } };
  const powerType = field(ctx.form, 'power_type');
  if (powerType !== undefined) {
    if (powerType !== '' && !POWER_TYPES.includes(powerType)) {
      throw formErrors({ power_type: [`Select a valid choice. ${powerType} is not one of the available choices.`] });
    }
    const macs = machineMacs(machine);
    if (!MAC_OPTIONAL_POWER_TYPES.includes(powerType) && macs.length === 0) {
      throw formErrors({ power_type: [`Can't set power type to ${powerType} without network interfaces`] });
    }
    next.powerType = powerType;
  }
  for (const [name, values] of ctx.form.fields) {
    if (name.startsWith('power_parameters_')) next.powerParameters[name.slice('power_parameters_'.length)] = values[values.length - 1] ?? '';
  }
  ctx.store.transaction(() => ctx.store.putMachine(next));
  return jsonReply(renderMachine(ctx.store, next));
}

/** The workload annotation that marks a machine running this MAAS controller (docs/design.md requirement 6). */
export const CONTROLLER_ANNOTATION = { 'maas-controller': 'region+rack' } as const;

/**
 * Extension (docs/design.md requirement 6, D14): lists the host running the server as a machine —
 * Deployed, owned by `owner`, locked, annotated as a MAAS controller, with deploy-info scripts and
 * a token so it can report its hardware like any deployed machine. Reuses the machine of that
 * hostname if present.
 */
export function registerController(store: Store, hostname: string, owner: string, now: Date): MachineRecord {
  return store.transaction(() => {
    const existing = store.machineByHostname(hostname);
    if (existing) {
      const next = { ...existing, locked: existing.status === NodeStatus.DEPLOYED ? true : existing.locked, workloadAnnotations: { ...existing.workloadAnnotations, ...CONTROLLER_ANNOTATION } };
      store.putMachine(next);
      return next;
    }
    const systemId = uniqueSystemId(store);
    const machine = withHardware(
      {
        systemId,
        hostname,
        domain: 'maas',
        status: NodeStatus.DEPLOYED,
        owner,
        locked: true,
        architecture: '',
        osystem: '',
        distroSeries: '',
        powerType: '',
        powerParameters: {},
        workloadAnnotations: { ...CONTROLLER_ANNOTATION },
        scriptSetId: createDeployInfoSet(store, systemId),
        hardware: null,
        macs: [],
        hardwareUuid: null,
        error: '',
        created: now.getTime() / 1000,
      },
      emptyHardware(),
    );
    store.putToken(newToken({ systemId }));
    store.putMachine(machine);
    return machine;
  });
}
