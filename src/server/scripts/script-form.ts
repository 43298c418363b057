// The upload form of `POST /MAAS/api/2.0/scripts/` as MAAS validates it: form fields, the script
// file, and the metadata embedded in the script between `# --- Start MAAS 1.0 script metadata ---`
// and `# --- End … ---` (YAML that fills the fields the form leaves out), with MAAS's error texts.
import { parse as parseYaml } from 'yaml';
import type { ParsedForm } from '../request-body.js';
import type { ScriptRecord } from '../store.js';
import { parseBool } from '../validation.js';

/** MAAS's script types (SCRIPT_TYPE) and their labels. */
export const SCRIPT_TYPES: Record<number, string> = { 0: 'Commissioning script', 2: 'Testing script', 3: 'Release script' };
/** MAAS's hardware types (HARDWARE_TYPE); the lower-cased label is also a tag of the script. */
export const HARDWARE_TYPES: Record<number, string> = { 0: 'Node', 1: 'CPU', 2: 'Memory', 3: 'Storage', 4: 'Network', 5: 'GPU' };
/** MAAS's parallel modes (SCRIPT_PARALLEL). */
export const PARALLEL_MODES: Record<number, string> = {
  0: 'Disabled',
  1: 'Run along other instances of this script',
  2: 'Run along any other script.',
};

/** The validated content of an upload, ready to become a ScriptRecord. */
export type ScriptFields = Omit<ScriptRecord, 'id' | 'versionId' | 'created'>;

/** Field → messages, as a Django form reports them. */
export type FieldErrors = Record<string, string[]>;

// Fields the embedded YAML may set (the form's own fields).
const FORM_FIELDS = [
  'name',
  'title',
  'description',
  'tags',
  'script_type',
  'hardware_type',
  'parallel',
  'packages',
  'timeout',
  'destructive',
  'for_hardware',
  'may_reboot',
  'recommission',
  'apply_configured_networking',
];

/** The metadata block embedded in a script, or undefined when it has none (or none that parses). */
export function embeddedMetadata(body: string): { metadata?: Record<string, unknown>; error?: string } {
  const lines = body.split(/\r\n|\r|\n/);
  const marker = /\s*#\s*-+\s*(Start|End) MAAS (\d+\.\d+) script metadata\s+-+/i;
  let inside = false;
  let yamlText = '';
  for (const line of lines.slice(1)) {
    const match = marker.exec(line);
    if (match) {
      if (!inside && match[2] === '1.0') {
        inside = true;
        continue;
      }
      if (inside && match[2] === '1.0') break;
    } else if (inside && line.trim() !== '') {
      const hash = line.indexOf('#');
      if (hash < 0) return { error: 'Missing "#" on YAML line.' };
      yamlText += `${line.slice(hash + 1)}\n`;
    }
  }
  let parsed: unknown;
  try {
    // Warnings would go to the server's stderr as Node warnings, quoting the uploaded text.
    parsed = parseYaml(yamlText, { logLevel: 'error' });
  } catch (error) {
    return { error: `Invalid YAML: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}` };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
  return { metadata: parsed as Record<string, unknown> };
}

/**
 * Validates an upload. `nameTaken` says whether a script of that name exists (built-in or
 * uploaded). Returns the fields, or the errors to answer 400 with.
 */
export function readScriptForm(form: ParsedForm, nameTaken: (name: string) => boolean): { fields: ScriptFields } | { errors: FieldErrors } {
  const errors: FieldErrors = {};
  const fail = (field: string, message: string) => (errors[field] ??= []).push(message);

  // The form's data: the last value of each field; the script from the `script` file part, or
  // from the only file part (whose part name is then the script's name).
  const data = new Map<string, string>();
  for (const [name, values] of form.fields) if (name !== 'op') data.set(name, values[values.length - 1] ?? '');
  let scriptBytes: Buffer | undefined;
  const scriptPart = form.files.find((f) => f.name === 'script');
  if (scriptPart) scriptBytes = scriptPart.data;
  else if (form.files.length === 1) {
    data.set('name', form.files[0]!.name);
    scriptBytes = form.files[0]!.data;
  } else if (data.has('script')) scriptBytes = Buffer.from(data.get('script')!, 'utf8');
  if (data.has('type') && !data.has('script_type')) data.set('script_type', data.get('type')!);

  let body = '';
  if (scriptBytes !== undefined) {
    try {
      body = new TextDecoder('utf-8', { fatal: true }).decode(scriptBytes);
    } catch {
      fail('script', 'The script must be UTF-8 text.');
    }
  }
  let results: unknown = {};
  let parameters: Record<string, unknown> = {};
  if (body !== '') {
    if (!body.startsWith('#!/')) fail('script', 'Must start with shebang.');
    const { metadata, error } = embeddedMetadata(body);
    if (error) fail('script', error);
    if (metadata) {
      const yaml = { ...metadata };
      results = yaml.results ?? {};
      parameters = isRecord(yaml.parameters) ? yaml.parameters : {};
      delete yaml.results;
      delete yaml.parameters;
      mergeEmbedded(yaml, data, fail);
    }
  }
  if (data.has('comment') && scriptBytes === undefined) fail('comment', '"comment" may only be used when specifying a "script" as well.');

  const name = data.get('name') ?? '';
  if (name === '') fail('name', 'This field is required.');
  else if (name.length > 255) fail('name', `Ensure this value has at most 255 characters (it has ${name.length}).`);
  else if (name.toLowerCase() === 'none') fail('name', '"none" is a reserved name.');
  else if (/^\d+$/.test(name)) fail('name', 'Cannot be a number.');
  else if (!/^[A-Za-z0-9_@%+=:,./-]+$/.test(name)) fail('name', `Name '${name}' contains disallowed characters, e.g. space or quotes.`);
  // Stricter than upstream (extension): the name becomes a path in every machine's scripts
  // tarball, and a client that extracts without checks would write outside its directory.
  else if (name.includes('/') || name.startsWith('.')) fail('name', `Name '${name}' must not contain '/' or start with '.': it becomes a file name on every machine.`);
  else if (nameTaken(name)) fail('name', 'Script with this Name already exists.');
  if (body === '' && !errors.script) fail('script', 'This field is required.');

  const title = data.get('title') ?? '';
  if (title.length > 255) fail('title', `Ensure this value has at most 255 characters (it has ${title.length}).`);
  const scriptType = choice(data.get('script_type'), 2, translateScriptType, 'script_type', fail);
  const hardwareType = choice(data.get('hardware_type'), 0, translateHardwareType, 'hardware_type', fail);
  const parallel = choice(data.get('parallel'), 0, translateParallel, 'parallel', fail);
  let timeoutSeconds = 0;
  const timeoutText = data.get('timeout');
  if (timeoutText !== undefined && timeoutText.trim() !== '') {
    const seconds = parseDuration(timeoutText.trim());
    if (seconds === undefined) fail('timeout', 'Enter a valid duration.');
    else timeoutSeconds = seconds;
  }
  const flag = (field: string) => {
    const text = data.get(field);
    if (text === undefined || text === '') return false;
    const value = parseBool(text);
    if (value === undefined) fail(field, `'${text}' value must be either True or False.`);
    return value ?? false;
  };
  const destructive = flag('destructive');
  const mayReboot = flag('may_reboot');
  const recommission = flag('recommission');
  const applyConfiguredNetworking = flag('apply_configured_networking');
  const packages = jsonObject(data.get('packages'), 'packages', fail);
  const forHardware = hardwareIds(data.get('for_hardware'), fail);

  if (Object.keys(errors).length > 0) return { errors };

  // Tags: the comma-separated list, plus the hardware type's label and `destructive`, as MAAS
  // tags every script it saves.
  const tags = (data.get('tags') ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  const automatic = Object.values(HARDWARE_TYPES).map((label) => label.toLowerCase());
  const finalTags = tags.filter((t) => !automatic.includes(t) && t !== 'destructive');
  finalTags.push(HARDWARE_TYPES[hardwareType]!.toLowerCase());
  if (destructive) finalTags.push('destructive');

  return {
    fields: {
      name,
      title,
      description: data.get('description') ?? '',
      tags: [...new Set(finalTags)],
      scriptType,
      hardwareType,
      parallel,
      timeoutSeconds,
      destructive,
      mayReboot,
      recommission,
      applyConfiguredNetworking,
      forHardware,
      packages,
      parameters,
      results,
      body,
      comment: data.get('comment') ?? '',
    },
  };
}

// Embedded values fill in what the form leaves out; a form value that differs is an error,
// except for tags and timeout, where the form wins silently.
function mergeEmbedded(yaml: Record<string, unknown>, data: Map<string, string>, fail: (field: string, message: string) => void): void {
  const tags = yaml.tags;
  delete yaml.tags;
  if (tags !== undefined && tags !== null && !data.has('tags')) {
    if (typeof tags === 'string') data.set('tags', tags);
    else if (Array.isArray(tags) && tags.every((t) => typeof t === 'string')) data.set('tags', tags.join(','));
    else fail('tags', 'Embedded tags must be a string of comma seperated values, or a list of strings.');
  }
  const timeout = yaml.timeout;
  delete yaml.timeout;
  if (timeout !== undefined && timeout !== null && !data.has('timeout')) data.set('timeout', String(timeout));
  for (const key of ['packages', 'for_hardware']) {
    const value = yaml[key];
    delete yaml[key];
    if (value !== undefined && value !== null && !data.has(key)) data.set(key, JSON.stringify(value));
  }
  for (const [key, value] of Object.entries(yaml)) {
    if (!FORM_FIELDS.includes(key)) continue;
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    const given = data.get(key);
    if (given === undefined) {
      data.set(key, text);
      continue;
    }
    const same = key === 'script_type' ? sameScriptType(text, given) : text === given;
    if (!same) fail(key, 'May not override values defined in embedded YAML.');
  }
}

function sameScriptType(a: string, b: string): boolean {
  const [x, y] = [translateScriptType(a), translateScriptType(b)];
  return typeof x === 'number' && x === y;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function choice(
  text: string | undefined,
  fallback: number,
  translate: (value: string) => number | string,
  field: string,
  fail: (field: string, message: string) => void,
): number {
  if (text === undefined || text === '') return fallback;
  const value = translate(text);
  if (typeof value === 'string') {
    fail(field, value);
    return fallback;
  }
  return value;
}

/** A script type from a number or a name; a string is the error message. */
export function translateScriptType(value: string): number | string {
  if (/^\d+$/.test(value)) return Number(value) in SCRIPT_TYPES ? Number(value) : 'Invalid script type numeric value.';
  if (['test', 'testing'].includes(value)) return 2;
  if (['commission', 'commissioning'].includes(value)) return 0;
  if (value === 'release') return 3;
  return 'Script type must be testing or commissioning';
}

/** A hardware type from a number or a name; a string is the error message. */
export function translateHardwareType(value: string): number | string {
  if (/^\d+$/.test(value)) return Number(value) in HARDWARE_TYPES ? Number(value) : 'Invalid hardware type numeric value.';
  const names: [number, string[]][] = [
    [0, ['node', 'machine', 'controller']],
    [1, ['cpu', 'processor']],
    [2, ['memory', 'ram']],
    [3, ['storage', 'disk', 'ssd']],
    [4, ['network', 'net', 'interface']],
    [5, ['gpu', 'graphics']],
  ];
  for (const [type, aliases] of names) if (aliases.includes(value)) return type;
  return 'Hardware type must be node, cpu, memory, storage, network or gpu';
}

/** A parallel mode from a number or a name; a string is the error message. */
export function translateParallel(value: string): number | string {
  if (/^\d+$/.test(value)) return Number(value) in PARALLEL_MODES ? Number(value) : 'Invalid script parallel numeric value.';
  if (['disabled', 'none'].includes(value)) return 0;
  if (['instance', 'name'].includes(value)) return 1;
  if (['any', 'enabled'].includes(value)) return 2;
  return 'Script parallel must be disabled, instance, or any.';
}

/**
 * Seconds of a duration as Django reads one: `SS`, `MM:SS`, `HH:MM:SS`, optionally preceded by
 * `D days, ` and followed by a fraction; undefined when it is not one.
 */
export function parseDuration(text: string): number | undefined {
  const match = /^(?:(\d+) (?:days?, )?)?(?:(\d+):(?=\d+:\d+))?(?:(\d+):)?(\d+)(?:[.,](\d{1,6})\d{0,6})?$/.exec(text);
  if (!match) return undefined;
  const [, days, hours, minutes, seconds, fraction] = match;
  const whole = Number(days ?? 0) * 86400 + Number(hours ?? 0) * 3600 + Number(minutes ?? 0) * 60 + Number(seconds);
  return fraction ? whole + Number(fraction.padEnd(6, '0')) / 1e6 : whole;
}

/** A duration as Python prints a timedelta: `0:05:00`, `1 day, 2:00:00`, `0:00:01.500000`. */
export function formatDuration(totalSeconds: number): string {
  const micro = Math.round((totalSeconds % 1) * 1e6);
  let rest = Math.floor(totalSeconds);
  const days = Math.floor(rest / 86400);
  rest -= days * 86400;
  const hours = Math.floor(rest / 3600);
  const minutes = Math.floor((rest % 3600) / 60);
  const seconds = rest % 60;
  const clock = `${hours}:${String(minutes).padStart(2, '0')}:${String(seconds).padStart(2, '0')}${micro ? `.${String(micro).padStart(6, '0')}` : ''}`;
  return days > 0 ? `${days} day${days === 1 ? '' : 's'}, ${clock}` : clock;
}

function jsonObject(text: string | undefined, field: string, fail: (field: string, message: string) => void): Record<string, unknown> {
  if (text === undefined || text.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(text);
    if (isRecord(value)) return value;
  } catch {
    // reported below
  }
  fail(field, 'Enter a valid JSON object.');
  return {};
}

const HARDWARE_ID =
  /^modalias:.+|pci:[\da-f]{4}:[\da-f]{4}|usb:[\da-f]{4}:[\da-f]{4}|system_vendor:.*|system_product:.*|system_version:.*|mainboard_vendor:.*|mainboard_product:.*$/i;

// for_hardware: a JSON list, or a comma-separated string, of hardware identifiers.
function hardwareIds(text: string | undefined, fail: (field: string, message: string) => void): string[] {
  if (text === undefined || text.trim() === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = text;
  }
  if (typeof value === 'string') value = value.split(',');
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    fail('for_hardware', 'Must be a list or string');
    return [];
  }
  for (const id of value as string[]) {
    if (!HARDWARE_ID.test(id)) {
      fail(
        'for_hardware',
        `Hardware identifier '${id}' must be a modalias, PCI ID, USB ID, system vendor, system product, system version, mainboard vendor, or mainboard product.`,
      );
    }
  }
  return value as string[];
}
