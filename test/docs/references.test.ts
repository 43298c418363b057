// Keeps code and documentation in step: every citation of docs/protocol.md (a section sign and
// number) and of docs/design.md (a decision D<n> or a requirement <n>) in a tracked file must name
// a heading that exists, section signs and D-numbers may only appear together with the document
// they belong to, and nothing may point at documents or fixtures kept outside the repository.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/cli.js';

const SECTION = '\u00a7';
const WIRE_DOC = 'docs/protocol.md';
const DECISIONS_DOC = 'docs/design.md';

// Written in pieces so that this file does not itself contain what it looks for.
const FORBIDDEN: { what: string; pattern: RegExp }[] = [
  { what: 'the old specification file', pattern: new RegExp(['PROTO', 'COL'].join('') + '\\.md') },
  { what: 'its part names', pattern: new RegExp('\\bPart ' + '[AB]\\b') },
  { what: 'a fixture directory outside the repository', pattern: new RegExp(['\\.\\.', '/shared'].join('')) },
];

// "docs/protocol.md §2.3", "docs/protocol.md §2.2, §2.4 and §2.8", "docs/protocol.md §5.2–§5.4".
const WIRE_RUN = new RegExp(`docs/protocol\\.md((?:[ ,/\u2013-]*(?:and |or )?${SECTION}\\d+(?:\\.\\d+)*)+)`, 'g');
// "docs/design.md D6", "docs/design.md D3 and D4", "docs/design.md requirement 4, D14".
const DECISION_RUN = /docs\/design\.md((?:[ ,/\u2013-]*(?:and |or )?(?:D\d+|requirements? \d+))+)/g;
const SECTION_ID = new RegExp(`${SECTION}(\\d+(?:\\.\\d+)*)`, 'g');
const BARE_SECTION = new RegExp(`${SECTION}\\s*\\d+(?:\\.\\d+)*`, 'g');
const DECISION_ID = /\bD\d+\b/g;

interface ScannedFile {
  path: string;
  /** The text with line breaks (and the comment markers after them) folded into spaces. */
  text: string;
}

/** Files git tracks (or, without git, every file outside build output and dependencies). */
function trackedFiles(): string[] {
  try {
    return execFileSync('git', ['ls-files', '-z'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  } catch {
    const skip = new Set(['.git', 'node_modules', 'dist', 'build', 'coverage']);
    const found: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (skip.has(entry.name)) continue;
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.isFile()) found.push(relative(PROJECT_ROOT, path).split(sep).join('/'));
      }
    };
    walk(PROJECT_ROOT);
    return found;
  }
}

function readText(path: string): string | undefined {
  const full = join(PROJECT_ROOT, path);
  // A tracked file deleted in the working tree is simply not there to check.
  if (!statSync(full, { throwIfNoEntry: false })?.isFile()) return undefined;
  const bytes = readFileSync(full);
  if (bytes.subarray(0, 8192).includes(0)) return undefined; // binary (compressed captures)
  return bytes.toString('utf8');
}

/** Section numbers of the headings of docs/protocol.md ("## 2. HTTP" → "2", "### 2.3 …" → "2.3"). */
function protocolSections(text: string): Set<string> {
  return new Set([...text.matchAll(/^#{2,4} (\d+(?:\.\d+)*)\.? /gm)].map((m) => m[1]!));
}

/** Decision ids (headings "### D<n> — …") and requirement numbers ("### Requirement <n> — …") of docs/design.md. */
function designTargets(text: string): { decisions: Set<string>; requirements: Set<string> } {
  return {
    decisions: new Set([...text.matchAll(/^### (D\d+) \u2014 /gm)].map((m) => m[1]!)),
    requirements: new Set([...text.matchAll(/^### Requirement (\d+) \u2014 /gm)].map((m) => m[1]!)),
  };
}

/** Every problem found, as "path: what", so a failure lists them all at once. */
type Problems = string[];

describe('references between the code and docs/', () => {
  let files: ScannedFile[];
  let sections: Set<string>;
  let decisions: Set<string>;
  let requirements: Set<string>;

  beforeAll(() => {
    files = [];
    for (const path of new Set([...trackedFiles(), WIRE_DOC, DECISIONS_DOC])) {
      const text = readText(path);
      if (text !== undefined) files.push({ path, text: text.replace(/[ \t]*\r?\n[ \t]*(?:\/\/ ?|\* ?|# ?)?/g, ' ') });
    }
    sections = protocolSections(readFileSync(join(PROJECT_ROOT, WIRE_DOC), 'utf8'));
    ({ decisions, requirements } = designTargets(readFileSync(join(PROJECT_ROOT, DECISIONS_DOC), 'utf8')));
  });

  it('finds the numbered headings, numbered from 1 without gaps', () => {
    // Citations stay valid only while numbers are neither skipped nor reused.
    const consecutive = (numbers: number[]) => numbers.sort((x, y) => x - y).every((n, i) => n === i + 1);
    const chapters = [...sections].filter((id) => !id.includes('.')).map(Number);
    expect(chapters.length).toBeGreaterThan(0);
    expect(consecutive(chapters)).toBe(true);
    for (const chapter of chapters) {
      const subsections = [...sections].filter((id) => id.split('.').length === 2 && id.startsWith(`${chapter}.`)).map((id) => Number(id.split('.')[1]));
      expect(consecutive(subsections), `subsections of ${SECTION}${chapter}`).toBe(true);
    }
    expect(decisions.size).toBeGreaterThan(0);
    expect(consecutive([...decisions].map((id) => Number(id.slice(1))))).toBe(true);
    expect(requirements.size).toBeGreaterThan(0);
    expect(consecutive([...requirements].map(Number))).toBe(true);
  });

  it('cites only sections that exist in docs/protocol.md', () => {
    const problems: Problems = [];
    for (const file of files) {
      for (const run of file.text.matchAll(WIRE_RUN)) {
        for (const [, id] of run[1]!.matchAll(SECTION_ID)) {
          if (!sections.has(id!)) problems.push(`${file.path}: ${run[0]} — there is no section ${id} in ${WIRE_DOC}`);
        }
      }
      // Inside docs/protocol.md a bare section sign refers to the document itself.
      if (file.path === WIRE_DOC) {
        for (const [, id] of file.text.matchAll(SECTION_ID)) {
          if (!sections.has(id!)) problems.push(`${file.path}: ${SECTION}${id} — there is no such section`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('cites only decisions and requirements that exist in docs/design.md', () => {
    const problems: Problems = [];
    for (const file of files) {
      for (const run of file.text.matchAll(DECISION_RUN)) {
        for (const [id] of run[1]!.matchAll(DECISION_ID)) {
          if (!decisions.has(id)) problems.push(`${file.path}: ${run[0]} — there is no decision ${id} in ${DECISIONS_DOC}`);
        }
        for (const [, list] of run[1]!.matchAll(/requirements? (\d+)/g)) {
          if (!requirements.has(list!)) problems.push(`${file.path}: ${run[0]} — there is no requirement ${list} in ${DECISIONS_DOC}`);
        }
      }
      // Inside docs/design.md a bare D-number refers to the document itself.
      if (file.path === DECISIONS_DOC) {
        for (const [id] of file.text.matchAll(DECISION_ID)) {
          if (!decisions.has(id)) problems.push(`${file.path}: ${id} — there is no such decision`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('names the document with every section sign and D-number it cites', () => {
    const problems: Problems = [];
    // Fixture data is other people's text (a Redfish mockup's certificate fields, for one).
    for (const file of files.filter((f) => !f.path.startsWith('test/fixtures/'))) {
      if (file.path !== WIRE_DOC) {
        for (const [bare] of file.text.replace(WIRE_RUN, ' ').matchAll(BARE_SECTION)) {
          problems.push(`${file.path}: "${bare}" — write "${WIRE_DOC} ${bare}" (or name the other standard in words)`);
        }
      }
      if (file.path !== DECISIONS_DOC) {
        for (const [bare] of file.text.replace(DECISION_RUN, ' ').matchAll(DECISION_ID)) {
          problems.push(`${file.path}: "${bare}" — write "${DECISIONS_DOC} ${bare}"`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('points at nothing kept outside the repository', () => {
    const problems: Problems = [];
    for (const file of files) {
      for (const { what, pattern } of FORBIDDEN) {
        if (pattern.test(file.text)) problems.push(`${file.path}: mentions ${what}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
