// The upstream client's requests recorded on the wire (test/fixtures/wire/<scenario>/requests.jsonl),
// typed for the fields the tests read.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WIRE_DIR } from './fixtures.js';

/** The folder of recorded scenarios, for tests that read a scenario's other files (rc, stderr). */
export { WIRE_DIR };

/** One multipart part as recorded: value as text, or value_b64 for bytes that are not UTF-8. */
export interface WirePart {
  name: string;
  filename: string | null;
  content_type: string | null;
  part_headers: string[];
  value: string | null;
  value_b64: string | null;
  size: number;
}

/** One recorded request and the status the recording server gave. */
export interface WireRequest {
  method: string;
  path: string;
  headers: [string, string][];
  body_len: number;
  oauth: Record<string, string> | null;
  multipart: { boundary: string; boundary_len: number; parts: WirePart[] } | null;
  response_status: number;
}

/** The requests of one scenario, in the order they were sent. */
export function recordedRequests(scenario: string): WireRequest[] {
  return readFileSync(join(WIRE_DIR, scenario, 'requests.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as WireRequest);
}

/** The names of the recorded scenarios: the folders (the README beside them is none). */
export function wireScenarios(): string[] {
  return readdirSync(WIRE_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
}

/** A recorded part's bytes. */
export function partBytes(part: WirePart): Buffer {
  return part.value_b64 !== null ? Buffer.from(part.value_b64, 'base64') : Buffer.from(part.value ?? '', 'utf8');
}
