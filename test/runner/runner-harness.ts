// In-process harness for the runner's tests: the real bundled server on 127.0.0.1 (port 0), the
// recording stand-in forwarding to it (for faults), Deployed machines with their tokens, and
// built-in collectors standing in for this host's with fixed output, so that what a run reads is
// the same every time (the real collectors have tests of their own).
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { DeployInfoCollector } from '../../collectors/types.js';
import { createHost } from '../../src/host/host.js';
import { MaasClient } from '../../src/maas/client.js';
import { parseCredentials } from '../../src/maas/credentials.js';
import type { Credentials } from '../../src/maas/types.js';
import type { CollectorSet } from '../../src/runner/produce.js';
import type { Progress, ResultSummary, RunSummary } from '../../src/runner/progress.js';
import type { ReportDeps, ReportOptions } from '../../src/runner/report.js';
import { runCollectors } from '../../src/runner/run-collectors.js';
import { startMaasServer, type RunningServer } from '../../src/server/server.js';
import { startFakeMaas, type FakeMaas, type RecordedRequest } from '../helpers/fake-maas.js';
import { compactReport } from '../server/hooks/compact-report.js';

/** The bundled server, the recording stand-in in front of it, an admin client and a work directory. */
export interface RunnerHarness {
  server: RunningServer;
  /** Forwards to `server`; tests make it fail, lose answers or go down. */
  proxy: FakeMaas;
  admin: MaasClient;
  work: string;
  close(): Promise<void>;
}

/**
 * Starts the harness before a file's tests and closes it after them; `use` receives it. The
 * stand-in's record of requests is cleared before each test.
 */
export function useRunnerHarness(use: (harness: RunnerHarness) => void): void {
  let started: RunnerHarness | undefined;
  beforeAll(async () => {
    started = await startRunnerHarness();
    use(started);
  });
  afterAll(() => started?.close());
  beforeEach(() => {
    if (started) started.proxy.requests.length = 0;
  });
}

export async function startRunnerHarness(): Promise<RunnerHarness> {
  const server = await startMaasServer({ host: '127.0.0.1', port: 0 });
  const proxy = await startFakeMaas({ forwardTo: new URL(server.url).origin });
  const admin = new MaasClient({ baseUrl: server.url, credentials: parseCredentials(server.adminKey, 'admin key') });
  const work = await mkdtemp(join(tmpdir(), 'runner-test-'));
  return {
    server,
    proxy,
    admin,
    work,
    async close() {
      await proxy.close();
      await server.close();
      await rm(work, { recursive: true, force: true });
    },
  };
}

/** A Deployed machine: its system id, machine credentials and a state directory of its own. */
export interface TestMachine {
  systemId: string;
  credentials: Credentials;
  stateDir: string;
}

let machines = 0;

export async function deployedMachine(h: RunnerHarness): Promise<TestMachine> {
  const machine = await h.admin.createMachine({ hostname: `runner-${++machines}`, deployed: 'true' });
  const token = (await h.admin.getMachineToken(machine.system_id))!;
  return {
    systemId: machine.system_id,
    credentials: { consumerKey: token.consumer_key, tokenKey: token.token_key, tokenSecret: token.token_secret, consumerSecret: '' },
    stateDir: join(h.work, `${machine.system_id}-state`),
  };
}

/** A metadata client for `machine` through the stand-in, making `attempts` briefly spaced attempts per request (a fault test takes well under a second). */
export function machineClient(h: RunnerHarness, machine: TestMachine, attempts = 2): MaasClient {
  return MaasClient.forMetadata(h.proxy.url, machine.credentials, {
    retry: { attempts, initialDelayMs: 10, maxDelayMs: 10, totalMs: 2000 },
    timeoutMs: 5000,
    log: () => undefined,
  });
}

/** A collector standing in for a built-in one, with fixed output. */
function fixed(name: string, scripts: DeployInfoCollector['scripts'], stdout: string, exitCode = 0): DeployInfoCollector {
  return { name, scripts, timeoutMs: 10_000, produce: async () => ({ stdout, stderr: exitCode === 0 ? '' : `${name} failed here\n`, exitCode }) };
}

/** The six deploy-info results from fixed output; with `lshwFails`, lshw exits 127 as on a machine without it. */
export function standInCollectors(options: { lshwFails?: boolean } = {}): CollectorSet {
  const collectors = [
    fixed('resources', ['20-maas-03-machine-resources', '50-maas-01-commissioning'], `${JSON.stringify(compactReport(), null, 4)}\n`),
    fixed('modaliases', ['maas-list-modaliases'], 'pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00\n'),
    fixed('lshw', ['maas-lshw'], options.lshwFails ? '' : '<?xml version="1.0" standalone="yes" ?>\n<list>\n</list>\n', options.lshwFails ? 127 : 0),
    fixed('serial-ports', ['maas-serial-ports'], '/sys/devices/pnp0/00:01/tty/ttyS0\n'),
    fixed('support-info', ['maas-support-info'], '-----BEGIN KERNEL INFO-----\nLinux\n-----END KERNEL INFO-----\n'),
  ];
  return {
    forScript: (name) => collectors.find((c) => (c.scripts as readonly string[]).includes(name)),
    run: (chosen, host, onOutcome) => runCollectors(chosen, host, onOutcome ? { onOutcome } : {}),
  };
}

/** A Progress that keeps what the run told the user. */
export interface RecordedProgress extends Progress {
  infos: string[];
  warnings: string[];
  lines: ResultSummary[];
  finished?: RunSummary;
}

export function recordingProgress(): RecordedProgress {
  const progress: RecordedProgress = {
    infos: [],
    warnings: [],
    lines: [],
    info: (message) => void progress.infos.push(message),
    warn: (message) => void progress.warnings.push(message),
    ran: () => undefined,
    delivered: (line) => void progress.lines.push(line),
    finish: (summary) => {
      progress.finished = summary;
    },
  };
  return progress;
}

/** The options and dependencies of a run of `machine` through the stand-in. */
export function runOf(h: RunnerHarness, machine: TestMachine, options: Partial<ReportOptions> = {}, collectors = standInCollectors()): { options: ReportOptions; deps: ReportDeps & { progress: RecordedProgress } } {
  return {
    options: { metadataUrl: h.proxy.url, credentials: machine.credentials, stateDir: machine.stateDir, serverScripts: false, debug: false, machineKey: `machine-${machine.systemId}`, ...options },
    deps: { client: machineClient(h, machine), host: createHost(), collectors, progress: recordingProgress() },
  };
}

/** The names of the results sent to the stand-in (signals), in order. */
export function signalsSent(requests: readonly RecordedRequest[]): string[] {
  const field = (r: RecordedRequest, name: string) => r.multipart?.parts.find((p) => p.name === name)?.value.toString();
  return requests.filter((r) => r.method === 'POST' && field(r, 'op') === 'signal').map((r) => field(r, 'name')!);
}

/** The script names waiting in a machine's spool. */
export async function spooled(machine: TestMachine): Promise<string[]> {
  const dir = join(machine.stateDir, 'machines', `machine-${machine.systemId}`, 'spool');
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).map((n) => decodeURIComponent(n.slice(0, -'.json'.length))).sort();
}

/** The status of each of the machine's stored results, by script name. */
export function storedStatuses(h: RunnerHarness, systemId: string): Map<string, number> {
  const { store } = h.server;
  const setId = store.getMachine(systemId)!.scriptSetId!;
  return new Map(store.resultsOfSet(setId).map((r) => [r.name, r.status]));
}
