// `maas-run-scripts serve`: runs the bundled MAAS-compatible server so operators can try the tool
// without a real MAAS. It prints the MAAS URL and the admin API key: the one place a key is
// printed, on purpose, because the operator starting the server asked for it. Give the key in
// MAAS_ADMIN_KEY to keep it stable (and out of the output).
import { hostname } from 'node:os';
import { CliError, UsageError } from '../../errors.js';
import { standardOutput } from '../../files.js';
import type { ServerStartError } from '../../server/errors.js';

/** Options of the serve command. */
export interface ServeOptions {
  host: string;
  port: string;
  db?: string;
  /** List this host as a Deployed, locked machine annotated as the MAAS controller (docs/design.md requirement 6). */
  listController?: boolean;
  debug?: boolean;
}

/** Environment variable holding the admin API key ("ck:tk:ts") to use instead of a generated one. */
export const ADMIN_KEY_ENV = 'MAAS_ADMIN_KEY';

/** Starts the server and keeps running until SIGINT/SIGTERM; then closes it cleanly. */
export async function serve(options: ServeOptions, deps: { env?: NodeJS.ProcessEnv; stdout?: { write(text: string): unknown }; stderr?: { write(text: string): unknown } } = {}): Promise<void> {
  const env = deps.env ?? process.env;
  // Straight to descriptor 1: `serve | head -2` keeps the URL and key and lets the server run, as
  // what nobody reads any more is dropped instead of ending the server.
  const stdout = deps.stdout ?? standardOutput;
  const stderr = deps.stderr ?? process.stderr;
  const port = Number(options.port);
  if (!/^\d+$/.test(options.port) || port > 65535) throw new UsageError(`--port must be a number from 0 to 65535, got '${options.port}'`);
  const adminKey = env[ADMIN_KEY_ENV] || undefined;
  const { startMaasServer, ServerStartError: StartError } = await import('../../server/server.js');
  let running;
  try {
    running = await startMaasServer({
      host: options.host,
      port,
      db: options.db,
      adminKey,
      controllerHostname: options.listController ? hostname().split('.')[0] : undefined,
      log: (line) => stderr.write(`${new Date().toISOString()} ${line}\n`),
    });
  } catch (error) {
    if (error instanceof StartError) throw cliErrorOf(error);
    const code = (error as { code?: string }).code;
    if (code === 'EADDRINUSE') throw new UsageError(`cannot listen on ${options.host}:${port}: the port is in use; choose another with --port`);
    if (code === 'EACCES') throw new UsageError(`cannot listen on ${options.host}:${port}: permission denied; use a port above 1023`);
    if (code === 'EADDRNOTAVAIL') throw new UsageError(`cannot listen on ${options.host}: no such address on this machine; check --host`);
    throw error;
  }
  stdout.write(`MAAS URL: ${running.url}\n`);
  if (adminKey) stdout.write(`Admin API key: taken from ${ADMIN_KEY_ENV}\n`);
  else stdout.write(`Admin API key: ${running.adminKey}\n`);
  stdout.write(`State: ${options.db ? `SQLite file ${options.db}` : 'in memory (lost when the server stops; use --db FILE to keep it)'}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void running.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** The CLI's error for a server that cannot start: what the operator gave is at fault (exit 2), unless a module is missing (exit 1). */
function cliErrorOf(error: ServerStartError): CliError {
  if (error.code === 'MRS_SERVER_SQLITE_MISSING') return new CliError(error.message, { cause: error });
  return new UsageError(error.message, { cause: error });
}
