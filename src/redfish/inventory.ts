// Reads the hardware inventory of one ComputerSystem from a Redfish service: the resources
// resources.ts maps, fetched by following the links of the system, its chassis and its managers.
// Only what the mapping needs is read (no SubProcessors, sensors, logs or volumes).
import { CliError } from '../errors.js';
import { RedfishHttpError, type RedfishClient } from './client.js';

export interface RedfishInventory {
  /** The ComputerSystem resource. */
  system: Record<string, unknown>;
  /** Its path, e.g. /redfish/v1/Systems/437XR1138R2. */
  systemPath: string;
  processors: Record<string, unknown>[];
  memory: Record<string, unknown>[];
  /** The system's EthernetInterfaces, less the host side of a Redfish host interface (the BMC lists those). */
  ethernetInterfaces: Record<string, unknown>[];
  /** Drive resources found through Storage (Drives arrays) and Chassis Links.Drives, de-duplicated by path. */
  drives: Record<string, unknown>[];
  /** SimpleStorage resources (older BMCs list devices there instead of Storage). */
  simpleStorage: Record<string, unknown>[];
  /** NetworkDeviceFunctions of the system's NetworkInterfaces/adapters, when present. */
  networkFunctions: Record<string, unknown>[];
  chassis: Record<string, unknown>[];
  /** The NetworkAdapters those functions belong to (maker, model, firmware of the card). */
  networkAdapters: Record<string, unknown>[];
  /** The adapters' physical Ports (link state and speed of a function's port). */
  networkPorts: Record<string, unknown>[];
}

type Resource = Record<string, unknown>;

/** A link's path without #fragment or trailing slash; undefined when `value` is not a link. Pure. */
export function linkPath(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const id = (value as Record<string, unknown>)['@odata.id'];
  if (typeof id !== 'string' || id === '') return undefined;
  const path = id.split('#', 1)[0]!.replace(/\/+$/, '');
  return path === '' ? undefined : path;
}

/** The paths of a list of links. Pure. */
export function linkPaths(value: unknown): string[] {
  return Array.isArray(value) ? value.map(linkPath).filter((p): p is string => p !== undefined) : [];
}

/** The last segment of a link path, percent-decoded when it decodes. Pure. */
export function lastSegment(path: string): string {
  const segment = path.split('#', 1)[0]!.replace(/\/+$/, '');
  const raw = segment.slice(segment.lastIndexOf('/') + 1);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw; // a stray '%': the name as the BMC wrote it
  }
}

/** A next-page link as a path: some BMCs give an absolute URI (of themselves). */
function pagePath(link: unknown): string | undefined {
  if (typeof link !== 'string' || link === '') return undefined;
  if (!/^https?:\/\//i.test(link)) return link;
  try {
    const url = new URL(link);
    return `${url.pathname}${url.search}`;
  } catch {
    return undefined;
  }
}

/**
 * Fetches with the path stamped into `@odata.id`: resources are keyed by the link that led to
 * them, because some BMCs put a wrong @odata.id in the body (DMTF's tower sample swaps two drives').
 */
async function fetchResource(client: RedfishClient, path: string): Promise<Resource> {
  return { ...(await client.get(path)), '@odata.id': path };
}

/** A resource that may legitimately be missing (a dangling link): 404 gives undefined. */
async function fetchOptional(client: RedfishClient, path: string | undefined): Promise<Resource | undefined> {
  if (path === undefined) return undefined;
  try {
    return await fetchResource(client, path);
  } catch (error) {
    if (error instanceof RedfishHttpError && error.status === 404) return undefined;
    throw error;
  }
}

/** Member paths of a collection, following Members@odata.nextLink pages. */
async function collectionMembers(client: RedfishClient, path: string | undefined): Promise<string[]> {
  const members: string[] = [];
  const seen = new Set<string>();
  let next = path;
  while (next !== undefined && !seen.has(next)) {
    seen.add(next);
    const page = await fetchOptional(client, next);
    if (!page) break;
    members.push(...linkPaths(page.Members));
    next = pagePath(page['Members@odata.nextLink']);
  }
  return members;
}

/** Fetches each path once (missing members skipped), in the given order. */
async function fetchAll(client: RedfishClient, paths: readonly string[]): Promise<Resource[]> {
  const unique = [...new Set(paths)];
  const resources = await Promise.all(unique.map((p) => fetchOptional(client, p)));
  return resources.filter((r): r is Resource => r !== undefined);
}

/** The members of the collection linked from `resource[key]`. */
async function members(client: RedfishClient, resource: Resource, key: string): Promise<Resource[]> {
  return fetchAll(client, await collectionMembers(client, linkPath(resource[key])));
}

async function pickSystem(client: RedfishClient, systemId: string | undefined): Promise<string> {
  const root = await client.get('/redfish/v1/');
  const systemsPath = linkPath(root.Systems) ?? '/redfish/v1/Systems';
  const paths = await collectionMembers(client, systemsPath);
  if (paths.length === 0) throw new CliError(`the BMC lists no computer system under ${systemsPath}: check that --bmc names the BMC of a server`);
  const ids = paths.map(lastSegment);
  if (systemId === undefined) {
    if (paths.length === 1) return paths[0]!;
    throw new CliError(`the BMC has ${paths.length} systems (${ids.join(', ')}): pass --bmc-system with one of them`);
  }
  const index = ids.indexOf(systemId);
  if (index >= 0) return paths[index]!;
  // A member's Id may differ from the last segment of its path.
  const systems = await fetchAll(client, paths);
  const byId = systems.find((s) => s.Id === systemId);
  if (byId) return byId['@odata.id'] as string;
  throw new CliError(`the BMC has no system '${systemId}' (it has ${ids.join(', ')}): pass one of those as --bmc-system`);
}

/** The host-side EthernetInterfaces of the managers' host interfaces (the in-band link to the BMC). */
async function hostInterfacePaths(client: RedfishClient, managerPaths: readonly string[]): Promise<Set<string>> {
  const managers = await fetchAll(client, managerPaths);
  const hostInterfaces = (await Promise.all(managers.map((m) => members(client, m, 'HostInterfaces')))).flat();
  const lists = await Promise.all(hostInterfaces.map((h) => collectionMembers(client, linkPath(h.HostEthernetInterfaces))));
  return new Set(lists.flat());
}

/** Reads the inventory of one system: `systemId` picks one of /redfish/v1/Systems (default: the only one; several → CliError listing their ids). */
export async function readInventory(client: RedfishClient, systemId?: string): Promise<RedfishInventory> {
  const systemPath = await pickSystem(client, systemId);
  const system = await fetchResource(client, systemPath);
  const links = (typeof system.Links === 'object' && system.Links !== null ? system.Links : {}) as Resource;

  const [processors, memory, ethernet, storage, simpleStorage, networkInterfaces, chassis, hostSide] = await Promise.all([
    members(client, system, 'Processors'),
    members(client, system, 'Memory'),
    members(client, system, 'EthernetInterfaces'),
    members(client, system, 'Storage'),
    members(client, system, 'SimpleStorage'),
    members(client, system, 'NetworkInterfaces'),
    fetchAll(client, linkPaths(links.Chassis)),
    hostInterfacePaths(client, linkPaths(links.ManagedBy)),
  ]);

  // A chassis may hold several systems (blades, multi-node): then its drives and adapters are
  // not all this system's, and only what the system itself links to counts.
  const ownChassis = chassis.filter((c) => linkPaths((c.Links as Resource | undefined)?.ComputerSystems).length <= 1);

  // Drives: the Storage controllers' arrays, then the chassis' links and Drives collections.
  const chassisDriveLists = await Promise.all(ownChassis.map((c) => collectionMembers(client, linkPath(c.Drives))));
  const drivePaths = [
    ...storage.flatMap((s) => linkPaths(s.Drives)),
    ...ownChassis.flatMap((c) => linkPaths((c.Links as Resource | undefined)?.Drives)),
    ...chassisDriveLists.flat(),
  ];

  // Network adapters: through the system's NetworkInterfaces, else every adapter of its chassis.
  let adapterPaths = networkInterfaces.map((n) => linkPath((n.Links as Resource | undefined)?.NetworkAdapter)).filter((p): p is string => p !== undefined);
  let functionLists = await Promise.all(networkInterfaces.map((n) => collectionMembers(client, linkPath(n.NetworkDeviceFunctions))));
  if (networkInterfaces.length === 0) {
    adapterPaths = (await Promise.all(ownChassis.map((c) => collectionMembers(client, linkPath(c.NetworkAdapters))))).flat();
    functionLists = [];
  }
  const adapters = await fetchAll(client, adapterPaths);
  if (networkInterfaces.length === 0) functionLists = await Promise.all(adapters.map((a) => collectionMembers(client, linkPath(a.NetworkDeviceFunctions))));
  const portLists = await Promise.all(adapters.map((a) => collectionMembers(client, linkPath(a.Ports))));

  const [drives, networkFunctions, networkPorts] = await Promise.all([fetchAll(client, drivePaths), fetchAll(client, functionLists.flat()), fetchAll(client, portLists.flat())]);

  return {
    system,
    systemPath,
    processors,
    memory,
    ethernetInterfaces: ethernet.filter((e) => !hostSide.has(e['@odata.id'] as string)),
    drives,
    simpleStorage,
    networkFunctions,
    chassis,
    networkAdapters: adapters,
    networkPorts,
  };
}
