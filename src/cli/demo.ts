// The `npm start` demo: the bundled server on loopback (in memory), this machine registered (and
// so reported) by the single-file CLI run as a subprocess, as an operator runs it, then the
// machine as the server sees it. `--keep-serving` stays up and prints the URL and admin key.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { MaasClient } from '../maas/client.js';
import { parseCredentials, readCredsFile } from '../maas/credentials.js';
import { startMaasServer, type RunningServer } from '../server/server.js';
import { formatMachineSummary } from './machine-summary.js';

/** The port of a real MAAS, used by `--keep-serving` when free so the printed URLs look familiar. */
export const MAAS_PORT = 5240;

/** What the demo writes to and runs. */
export interface DemoDeps {
  /** The single-file CLI to run (default: the project's build/maas-run-scripts). */
  cli?: string;
  stdout?: { write(text: string): unknown };
  stderr?: { write(text: string): unknown };
}

/** A step that failed: the demo prints its one-line message and exits 1. */
class DemoError extends Error {}

/** Runs the demo with `argv` (after `npm start --`); resolves to the exit code. */
export async function runDemo(argv: readonly string[], deps: DemoDeps = {}): Promise<number> {
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const unknown = argv.filter((a) => a !== '--keep-serving' && a !== '--help' && a !== '-h');
  if (argv.includes('--help') || argv.includes('-h') || unknown.length > 0) {
    if (unknown.length > 0) stderr.write(`npm start: unknown option ${unknown[0]}; the only option is --keep-serving\n`);
    (unknown.length > 0 ? stderr : stdout).write('usage: npm start [-- --keep-serving]\n');
    return unknown.length > 0 ? 2 : 0;
  }
  const keepServing = argv.includes('--keep-serving');
  const cli = deps.cli ?? bundlePath();

  let server: RunningServer | undefined;
  const interrupted = interruption();
  try {
    if (!existsSync(cli)) throw new DemoError(`the single-file CLI ${cli} is missing: run npm run build first`);
    server = await startServer(keepServing);
    const secrets = [server.adminKey, server.adminKey.split(':')[2] ?? server.adminKey];
    stdout.write(`Bundled MAAS server listening on ${server.url} (state in memory, loopback only)\n`);
    const dir = await mkdtemp(join(tmpdir(), 'maas-run-scripts-demo-'));
    stdout.write(`Creds file and report state go to ${dir}\n\n`);

    const run = (args: string[]) => runCli(cli, args, { stdout, stderr, secrets, interrupted });
    const stateDir = join(dir, 'state');
    stdout.write(`$ maas-run-scripts register-machine ${server.url} <admin key> --dir ${dir} --state-dir ${stateDir}\n`);
    await run(['register-machine', server.url, server.adminKey, '--dir', dir, '--state-dir', stateDir]);
    const credsPath = await findCredsFile(dir);
    const { endpoint } = await readCredsFile(credsPath);
    const systemId = decodeURIComponent(/\/metadata\/status\/([^/]+)\/?$/.exec(endpoint)?.[1] ?? '');
    if (!systemId) throw new DemoError(`the creds file ${credsPath} names no machine (endpoint ${endpoint})`);

    // register-machine reports the hardware right after registering (docs/design.md D4): check it
    // did.
    if (!hasResults(server, systemId)) throw new DemoError(`register-machine left machine ${systemId} without hardware results: run it with --debug to see why`);

    const admin = new MaasClient({ baseUrl: server.url, credentials: parseCredentials(server.adminKey, 'admin key') });
    const machine = await admin.readMachine(systemId);
    stdout.write(`\nThe machine as the server sees it:\n${formatMachineSummary(machine, credsPath)}`);

    if (keepServing) {
      printTryIt(stdout, server, cli, systemId, credsPath, dir);
      await interrupted.promise;
      stdout.write('\nStopping the server.\n');
    }
    return 0;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    stderr.write(`npm start failed: ${redact(message.split('\n')[0] ?? '', server ? [server.adminKey] : [])}\n`);
    return 1;
  } finally {
    interrupted.dispose();
    await server?.close();
  }
}

// The one-shot demo takes any free port, so it never collides with a MAAS (or another demo) on
// this host; the interactive one prefers MAAS's own port so the documented URLs work as printed.
async function startServer(keepServing: boolean): Promise<RunningServer> {
  if (keepServing) {
    try {
      return await startMaasServer({ host: '127.0.0.1', port: MAAS_PORT, bundlePath: bundlePath() });
    } catch (error) {
      if ((error as { code?: string }).code !== 'EADDRINUSE') throw error;
    }
  }
  return startMaasServer({ host: '127.0.0.1', port: 0, bundlePath: bundlePath() });
}

/** The project's single-file CLI, build/maas-run-scripts (this module runs from src/ or dist/src/). */
export function bundlePath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = existsSync(join(here, '../../package.json')) ? resolve(here, '../..') : resolve(here, '../../..');
  return join(root, 'build', 'maas-run-scripts');
}

// A promise settled by the first SIGINT/SIGTERM; while it is armed those signals do not kill us.
function interruption(): { promise: Promise<void>; dispose(): void } {
  let onSignal: () => void = () => {};
  const promise = new Promise<void>((resolve) => (onSignal = () => resolve()));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    promise,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

// Runs the CLI as a subprocess, forwarding its output line by line with any secret masked.
async function runCli(
  cli: string,
  args: string[],
  io: { stdout: { write(text: string): unknown }; stderr: { write(text: string): unknown }; secrets: string[]; interrupted: { promise: Promise<void> } },
): Promise<void> {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let lastError = '';
  const forward = (stream: NodeJS.ReadableStream, to: { write(text: string): unknown }, isError: boolean) =>
    new Promise<void>((resolve) => {
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      lines.on('line', (line) => {
        const safe = redact(line, io.secrets);
        if (isError && safe.trim()) lastError = safe.trim();
        to.write(`${safe}\n`);
      });
      lines.on('close', resolve);
    });
  const stopChild = () => child.kill('SIGTERM');
  void io.interrupted.promise.then(stopChild);
  const [code, signal] = await Promise.all([
    new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (exitCode, exitSignal) => resolve([exitCode, exitSignal]));
    }),
    forward(child.stdout, io.stdout, false),
    forward(child.stderr, io.stderr, true),
  ]).then(([status]) => status);
  if (code === 0) return;
  const how = signal ? `was stopped by ${signal}` : `exited with ${code}`;
  throw new DemoError(`maas-run-scripts ${args[0]} ${how}${lastError ? `: ${lastError}` : ''}`);
}

async function findCredsFile(dir: string): Promise<string> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('-creds.yaml'));
  if (names.length !== 1) throw new DemoError(`register-machine left ${names.length} creds files in ${dir}, expected one`);
  return join(dir, names[0]!);
}

// True once the machine's current script set holds an uploaded result.
function hasResults(server: RunningServer, systemId: string): boolean {
  const machine = server.store.getMachine(systemId);
  if (!machine || machine.scriptSetId === null) return false;
  return server.store.resultsOfSet(machine.scriptSetId).some((r) => r.stdout !== null || r.output !== null || r.exitStatus !== null);
}

function printTryIt(out: { write(text: string): unknown }, server: RunningServer, cli: string, systemId: string, credsPath: string, dir: string): void {
  const shown = relative(process.cwd(), cli);
  const run = shown.startsWith('..') || shown === '' ? cli : `./${shown}`;
  const url = server.url;
  const key = server.adminKey;
  out.write(
    [
      '',
      `The server keeps running at ${url} until Ctrl-C (or SIGTERM).`,
      `Admin API key (printed because you asked for --keep-serving): ${key}`,
      '',
      'Try, from another terminal:',
      `  ${run} register-machine ${url} ${key} --dir ${dir}    # finds the machine again`,
      `  ${run} report-results --config ${credsPath}`,
      `  ${run} get-machine-token ${url} ${key} ${systemId} -`,
      `  ${run} get-machine-token --regenerate ${url} ${key} ${systemId} ${credsPath}`,
      `  ${run} collect --only resources --format yaml`,
      `  curl -fsS -o maas-run-scripts ${url}/maas-run-scripts && chmod 755 maas-run-scripts && ./maas-run-scripts --version`,
      '',
    ].join('\n'),
  );
}

// Masks every secret (and its token-secret part) in a line of output.
function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.split(secret).join('<hidden>');
  return out;
}
