// What every fuzz target shares: how many cases to run (a few hundred in the test suite,
// FUZZ_RUNS when `npm run fuzz` asks for more), the outcome of one case (fine, a crash, a hang,
// an answer 500 or a broken rule), the tally per target, and generators that mutate valid inputs
// so the parsers' deeper paths are reached and not only their first check.
import { appendFileSync } from 'node:fs';
import fc from 'fast-check';

/** Cases per target asked for by `npm run fuzz`; 0 in an ordinary test run. */
export const FUZZ_RUNS = Number.parseInt(process.env.FUZZ_RUNS ?? '', 10) || 0;

/** Cases per target: FUZZ_RUNS when set, else the bounded number the test suite runs. */
export function caseCount(suiteRuns = 300): number {
  return FUZZ_RUNS > 0 ? FUZZ_RUNS : suiteRuns;
}

/** Time a whole target may take before vitest gives up on it. */
export const TARGET_TIMEOUT_MS = FUZZ_RUNS > 0 ? 4 * 60 * 60 * 1000 : 180_000;

/**
 * A case that has not finished after this long is a hang. It is a liveness bound, far above what
 * any case takes, not a performance measure.
 */
export const HANG_MS = 20_000;

/** Why a case failed: an exception other than the code's own typed errors, no end, a 500, a broken rule. */
export type ProblemKind = 'crash' | 'hang' | 'status500' | 'wrong';

export interface Problem {
  kind: ProblemKind;
  detail: string;
}

/** What one target ran and found. */
export interface Tally {
  target: string;
  cases: number;
  crash: number;
  hang: number;
  status500: number;
  wrong: number;
  /** The first few failing inputs, described. */
  examples: string[];
  /** Wall-clock seconds the target took. */
  seconds: number;
}

/** A problem, or nothing when the case was fine. */
export type Outcome = Problem | undefined;

/** The error classes a parser may throw for bad input; anything else thrown is a crash. */
export type ErrorClass = abstract new (...args: never[]) => Error;

/** Runs `fn`; undefined when it returned or threw one of `allowed`, else a crash naming the error. */
export async function onlyTyped(allowed: readonly ErrorClass[], fn: () => unknown): Promise<Outcome> {
  try {
    await fn();
    return undefined;
  } catch (error) {
    return typedOrCrash(error, allowed);
  }
}

/** Undefined when `error` is one of `allowed`, else a crash describing it. */
export function typedOrCrash(error: unknown, allowed: readonly ErrorClass[]): Outcome {
  if (allowed.some((kind) => error instanceof kind)) return undefined;
  const text = error instanceof Error ? `${error.name}: ${error.message}\n${error.stack?.split('\n').slice(1, 4).join('\n') ?? ''}` : String(error);
  return { kind: 'crash', detail: text };
}

/** A broken rule (round-trip mismatch, a write outside the directory…). */
export function wrong(detail: string): Problem {
  return { kind: 'wrong', detail };
}

class Hang extends Error {}

function withHangGuard<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Hang(`no end after ${HANG_MS} ms`)), HANG_MS);
  });
  return Promise.race([work, guard]).finally(() => clearTimeout(timer));
}

function describe(input: unknown): string {
  const text = fc.stringify(input);
  return text.length > 600 ? `${text.slice(0, 600)}… (${text.length} characters)` : text;
}

/**
 * Runs `check` on `caseCount(suiteRuns)` inputs from `arbitrary` and returns the tally. In the
 * test suite the first failure stops the run and fast-check shrinks it to a small example; under
 * `npm run fuzz` every case runs and every failure is counted. With FUZZ_REPORT set, the tally
 * is appended to that file as one JSON line.
 */
export async function fuzz<T>(target: string, arbitrary: fc.Arbitrary<T>, check: (input: T) => Outcome | Promise<Outcome>, suiteRuns = 300): Promise<Tally> {
  const tally: Tally = { target, cases: 0, crash: 0, hang: 0, status500: 0, wrong: 0, examples: [], seconds: 0 };
  const began = performance.now();
  const countAll = FUZZ_RUNS > 0;
  let shrinking = false;
  const property = fc.asyncProperty(arbitrary, async (input) => {
    if (!shrinking) tally.cases += 1;
    let outcome: Outcome;
    const started = performance.now();
    try {
      outcome = await withHangGuard(Promise.resolve().then(() => check(input)));
    } catch (error) {
      outcome = error instanceof Hang ? { kind: 'hang', detail: error.message } : typedOrCrash(error, []);
    }
    // A synchronous parser cannot be interrupted; one that overran the bound is a hang all the same.
    if (outcome === undefined && performance.now() - started > HANG_MS) outcome = { kind: 'hang', detail: `took ${Math.round(performance.now() - started)} ms` };
    if (outcome === undefined) return true;
    if (!shrinking) {
      tally[outcome.kind] += 1;
      if (tally.examples.length < 5) tally.examples.push(`${outcome.kind}: ${outcome.detail}\n  input: ${describe(input)}`);
    }
    if (countAll) return true;
    shrinking = true;
    return false;
  });
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
  try {
    await fc.assert(property, { numRuns: caseCount(suiteRuns), seed, endOnFailure: false, verbose: 0 });
  } catch (error) {
    // A run that stopped without a counted failure broke in the fuzzer itself (a generator threw).
    if (tally.crash + tally.hang + tally.status500 + tally.wrong === 0) tally.wrong += 1;
    // The shrunk counterexample is the clearest account of the failure: kept first.
    tally.examples.unshift(`smallest failing input found:\n${error instanceof Error ? error.message.split('\n').slice(0, 12).join('\n') : String(error)}`);
  }
  tally.seconds = Math.round((performance.now() - began) / 100) / 10;
  if (process.env.FUZZ_REPORT) appendFileSync(process.env.FUZZ_REPORT, `${JSON.stringify(tally)}\n`);
  return tally;
}

/** Failures of a tally, for an assertion whose message shows the examples. */
export function failures(tally: Tally): string {
  const count = tally.crash + tally.hang + tally.status500 + tally.wrong;
  if (count === 0) return '';
  return `${tally.target}: ${tally.crash} crashes, ${tally.hang} hangs, ${tally.status500} answers 500, ${tally.wrong} broken rules in ${tally.cases} cases\n${tally.examples.join('\n')}`;
}

// ---------------------------------------------------------------------------------------------
// Generators of near-valid inputs

/** Byte-level edits of a valid input: flips, inserts, deletions, cuts, repeats. */
export function mutatedBytes(base: Buffer | fc.Arbitrary<Buffer>, maxEdits = 4): fc.Arbitrary<Buffer> {
  const source: fc.Arbitrary<Buffer> = Buffer.isBuffer(base) ? fc.constant(base) : base;
  const edit = fc.record({
    op: fc.constantFrom('flip', 'set', 'insert', 'delete', 'truncate', 'repeat', 'interesting'),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 64 }),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    interesting: fc.constantFrom('\r\n', '\r\n\r\n', '"', '%', '%zz', '\0', '--', ';', '=', ',', '/', '../', 'ÿ', '\u2028', '{', '[', ':', '&', '?', '#', ' '),
  });
  return fc.tuple(source, fc.array(edit, { minLength: 1, maxLength: maxEdits })).map(([input, edits]) => {
    let bytes = Buffer.from(input);
    for (const e of edits) {
      const at = bytes.length === 0 ? 0 : e.at % (bytes.length + 1);
      switch (e.op) {
        case 'flip':
          if (at < bytes.length) bytes[at] = bytes[at]! ^ (1 << (e.length % 8));
          break;
        case 'set':
          bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(e.bytes), bytes.subarray(at + e.bytes.length)]);
          break;
        case 'insert':
          bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(e.bytes), bytes.subarray(at)]);
          break;
        case 'delete':
          bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + e.length)]);
          break;
        case 'truncate':
          bytes = bytes.subarray(0, at);
          break;
        case 'repeat':
          bytes = Buffer.concat([bytes.subarray(0, at + e.length), bytes.subarray(at, at + e.length), bytes.subarray(at + e.length)]);
          break;
        case 'interesting':
          bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(e.interesting, 'utf8'), bytes.subarray(at)]);
          break;
      }
    }
    return bytes;
  });
}

/** Text edits of a valid string (the same edits, on its UTF-8 bytes, read back as UTF-8). */
export function mutatedText(base: string | fc.Arbitrary<string>, maxEdits = 4): fc.Arbitrary<string> {
  const source = typeof base === 'string' ? fc.constant(Buffer.from(base, 'utf8')) : base.map((text) => Buffer.from(text, 'utf8'));
  return mutatedBytes(source, maxEdits).map((bytes) => bytes.toString('utf8'));
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Structural edits of a JSON document: a value replaced (often by one of another type), a key dropped, an array emptied. */
export function mutatedJson(base: unknown, maxEdits = 3): fc.Arbitrary<unknown> {
  const edit = fc.record({
    pick: fc.nat(),
    op: fc.constantFrom('replace', 'delete', 'empty', 'wrap', 'null'),
    value: fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom(-1, 0, 1.5, 2 ** 53, -(2 ** 63), 1e308, '', 'x'.repeat(300), '00:00:00:00:00:00', 'not-a-mac', '../x', [], {}, [{}], true),
    ),
  });
  return fc.array(edit, { minLength: 1, maxLength: maxEdits }).map((edits) => {
    const doc = structuredClone(base) as Json;
    for (const e of edits) {
      const slots: { parent: Json[] | Record<string, Json>; key: string | number }[] = [];
      const walk = (node: Json) => {
        if (Array.isArray(node)) {
          node.forEach((child, i) => {
            slots.push({ parent: node, key: i });
            walk(child);
          });
        } else if (node !== null && typeof node === 'object') {
          for (const [k, child] of Object.entries(node)) {
            slots.push({ parent: node, key: k });
            walk(child);
          }
        }
      };
      walk(doc);
      if (slots.length === 0) continue;
      const { parent, key } = slots[e.pick % slots.length]!;
      const current = (parent as Record<string | number, Json>)[key]!;
      const replacement: Json =
        e.op === 'replace' ? (e.value as Json) : e.op === 'null' ? null : e.op === 'empty' ? (Array.isArray(current) ? [] : typeof current === 'object' && current !== null ? {} : '') : e.op === 'wrap' ? [current] : current;
      if (e.op === 'delete') {
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete parent[key as string];
      } else (parent as Record<string | number, Json>)[key] = replacement;
    }
    return doc;
  });
}

/** Strings that often break parsers: empty, huge, control characters, separators, odd Unicode. */
export const nastyString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '\0', '\r\n', '"', "'", '\\', '%', '%00', '%zz', '%E0%A4%A', '..', '../../etc/passwd', '/', 'a'.repeat(5000), '\ud800', '\u202e', '🙂', 'undefined', 'null', '__proto__', 'constructor', 'NaN', '-1', '1e999', '0x10', ',', '=', ';'),
);
