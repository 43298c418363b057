// Typed readers for the untrusted machine-resources document. Each names the JSON path of a
// field that has the wrong type, so a malformed report fails with a reason, never a TypeError.

/** The hook could not process a report; `reason` is what MAAS would log, `events` what to record. */
export class HookError extends Error {
  override name = 'HookError';
  constructor(
    readonly reason: string,
    readonly events: HookEvent[] = [],
  ) {
    super(reason);
  }
}

/** A node event the processing wants recorded (MAAS's `Event` rows). */
export interface HookEvent {
  type: 'SCRIPT_RESULT_ERROR';
  description: string;
}

/** A JSON object as parsed from the report. */
export type JsonObject = Record<string, unknown>;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

function wrong(path: string, expected: string, value: unknown): HookError {
  const got = describe(value);
  return new HookError(`${path} must be ${expected}, got ${got.length > 80 ? `${got.slice(0, 77)}...` : got}`);
}

/** True for a plain JSON object (not null, not a list). */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object at `path`; throws when it is anything else. */
export function requireObject(value: unknown, path: string): JsonObject {
  if (!isObject(value)) throw wrong(path, 'an object', value);
  return value;
}

/** An optional object: absent or null gives undefined. */
export function optionalObject(value: unknown, path: string): JsonObject | undefined {
  if (value === undefined || value === null) return undefined;
  return requireObject(value, path);
}

/**
 * An optional list: absent or null gives []. Go prints empty slices as `null`, so null lists
 * are normal in documents from machine-resources (MAAS itself would crash on some of them).
 */
export function optionalList(value: unknown, path: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw wrong(path, 'a list', value);
  return value;
}

/** A string that must be present. */
export function requireString(value: unknown, path: string): string {
  if (typeof value !== 'string') throw wrong(path, 'a string', value);
  return value;
}

/** An optional string: absent or null gives undefined. */
export function optionalString(value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  return requireString(value, path);
}

/** A finite number that must be present. */
export function requireNumber(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw wrong(path, 'a number', value);
  return value;
}

/** An optional finite number: absent or null gives undefined. */
export function optionalNumber(value: unknown, path: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  return requireNumber(value, path);
}

/** A non-negative integer that must be present (ids, indexes, sizes). */
export function requireCount(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw wrong(path, 'a non-negative integer', value);
  }
  return value;
}

/** An optional non-negative integer. */
export function optionalCount(value: unknown, path: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  return requireCount(value, path);
}

/** A boolean that must be present. */
export function requireBoolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw wrong(path, 'true or false', value);
  return value;
}

/** The NUMA node with `index` from the nodes this report describes, as MAAS looks it up. */
export function requireKnownNuma(known: ReadonlySet<number>, index: number, what: string): number {
  if (!known.has(index)) {
    throw new HookError(`${what} is on NUMA node ${index}, which the report's CPU and memory sections do not describe`);
  }
  return index;
}
