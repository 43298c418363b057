// MAAS's API as both the client and the bundled server (src/server) speak it: credentials, tokens,
// status codes, the scripts index, signal fields and the machine JSON. Types and constants only:
// no behaviour lives here, so neither side depends on the other's code. What a machine reports
// (the deploy-info scripts and the machine-resources document) is in src/resources/types.ts.

/** OAuth credentials of a MAAS API key or machine token: "ck:tk:ts[:cs]". */
export interface Credentials {
  consumerKey: string;
  tokenKey: string;
  tokenSecret: string;
  /** Always "" for keys MAAS issues. */
  consumerSecret: string;
}

/** Body of `GET /MAAS/api/2.0/machines/{id}/?op=get_token` (and of `op=regenerate_token`). */
export interface TokenResponse {
  token_key: string;
  token_secret: string;
  consumer_key: string;
}

/** The `reporting.maas` mapping of a creds file (docs/design.md D9). Keys are written sorted. */
export interface ReportingMaas {
  consumer_key: string;
  endpoint: string;
  token_key: string;
  token_secret: string;
  consumer_secret?: string;
}

/** Node status codes (docs/protocol.md §3.3). */
export const NodeStatus = {
  NEW: 0,
  COMMISSIONING: 1,
  FAILED_COMMISSIONING: 2,
  MISSING: 3,
  READY: 4,
  RESERVED: 5,
  DEPLOYED: 6,
  RETIRED: 7,
  BROKEN: 8,
  DEPLOYING: 9,
  ALLOCATED: 10,
  FAILED_DEPLOYMENT: 11,
  RELEASING: 12,
  FAILED_RELEASING: 13,
  DISK_ERASING: 14,
  FAILED_DISK_ERASING: 15,
  RESCUE_MODE: 16,
  ENTERING_RESCUE_MODE: 17,
  FAILED_ENTERING_RESCUE_MODE: 18,
  EXITING_RESCUE_MODE: 19,
  FAILED_EXITING_RESCUE_MODE: 20,
  TESTING: 21,
  FAILED_TESTING: 22,
} as const;
export type NodeStatusCode = (typeof NodeStatus)[keyof typeof NodeStatus];

/** Script-result status codes (docs/protocol.md §4.3). */
export const ScriptResultStatus = {
  PENDING: 0,
  RUNNING: 1,
  PASSED: 2,
  FAILED: 3,
  TIMEDOUT: 4,
  ABORTED: 5,
  DEGRADED: 6,
  INSTALLING: 7,
  FAILED_INSTALLING: 8,
  SKIPPED: 9,
  APPLYING_NETCONF: 10,
  FAILED_APPLYING_NETCONF: 11,
} as const;
export type ScriptResultStatusCode = (typeof ScriptResultStatus)[keyof typeof ScriptResultStatus];

/** Values of the signal `status` field the server accepts (docs/protocol.md §4.2). */
export const SIGNAL_STATUSES = [
  'OK',
  'FAILED',
  'WORKING',
  'COMMISSIONING',
  'TESTING',
  'TIMEDOUT',
  'INSTALLING',
  'APPLYING_NETCONF',
  'RELEASING',
  'DEPLOYING',
] as const;
export type SignalStatus = (typeof SIGNAL_STATUSES)[number];

/** One entry of `index.json` → `"1.0"` → `commissioning_scripts` (docs/protocol.md §5.4). */
export interface ScriptIndexEntry {
  name: string;
  script_result_id?: number;
  script_version_id?: number;
  timeout_seconds?: number;
  parallel?: number;
  hardware_type?: number;
  parameters?: Record<string, unknown>;
  packages?: Record<string, unknown>;
  for_hardware?: string[];
  apply_configured_networking?: boolean;
  has_started?: boolean;
  has_finished?: boolean;
  default?: boolean;
  tags?: string[];
  path: string;
}

/** The whole `index.json` of the maas-scripts tarball. */
export interface ScriptIndex {
  '1.0': {
    commissioning_scripts?: ScriptIndexEntry[];
    testing_scripts?: ScriptIndexEntry[];
    release_scripts?: ScriptIndexEntry[];
    deployment_scripts?: ScriptIndexEntry[];
  };
}

/** The plain (non-file) fields of a signal request, in the order the client sends them (docs/protocol.md §4.1). */
export interface SignalFields {
  status: SignalStatus;
  error?: string;
  script_result_id?: number;
  runtime: number;
  exit_status: number;
  name: string;
  script_version_id?: number;
}

/** A file part of a signal: `<name>.out`, `<name>.err`, `<name>`, `<name>.yaml`. */
export interface SignalFile {
  name: string;
  content: Uint8Array | string;
}

// ---------------------------------------------------------------------------------------------
// Machine JSON (API 2.0), as returned by create / read / list / release.

export interface DomainJson {
  name: string;
  id: number;
  authoritative: boolean;
  ttl: number | null;
  is_default: boolean;
  resource_record_count: number;
  resource_uri: string;
}

export interface SubnetJson {
  id: number;
  name: string;
  cidr: string;
  vlan?: unknown;
  resource_uri?: string;
}

export interface LinkJson {
  id: number;
  mode: 'static' | 'auto' | 'dhcp' | 'link_up';
  ip_address?: string;
  subnet?: SubnetJson;
}

export interface InterfaceJson {
  system_id: string;
  id: number;
  name: string;
  type: 'physical' | 'bond' | 'bridge' | 'vlan' | 'unknown';
  vlan: unknown;
  mac_address: string;
  parents: string[];
  children: string[];
  tags: string[];
  enabled: boolean;
  links: LinkJson[];
  params: Record<string, unknown> | string;
  discovered: unknown[] | null;
  effective_mtu: number;
  vendor: string | null;
  product: string | null;
  firmware_version: string | null;
  link_connected: boolean;
  interface_speed: number;
  link_speed: number;
  numa_node: number | null;
  sriov_max_vf: number;
  resource_uri: string;
}

export interface FilesystemJson {
  fstype: string;
  label: string | null;
  uuid: string | null;
  mount_point: string | null;
  mount_options: string | null;
}

export interface BlockDeviceJson {
  system_id: string;
  id: number;
  name: string;
  uuid: string | null;
  type: 'physical';
  path: string;
  model: string;
  serial: string;
  id_path: string;
  size: number;
  block_size: number;
  available_size: number;
  used_size: number;
  used_for: string;
  tags: string[];
  filesystem: FilesystemJson | null;
  partition_table_type: string | null;
  partitions: unknown[];
  firmware_version: string | null;
  storage_pool: string | null;
  numa_node: number;
  resource_uri: string;
}

export interface NumaNodeJson {
  index: number;
  cores: number[];
  /** MiB */
  memory: number;
  hugepages_set: { total: number; page_size: number }[];
}

/** The 18 keys of `hardware_info`; "Unknown" unless a report stored a value. */
export const HARDWARE_INFO_KEYS = [
  'system_vendor',
  'system_product',
  'system_family',
  'system_version',
  'system_sku',
  'system_serial',
  'cpu_model',
  'mainboard_vendor',
  'mainboard_product',
  'mainboard_serial',
  'mainboard_version',
  'mainboard_firmware_vendor',
  'mainboard_firmware_date',
  'mainboard_firmware_version',
  'chassis_vendor',
  'chassis_type',
  'chassis_serial',
  'chassis_version',
] as const;
export type HardwareInfoKey = (typeof HARDWARE_INFO_KEYS)[number];

export interface MachineJson {
  system_id: string;
  hostname: string;
  fqdn: string;
  domain: DomainJson;
  owner: string | null;
  locked: boolean;
  status: number;
  status_name: string;
  node_type: number;
  node_type_name: string;
  architecture: string;
  osystem: string;
  distro_series: string;
  cpu_count: number;
  /** MHz */
  cpu_speed: number;
  /** MiB */
  memory: number;
  /** MB (10^6 bytes), sum of physical disks */
  storage: number;
  power_type: string;
  power_state: string;
  hardware_uuid: string | null;
  interface_set: InterfaceJson[];
  blockdevice_set: BlockDeviceJson[];
  physicalblockdevice_set: BlockDeviceJson[];
  numanode_set: NumaNodeJson[];
  workload_annotations: Record<string, string>;
  owner_data: Record<string, string>;
  tag_names: string[];
  hardware_info: Record<HardwareInfoKey, string>;
  commissioning_status: number;
  commissioning_status_name: string;
  current_commissioning_result_id: number | null;
  resource_uri: string;
  [extra: string]: unknown;
}
