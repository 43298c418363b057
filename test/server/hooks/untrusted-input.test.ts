// Reports come from machines, so any field may have any type: processing must then fail with a
// HookError naming the problem, never with a TypeError or similar crash.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HookError, emptyHardware, processResources } from '../../../src/server/hooks/process-resources.js';
import { MAAS_SAMPLES } from '../../helpers/fixtures.js';
import { compactReport } from './compact-report.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
const REPLACEMENTS: Json[] = [null, 'text', -1, 1.5, [], {}, true, '__proto__'];

// Every path to a value in the document, as a list of keys.
function paths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [prefix];
  const keys: (string | number)[] = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return [prefix, ...keys.flatMap((k) => paths((value as Record<string | number, Json>)[k] as Json, [...prefix, k]))];
}

function replaced(doc: Json, path: (string | number)[], replacement: Json): Json {
  const copy = structuredClone(doc);
  if (path.length === 0) return replacement;
  let parent = copy as Record<string | number, Json>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, Json>;
  parent[path[path.length - 1]!] = replacement;
  return copy;
}

function outcome(document: unknown): 'ok' | 'hook-error' | string {
  try {
    processResources({ document, previous: emptyHardware(), deployed: true });
    return 'ok';
  } catch (error) {
    if (error instanceof HookError && error.reason.length > 0 && !error.reason.includes('\n')) return 'hook-error';
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

describe('a report with a field of the wrong type', () => {
  const sample = JSON.parse(readFileSync(join(MAAS_SAMPLES, 'maas-sample-lp1939456.json'), 'utf8')) as Json;
  // The larger sample gets fewer replacements to keep the file fast.
  const cases: [string, Json, Json[]][] = [
    ['the compact example', compactReport() as Json, REPLACEMENTS],
    ['the lp1939456 sample', sample, [null, 'text']],
  ];
  for (const [name, doc, replacements] of cases) {
    it(`is processed or refused with a one-line HookError, whichever field of ${name} it is`, () => {
      const crashes: string[] = [];
      let refused = 0;
      for (const path of paths(doc)) {
        for (const replacement of replacements) {
          const result = outcome(replaced(doc, path, replacement));
          if (result === 'hook-error') refused += 1;
          else if (result !== 'ok') crashes.push(`${path.join('.')} = ${JSON.stringify(replacement)}: ${result}`);
        }
      }
      expect(crashes).toEqual([]);
      expect(refused).toBeGreaterThan(100);
    });
  }

  it('refuses a kernel architecture named like an object property', () => {
    const doc = compactReport();
    (doc.environment as Record<string, unknown>).kernel_architecture = 'constructor';
    expect(outcome(doc)).toBe('hook-error');
  });
});
