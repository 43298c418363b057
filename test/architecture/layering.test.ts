// The import rules of docs/architecture.md (section 2), checked on every import of src/ and
// collectors/: static imports, `export … from`, `import type`, dynamic `import()` and
// `import('…')` types, read with the TypeScript parser. A new folder must be given a layer here
// (and in the docs) before its files may import or be imported.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/cli.js';

/** The layers, from the command line down; a file belongs to the first whose pattern matches. */
const LAYERS = [
  ['cli', /^src\/cli\//],
  ['runner', /^src\/runner\//],
  ['redfish', /^src\/redfish\//],
  ['server', /^src\/server\//],
  ['collectors', /^collectors\//],
  // The two modules of src/maas the server may share with the client: wire types and OAuth.
  ['maas-shared', /^src\/maas\/(types|oauth)\.ts$/],
  ['maas', /^src\/maas\//],
  ['host', /^src\/host\//],
  ['resources', /^src\/resources\//],
  ['files', /^src\/files\.ts$/],
  ['errors', /^src\/errors\.ts$/],
  ['version', /^src\/version\.ts$/],
  // Whether the tool runs as the standalone executable, and its file names.
  ['standalone', /^src\/standalone\.ts$/],
  // Loading Node's own modules on first use: a leaf.
  ['builtin', /^src\/builtin\.ts$/],
] as const;

type Layer = (typeof LAYERS)[number][0];

/**
 * Which layers each layer may import, besides its own (docs/architecture.md, section 2). Nothing may
 * import `cli`: the command line sits on top, reached only from bin/ through src/cli/entry.ts.
 */
const ALLOWED: Record<Layer, readonly Layer[]> = {
  cli: ['runner', 'redfish', 'server', 'collectors', 'maas', 'maas-shared', 'host', 'resources', 'files', 'errors', 'version', 'standalone', 'builtin'],
  runner: ['collectors', 'maas', 'maas-shared', 'host', 'resources', 'files', 'errors', 'version', 'builtin'],
  redfish: ['collectors', 'resources', 'errors'],
  server: ['maas-shared', 'resources', 'errors', 'version', 'standalone'],
  collectors: ['host', 'resources', 'errors'],
  maas: ['maas-shared', 'files', 'errors', 'version', 'builtin'],
  'maas-shared': [],
  host: ['errors', 'builtin'],
  resources: [],
  // The one atomic file writer: a leaf beside errors, which it words its failures with.
  files: ['errors'],
  errors: [],
  version: [],
  standalone: ['builtin'],
  builtin: [],
};

/**
 * Imports that break a rule and are known to be on their way out, each named as "from → to"
 * (plus the names for the server rule). Each entry must still exist (a test below says when one
 * is gone). Empty: the commands no longer import each other and the server has its own errors.
 */
const KNOWN_UNTIL_MERGE: readonly string[] = [];

interface Import {
  from: string;
  /** The resolved .ts path relative to the project, or the bare specifier of a package. */
  to: string;
  /** The names it imports; '*' for a namespace, a re-export of everything or a dynamic import. */
  names: readonly string[] | '*';
}

interface Violation {
  rule: 'layer' | 'command imports command' | 'server imports the command line' | 'unresolved' | 'no layer';
  /** "from → to", plus the imported names for the server rule; what KNOWN_UNTIL_MERGE lists. */
  key: string;
}

function layerOf(path: string): Layer | undefined {
  return LAYERS.find(([, pattern]) => pattern.test(path))?.[0];
}

/** Every import of one source file, as written; `file` is its path relative to the project. */
function importsOf(file: string, text: string): { specifier: string | undefined; names: readonly string[] | '*' }[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: { specifier: string | undefined; names: readonly string[] | '*' }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      let names: string[] | '*' = [];
      if (clause?.name) names.push('default');
      if (clause?.namedBindings) {
        if (ts.isNamespaceImport(clause.namedBindings)) names = '*';
        else names.push(...clause.namedBindings.elements.map((e) => (e.propertyName ?? e.name).text));
      }
      found.push({ specifier: node.moduleSpecifier.text, names });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.exportClause;
      found.push({ specifier: node.moduleSpecifier.text, names: clause && ts.isNamedExports(clause) ? clause.elements.map((e) => (e.propertyName ?? e.name).text) : '*' });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const argument = node.arguments[0];
      found.push({ specifier: argument && ts.isStringLiteralLike(argument) ? argument.text : undefined, names: '*' });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push({ specifier: node.argument.literal.text, names: node.qualifier ? [ts.isIdentifier(node.qualifier) ? node.qualifier.text : node.qualifier.right.text] : '*' });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The project-relative .ts file a relative specifier names (`./x.js` → `dir/x.ts`). */
function resolveSpecifier(from: string, specifier: string): string {
  return normalize(join(dirname(from), specifier)).replace(/\.js$/, '.ts');
}

/** The classes of src/errors.ts that the command line maps to exit codes: CliError and all it derives. */
function cliErrorClasses(errorsSource: string): Set<string> {
  const source = ts.createSourceFile('src/errors.ts', errorsSource, ts.ScriptTarget.Latest, true);
  const parentOf = new Map<string, string | undefined>();
  for (const node of source.statements) {
    if (!ts.isClassDeclaration(node) || !node.name) continue;
    const base = node.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)?.types[0]?.expression;
    parentOf.set(node.name.text, base && ts.isIdentifier(base) ? base.text : undefined);
  }
  const isCli = (name: string | undefined): boolean => name === 'CliError' || (name !== undefined && isCli(parentOf.get(name)));
  return new Set([...parentOf.keys()].filter((name) => isCli(name)));
}

/** Checks every import of `files` (project-relative path → source text) against the rules. */
function checkLayering(files: ReadonlyMap<string, string>): { imports: Import[]; violations: Violation[] } {
  const imports: Import[] = [];
  const violations: Violation[] = [];
  const cliErrors = cliErrorClasses(files.get('src/errors.ts') ?? '');
  for (const [from, text] of files) {
    const fromLayer = layerOf(from);
    if (fromLayer === undefined) violations.push({ rule: 'no layer', key: from });
    for (const { specifier, names } of importsOf(from, text)) {
      if (specifier === undefined) {
        violations.push({ rule: 'unresolved', key: `${from} → import() of a computed name` });
        continue;
      }
      if (!specifier.startsWith('.')) {
        imports.push({ from, to: specifier, names });
        continue; // a package or a node: builtin
      }
      const to = resolveSpecifier(from, specifier);
      imports.push({ from, to, names });
      const toLayer = layerOf(to);
      if (!files.has(to) || toLayer === undefined) {
        violations.push({ rule: 'unresolved', key: `${from} → ${to}` });
        continue;
      }
      const key = `${from} → ${to}`;
      if (fromLayer !== undefined && toLayer !== fromLayer && !ALLOWED[fromLayer].includes(toLayer)) violations.push({ rule: 'layer', key });
      if (to === 'src/cli/entry.ts') violations.push({ rule: 'layer', key });
      if (from.startsWith('src/cli/commands/') && to.startsWith('src/cli/commands/') && to !== from) violations.push({ rule: 'command imports command', key });
      if (fromLayer === 'server') {
        if (toLayer === 'cli') violations.push({ rule: 'server imports the command line', key });
        if (to === 'src/errors.ts') {
          const taken = names === '*' ? ['*'] : names.filter((n) => cliErrors.has(n));
          if (taken.length > 0) violations.push({ rule: 'server imports the command line', key: `${key} (${taken.join(', ')})` });
        }
      }
    }
  }
  return { imports, violations };
}

/** The .ts files of src/ and collectors/ in this checkout, by project-relative path. */
function projectSources(): Map<string, string> {
  const files = new Map<string, string>();
  for (const top of ['src', 'collectors']) {
    for (const entry of readdirSync(join(PROJECT_ROOT, top), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
      const path = join(entry.parentPath, entry.name);
      files.set(relative(PROJECT_ROOT, path), readFileSync(path, 'utf8'));
    }
  }
  return files;
}

const unexpected = (violations: readonly Violation[], rule: Violation['rule']) =>
  violations.filter((v) => v.rule === rule && !KNOWN_UNTIL_MERGE.includes(v.key)).map((v) => v.key);

describe('the imports of src/ and collectors/', () => {
  const files = projectSources();
  const { imports, violations } = checkLayering(files);

  it('are read from every source file, static, type-only and dynamic ones alike', () => {
    expect(files.size).toBeGreaterThan(50);
    const own = imports.filter((i) => i.to.startsWith('src/') || i.to.startsWith('collectors/'));
    expect(own.length).toBeGreaterThan(200);
    // program.ts reaches each command by a dynamic import, so --help loads none of them.
    expect(imports.filter((i) => i.from === 'src/cli/program.ts' && i.to.startsWith('src/cli/commands/')).length).toBeGreaterThanOrEqual(6);
  });

  it('resolve to a file of a known layer', () => {
    expect(violations.filter((v) => v.rule === 'no layer' || v.rule === 'unresolved').map((v) => v.key)).toEqual([]);
  });

  it('go only where section 2 of docs/architecture.md lets each layer import', () => {
    expect(unexpected(violations, 'layer')).toEqual([]);
  });

  it('never take a command module from another one', () => {
    expect(unexpected(violations, 'command imports command')).toEqual([]);
  });

  it('never take anything of the command line into the server: no src/cli module, none of its error classes', () => {
    expect(unexpected(violations, 'server imports the command line')).toEqual([]);
  });

  it('leave no entry in KNOWN_UNTIL_MERGE that the code no longer has', () => {
    const current = new Set(violations.map((v) => v.key));
    expect(KNOWN_UNTIL_MERGE.filter((key) => !current.has(key))).toEqual([]);
  });
});

describe('the layering check on planted violations', () => {
  // A small tree that keeps the rules, then one file at a time that breaks one.
  const clean = new Map<string, string>([
    ['src/errors.ts', 'export class CliError extends Error {}\nexport class UsageError extends CliError {}\nexport class ParseError extends CliError {}\nexport function hasCode(): boolean { return false; }\n'],
    ['src/version.ts', "export const VERSION = '1';\n"],
    ['src/resources/types.ts', 'export interface MachineResources { api_version: string }\n'],
    ['src/maas/types.ts', 'export interface Credentials { consumerKey: string }\n'],
    ['src/maas/client.ts', "import type { Credentials } from './types.js';\nimport { CliError } from '../errors.js';\nexport type C = Credentials;\nexport const E = CliError;\n"],
    ['src/host/host.ts', "import { hasCode } from '../errors.js';\nexport const h = hasCode;\n"],
    ['collectors/cpu.ts', "import type { Host } from '../src/host/host.js';\nimport type { MachineResources } from '../src/resources/types.js';\nexport type X = [Host, MachineResources];\n"],
    ['src/server/server.ts', "import type { Credentials } from '../maas/types.js';\nimport { hasCode } from '../errors.js';\nexport type S = Credentials;\nexport const s = hasCode;\n"],
    ['src/runner/report.ts', "import type { X } from '../../collectors/cpu.js';\nimport { CliError } from '../errors.js';\nexport type R = X;\nexport const r = CliError;\n"],
    ['src/cli/entry.ts', "import './main.js';\n"],
    ['src/cli/main.ts', "export async function run() { return import('./commands/collect.js'); }\n"],
    ['src/cli/commands/collect.ts', "import { r } from '../../runner/report.js';\nexport const c = r;\n"],
    ['src/cli/commands/serve.ts', "export async function serve() { return import('../../server/server.js'); }\n"],
  ]);
  const plant = (path: string, text: string) => checkLayering(new Map([...clean, [path, text]])).violations.map((v) => `${v.rule}: ${v.key}`);

  it('finds nothing in a tree that keeps the rules', () => {
    expect(checkLayering(clean).violations).toEqual([]);
  });

  it('catches a collector importing src/maas, even for a type', () => {
    expect(plant('collectors/cpu.ts', "import type { Credentials } from '../src/maas/types.js';\n")).toEqual(['layer: collectors/cpu.ts → src/maas/types.ts']);
  });

  it('catches an import up the layers, also through export … from and a dynamic import()', () => {
    expect(plant('src/host/host.ts', "export { r } from '../runner/report.js';\n")).toEqual(['layer: src/host/host.ts → src/runner/report.ts']);
    expect(plant('src/maas/client.ts', "export async function f() { return import('../server/server.js'); }\n")).toEqual(['layer: src/maas/client.ts → src/server/server.ts']);
    expect(plant('src/runner/report.ts', "export type T = import('../cli/main.js').Run;\n")).toEqual(['layer: src/runner/report.ts → src/cli/main.ts']);
    expect(plant('src/files.ts', "import { h } from './host/host.js';\nexport const f = h;\n")).toEqual(['layer: src/files.ts → src/host/host.ts']);
  });

  it('catches a command importing another command', () => {
    expect(plant('src/cli/commands/serve.ts', "export async function serve() { return import('./collect.js'); }\n")).toEqual([
      'command imports command: src/cli/commands/serve.ts → src/cli/commands/collect.ts',
    ]);
  });

  it('catches the server importing a CLI module or a CLI error class, not the helpers beside them', () => {
    expect(plant('src/server/server.ts', "import { run } from '../cli/main.js';\nexport const s = run;\n")).toEqual([
      'layer: src/server/server.ts → src/cli/main.ts',
      'server imports the command line: src/server/server.ts → src/cli/main.ts',
    ]);
    expect(plant('src/server/server.ts', "import { hasCode, ParseError } from '../errors.js';\nexport const s = [hasCode, ParseError];\n")).toEqual([
      'server imports the command line: src/server/server.ts → src/errors.ts (ParseError)',
    ]);
    expect(plant('src/server/server.ts', "import * as errors from '../errors.js';\nexport const s = errors;\n")).toEqual(['server imports the command line: src/server/server.ts → src/errors.ts (*)']);
  });

  it('catches the server reaching past the shared MAAS modules into the client', () => {
    expect(plant('src/server/server.ts', "import type { C } from '../maas/client.js';\nexport type S = C;\n")).toEqual(['layer: src/server/server.ts → src/maas/client.ts']);
  });

  it('catches an import of the entry point, a missing file, a file of no layer and a computed import()', () => {
    expect(plant('src/cli/main.ts', "import './entry.js';\n")).toEqual(['layer: src/cli/main.ts → src/cli/entry.ts']);
    expect(plant('collectors/cpu.ts', "import { x } from './gone.js';\nexport const y = x;\n")).toEqual(['unresolved: collectors/cpu.ts → collectors/gone.ts']);
    expect(plant('src/extra/thing.ts', 'export const t = 1;\n')).toEqual(['no layer: src/extra/thing.ts']);
    expect(plant('src/runner/report.ts', 'export async function f(name: string) { return import(name); }\n')).toEqual(['unresolved: src/runner/report.ts → import() of a computed name']);
  });
});
