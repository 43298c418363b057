// Every script the server knows: the built-in deploy-info catalogue (default scripts) and the
// scripts administrators uploaded. Which of them make up a deployed machine's deploy-info set, what
// index.json says about each, and the script JSON of the API (docs/protocol.md §3.8, §5.2, §5.4).
import type { Store, ScriptRecord } from '../store.js';
import { DEPLOY_INFO_CATALOGUE } from './deploy-info.js';
import { HARDWARE_TYPES, PARALLEL_MODES, SCRIPT_TYPES, embeddedMetadata, formatDuration, parseDuration } from './script-form.js';

/** A script as the tarball and the signal handler need it. */
export interface ServedScript {
  name: string;
  versionId: number;
  timeoutSeconds: number;
  parallel: number;
  hardwareType: number;
  tags: string[];
  body: string;
  /** True for the built-in scripts, false for uploaded ones (upstream semantics). */
  isDefault: boolean;
  packages: Record<string, unknown>;
  forHardware: string[];
  applyConfiguredNetworking: boolean;
}

/** The tag that makes a commissioning script part of a deployed machine's set. */
export const DEPLOY_INFO_TAG = 'deploy-info';

/** Ids of uploaded scripts (and their versions) start after the built-ins'. */
export function newScriptId(store: Store): number {
  return DEPLOY_INFO_CATALOGUE.length + store.nextId('script');
}

// When this server started: the "created" time of its built-in scripts.
const LOADED_AT = Date.now() / 1000;

let builtins: ScriptRecord[] | undefined;

/** The built-in deploy-info scripts as script records (id = version id, never stored). */
export function builtinScripts(): ScriptRecord[] {
  return loadBuiltins().map((s) => structuredClone(s));
}

// The built-ins, made once and never handed out (callers get copies, or served() views).
function loadBuiltins(): readonly ScriptRecord[] {
  builtins ??= DEPLOY_INFO_CATALOGUE.map((script) => {
    const metadata = embeddedMetadata(script.body).metadata ?? {};
    const text = (key: string) => (typeof metadata[key] === 'string' ? (metadata[key] as string) : '');
    return {
      id: script.versionId,
      name: script.name,
      title: text('title'),
      description: text('description'),
      tags: [...script.tags],
      scriptType: 0,
      hardwareType: 0,
      parallel: script.parallel,
      timeoutSeconds: parseDuration(String(metadata.timeout ?? script.timeoutSeconds)) ?? script.timeoutSeconds,
      destructive: false,
      mayReboot: false,
      recommission: false,
      applyConfiguredNetworking: false,
      forHardware: [],
      packages: {},
      parameters: {},
      results: {},
      body: script.body,
      versionId: script.versionId,
      comment: '',
      created: LOADED_AT,
    };
  });
  return builtins;
}

/** True for the names and ids of the built-in scripts. */
export function isBuiltin(script: ScriptRecord): boolean {
  return DEPLOY_INFO_CATALOGUE.some((s) => s.name === script.name);
}

/** Built-ins first, then uploaded scripts by id. */
export function allScripts(store: Store): ScriptRecord[] {
  return [...builtinScripts(), ...store.listScripts()];
}

/** A script by name, or by id when `nameOrId` is all digits (as MAAS looks them up). */
export function findScript(store: Store, nameOrId: string): ScriptRecord | undefined {
  if (/^\d+$/.test(nameOrId)) return allScripts(store).find((s) => s.id === Number(nameOrId));
  return builtinScripts().find((s) => s.name === nameOrId) ?? store.getScript(nameOrId);
}

function served(script: ScriptRecord): ServedScript {
  return {
    name: script.name,
    versionId: script.versionId,
    timeoutSeconds: script.timeoutSeconds,
    parallel: script.parallel,
    hardwareType: script.hardwareType,
    tags: [...script.tags],
    body: script.body,
    isDefault: isBuiltin(script),
    packages: { ...script.packages },
    forHardware: [...script.forHardware],
    applyConfiguredNetworking: script.applyConfiguredNetworking,
  };
}

/** The script a result of `name` runs, built-in or uploaded. */
export function servedScript(store: Store, name: string): ServedScript | undefined {
  const script = loadBuiltins().find((s) => s.name === name) ?? store.getScript(name);
  return script && served(script);
}

/**
 * The scripts of a deployed machine's deploy-info set, sorted by name: the built-ins and every
 * uploaded commissioning script tagged deploy-info. Extension: upstream puts only default
 * (built-in) scripts in this set, and its client skips entries that are not default; this project's
 * client runs them (docs/design.md D6), and index.json still says `default: false` for them.
 * Destructive scripts never run on a deployed machine, and scripts bound to hardware (for_hardware)
 * are left out: this server does not match hardware to scripts.
 */
export function deployInfoScripts(store: Store): ServedScript[] {
  const uploaded = store
    .listScripts()
    .filter((s) => s.scriptType === 0 && s.tags.includes(DEPLOY_INFO_TAG) && !s.destructive && s.forHardware.length === 0);
  return [...loadBuiltins(), ...uploaded].map(served).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The API JSON of a script (`include_script` adds the base64 body to its history). */
export function scriptJson(script: ScriptRecord, includeScript: boolean): Record<string, unknown> {
  const created = new Date(script.created * 1000).toUTCString().replace(/GMT$/, '+0000');
  return {
    id: script.id,
    name: script.name,
    title: script.title,
    description: script.description,
    tags: [...script.tags],
    type: script.scriptType,
    type_name: SCRIPT_TYPES[script.scriptType] ?? 'unknown',
    hardware_type: script.hardwareType,
    hardware_type_name: HARDWARE_TYPES[script.hardwareType] ?? 'unknown',
    parallel: script.parallel,
    parallel_name: PARALLEL_MODES[script.parallel] ?? 'unknown',
    results: script.results,
    parameters: script.parameters,
    packages: script.packages,
    timeout: formatDuration(script.timeoutSeconds),
    destructive: script.destructive,
    for_hardware: [...script.forHardware],
    may_reboot: script.mayReboot,
    recommission: script.recommission,
    history: [
      {
        id: script.versionId,
        comment: script.comment,
        created,
        ...(includeScript ? { data: Buffer.from(script.body, 'utf8').toString('base64') } : {}),
      },
    ],
    default: isBuiltin(script),
    apply_configured_networking: script.applyConfiguredNetworking,
    resource_uri: `/MAAS/api/2.0/scripts/${script.name}`,
  };
}
