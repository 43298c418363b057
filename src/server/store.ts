// The bundled server's storage contract: users and their API keys, machines, machine tokens,
// script results, nonces and events. Two implementations share it: memoryStore() and
// sqliteStore(path). Records are plain JSON-serialisable objects; a store hands out copies, so a
// caller changes stored state only through put*/delete* calls.

/** A user of the API 2.0 (admin or not). Its API key lives in the tokens table. */
export interface UserRecord {
  username: string;
  isAdmin: boolean;
}

/** An OAuth token: a user's API key (username set) or a machine token (systemId set). */
export interface TokenRecord {
  consumerKey: string;
  /** Always "" for keys this server issues, as in MAAS. */
  consumerSecret: string;
  tokenKey: string;
  tokenSecret: string;
  username: string | null;
  systemId: string | null;
}

/** A machine as stored. `hardware` is the opaque document of src/server/hooks. */
export interface MachineRecord {
  systemId: string;
  hostname: string;
  domain: string;
  status: number;
  owner: string | null;
  locked: boolean;
  architecture: string;
  osystem: string;
  distroSeries: string;
  powerType: string;
  powerParameters: Record<string, string>;
  workloadAnnotations: Record<string, string>;
  /** Id of the current commissioning script set (the deploy-info set for a deployed machine). */
  scriptSetId: number | null;
  hardware: unknown;
  /** Index fields derived from `hardware` (set with withHardware()): its physical MACs and UUID. */
  macs: string[];
  hardwareUuid: string | null;
  /** Error text stored by an OK signal (docs/protocol.md §4.4). */
  error: string;
  created: number;
}

/** One script result of a machine's script set (docs/protocol.md §4.3). */
export interface ScriptResultRecord {
  id: number;
  systemId: string;
  scriptSetId: number;
  name: string;
  scriptVersionId: number | null;
  status: number;
  exitStatus: number | null;
  /** Uploaded blobs, base64; null until uploaded. */
  stdout: string | null;
  stderr: string | null;
  output: string | null;
  result: string | null;
  started: number | null;
  ended: number | null;
  runtime: number | null;
}

/**
 * A script an administrator uploaded (`POST /MAAS/api/2.0/scripts/`). The built-in deploy-info
 * scripts are not stored: they come from the server's catalogue.
 */
export interface ScriptRecord {
  id: number;
  name: string;
  title: string;
  description: string;
  /** Including the automatic ones (hardware type label, `destructive`). */
  tags: string[];
  /** 0 commissioning, 2 testing, 3 release (MAAS's SCRIPT_TYPE). */
  scriptType: number;
  /** 0 node, 1 cpu, 2 memory, 3 storage, 4 network, 5 gpu (MAAS's HARDWARE_TYPE). */
  hardwareType: number;
  /** 0 disabled, 1 instance, 2 any. */
  parallel: number;
  /** 0 means no limit. */
  timeoutSeconds: number;
  destructive: boolean;
  mayReboot: boolean;
  recommission: boolean;
  applyConfiguredNetworking: boolean;
  /** `modalias:…`, `pci:vvvv:pppp`, `usb:vvvv:pppp`, `system_vendor:…` and the like. */
  forHardware: string[];
  packages: Record<string, unknown>;
  parameters: Record<string, unknown>;
  results: unknown;
  /** The script itself (UTF-8 text starting with a shebang). */
  body: string;
  /** Id of the script's (only) version, as index.json and signals name it. */
  versionId: number;
  /** The upload's `comment`. */
  comment: string;
  /** Seconds since the epoch. */
  created: number;
}

/** A logged event of a machine (hook failures and the like). */
export interface EventRecord {
  id: number;
  systemId: string;
  at: number;
  type: string;
  description: string;
}

/** Storage used by the server. Every method is synchronous; see transaction(). */
export interface Store {
  /** Runs fn so that either all of its writes persist or, when it throws, none do. */
  transaction<T>(fn: () => T): T;
  /**
   * True when a transaction nested in another one is undone alone when it throws (SQLite's
   * savepoints), so the server may handle several requests in one commit.
   */
  readonly groupCommit?: boolean;

  /** Creates a user with a fresh API key and returns the key as "ck:tk:ts". */
  addUser(username: string, options: { admin: boolean }): string;
  getUser(username: string): UserRecord | undefined;
  /** Stores a user record with an existing key (used to install a known admin key). */
  putUserWithKey(user: UserRecord, token: TokenRecord): void;

  /** The API keys of a user, oldest first. */
  apiKeysOf(username: string): TokenRecord[];
  getToken(tokenKey: string): TokenRecord | undefined;
  putToken(token: TokenRecord): void;
  deleteToken(tokenKey: string): void;
  machineToken(systemId: string): TokenRecord | undefined;

  getMachine(systemId: string): MachineRecord | undefined;
  machineByHostname(hostname: string): MachineRecord | undefined;
  /** All machines, oldest first. */
  listMachines(): MachineRecord[];
  /** Machines with an interface having one of these MACs (lower-case colon form). */
  machinesByMac(macs: readonly string[]): MachineRecord[];
  /** Machines whose hardware UUID is `uuid`. */
  machinesByHardwareUuid(uuid: string): MachineRecord[];
  putMachine(machine: MachineRecord): void;
  deleteMachine(systemId: string): void;

  /** Results of one script set, ordered by (name, id). */
  resultsOfSet(scriptSetId: number): ScriptResultRecord[];
  /** The newest result (highest id) of script `name` in one script set. */
  latestResult(scriptSetId: number, name: string): ScriptResultRecord | undefined;
  getResult(id: number): ScriptResultRecord | undefined;
  putResult(result: ScriptResultRecord): void;
  /** Deletes every result, in any set, of script `name` at version `scriptVersionId`. */
  deleteResultsOfScript(name: string, scriptVersionId: number): void;
  /** Allocates a new id from a named counter ("result", "scriptset", "event", …). */
  nextId(counter: string): number;

  /** An uploaded script by name. */
  getScript(name: string): ScriptRecord | undefined;
  /** All uploaded scripts, by id. */
  listScripts(): ScriptRecord[];
  putScript(script: ScriptRecord): void;
  deleteScript(name: string): void;

  /** Records a nonce; false when this (consumer, token, nonce) was already used. */
  useNonce(consumerKey: string, tokenKey: string, nonce: string, nowSeconds: number): boolean;

  addEvent(event: Omit<EventRecord, 'id'>): void;
  eventsOf(systemId: string): EventRecord[];

  close(): void;
}

/** Seconds a nonce is remembered; a timestamp older than this is rejected anyway (docs/protocol.md §2.4). */
export const NONCE_TTL_SECONDS = 600;
