// report-results as users run it: the built CLI as a subprocess against the bundled server on
// 127.0.0.1, often through the recording stand-in (test/helpers/fake-maas.ts) forwarding to it,
// which records requests and injects faults.
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { extract, pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MaasClient } from '../../src/maas/client.js';
import { parseCredentials } from '../../src/maas/credentials.js';
import { NodeStatus, ScriptResultStatus, type ScriptIndex, type ScriptIndexEntry } from '../../src/maas/types.js';
import { DEPLOY_INFO_SCRIPTS } from '../../src/resources/types.js';
import { createDeployInfoSet } from '../../src/server/routes/machines.js';
import { startMaasServer, type RunningServer } from '../../src/server/server.js';
import { CLI, runCli, type CliRun } from '../helpers/cli.js';
import { formData, oauthHeader } from '../server/server-harness.js';
import { startFakeMaas, type FakeMaas, type RecordedRequest } from '../helpers/fake-maas.js';
import { recordedRequests, WIRE_DIR as WIRE, type WireRequest } from '../helpers/wire.js';
import { useZoo, type Zoo } from '../helpers/zoo.js';
import { mountTmpfs, tmpfsUnavailable } from '../helpers/trees.js';
import { goneWithin } from '../helpers/processes.js';
import { deployedMachine as deployedMachineOf, FAST_RETRIES, startCliServer, stopCliServer, type DeployedMachine } from '../helpers/cli-server.js';



let server: RunningServer;
let admin: MaasClient;
let work: string;
let counter = 0;

beforeAll(async () => {
  ({ server, admin, work } = await startCliServer('report-results-'));
});
afterAll(() => stopCliServer(server, work));

type TestMachine = DeployedMachine;

/** A machine registered as Deployed (through `by`), with a creds file naming `baseUrl`. */
function deployedMachine(baseUrl = server.url, by = admin): Promise<TestMachine> {
  counter += 1; // names this test's other files
  return deployedMachineOf(by, work, baseUrl);
}

function report(machine: TestMachine, ...args: string[]): Promise<CliRun> {
  return runCli(['report-results', '--config', machine.creds, '--state-dir', machine.stateDir, ...args], { env: FAST_RETRIES });
}

/** The machine's stored results by script name. */
function storedResults(systemId: string) {
  const setId = server.store.getMachine(systemId)!.scriptSetId!;
  const decode = (b: string | null) => (b === null ? null : Buffer.from(b, 'base64').toString());
  return new Map(
    server.store.resultsOfSet(setId).map((r) => [r.name, { status: r.status, exitStatus: r.exitStatus, stdout: decode(r.stdout), stderr: decode(r.stderr), result: decode(r.result) }]),
  );
}

function storedResultId(systemId: string, name: string): number {
  const setId = server.store.getMachine(systemId)!.scriptSetId!;
  return server.store.resultsOfSet(setId).find((r) => r.name === name)!.id;
}

/** A request's multipart parts (none when it has no multipart body). */
function partsOf(request: RecordedRequest) {
  return request.multipart?.parts ?? [];
}

function signals(seen: RecordedRequest[]): RecordedRequest[] {
  return seen.filter((r) => r.method === 'POST' && partsOf(r).some((p) => p.name === 'op' && p.value.toString() === 'signal'));
}

function part(request: RecordedRequest, name: string): string | undefined {
  return partsOf(request).find((p) => p.name === name)?.value.toString();
}

/** The recording stand-in in front of the bundled server. */
function startProxy(): Promise<FakeMaas> {
  return startFakeMaas({ forwardTo: new URL(server.url).origin });
}

async function spoolFiles(machine: TestMachine): Promise<string[]> {
  const machines = await readdir(join(machine.stateDir, 'machines')).catch(() => []);
  const files: string[] = [];
  for (const m of machines) files.push(...(await readdir(join(machine.stateDir, 'machines', m, 'spool'))).filter((f) => f.endsWith('.json')));
  return files.sort();
}

/** A script to add to what the server sends. */
interface CustomScript {
  name: string;
  body: string;
  timeoutSeconds?: number;
  /** The result row it reports into (see addCustomResult). */
  resultId?: number;
  /** The index's path for it, when not commissioning/<name>. */
  path?: string;
}

/**
 * Adds a PENDING result for custom script `name` to the machine's deploy-info set, for a script
 * the scripts API cannot express (e.g. an index path outside the scripts directory): the script
 * itself reaches the client through the proxy's rewrite of the tarball (withScripts).
 */
function addCustomResult(systemId: string, name: string): number {
  const { store } = server;
  const id = store.nextId('result');
  store.putResult({
    id,
    systemId,
    scriptSetId: store.getMachine(systemId)!.scriptSetId!,
    name,
    scriptVersionId: null,
    status: ScriptResultStatus.PENDING,
    exitStatus: null,
    stdout: null,
    stderr: null,
    output: null,
    result: null,
    started: null,
    ended: null,
    runtime: null,
  });
  return id;
}

/** Uploads a commissioning script tagged deploy-info with the admin key (POST /MAAS/api/2.0/scripts/); returns its name. */
async function uploadScript(name: string, body: string, timeoutSeconds = 60): Promise<string> {
  const response = await fetch(`${server.url}/api/2.0/scripts/`, {
    method: 'POST',
    headers: { Authorization: oauthHeader(server.adminKey) },
    body: formData({ fields: { name, type: 'commissioning', tags: 'deploy-info', timeout: String(timeoutSeconds) }, files: { script: body } }),
  });
  if (response.status !== 200) throw new Error(`uploading script ${name}: HTTP ${response.status} ${await response.text()}`);
  return name;
}

/** Deletes an uploaded script with the admin key. */
async function deleteScript(name: string): Promise<void> {
  const response = await fetch(`${server.url}/api/2.0/scripts/${name}`, { method: 'DELETE', headers: { Authorization: oauthHeader(server.adminKey) } });
  if (response.status !== 204) throw new Error(`deleting script ${name}: HTTP ${response.status}`);
}

/** Rewrites a maas-scripts tarball: adds `scripts` as deploy-info scripts (or keeps only them). */
async function withScripts(tar: Buffer, scripts: CustomScript[], only = false): Promise<Buffer> {
  const members: { name: string; mode: number; body: Buffer }[] = [];
  const reader = extract();
  reader.end(tar);
  for await (const entry of reader) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    members.push({ name: entry.header.name, mode: entry.header.mode ?? 0o644, body: Buffer.concat(chunks) });
  }
  const indexMember = members.find((m) => m.name === 'index.json')!;
  const index = JSON.parse(indexMember.body.toString()) as ScriptIndex;
  const original = index['1.0'].commissioning_scripts ?? [];
  const added: ScriptIndexEntry[] = scripts.map((s) => {
    const base = original.find((e) => e.name === s.name);
    return { ...base, name: s.name, ...(s.resultId !== undefined ? { script_result_id: s.resultId } : {}), timeout_seconds: s.timeoutSeconds ?? 60, default: false, tags: ['deploy-info'], path: s.path ?? `commissioning/${s.name}`, has_started: false };
  });
  index['1.0'].commissioning_scripts = only ? added : [...original, ...added];
  const kept = members.filter((m) => m.name !== 'index.json' && (!only || !m.name.startsWith('commissioning/')));
  const packer = pack();
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const c of packer) out.push(Buffer.from(c as Uint8Array));
  })();
  for (const m of kept) packer.entry({ name: m.name, mode: m.mode }, m.body);
  for (const s of scripts) packer.entry({ name: `commissioning/${s.name}`, mode: 0o755 }, s.body);
  packer.entry({ name: 'index.json', mode: 0o644 }, JSON.stringify(index));
  packer.finalize();
  await done;
  return Buffer.concat(out);
}

/** A tarball with its index.json replaced by `index`. */
async function replaceIndex(tar: Buffer, index: unknown): Promise<Buffer> {
  const reader = extract();
  reader.end(tar);
  const packer = pack();
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const c of packer) out.push(Buffer.from(c as Uint8Array));
  })();
  for await (const entry of reader) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    const body = entry.header.name === 'index.json' ? Buffer.from(JSON.stringify(index)) : Buffer.concat(chunks);
    packer.entry({ name: entry.header.name, mode: entry.header.mode ?? 0o644 }, body);
  }
  packer.finalize();
  await done;
  return Buffer.concat(out);
}

describe('report-results against the bundled server', () => {
  it('reports this machine after register-machine: the server shows its CPUs, memory, disks and interfaces, Deployed; release makes it Ready', async () => {
    const dir = await mkdtemp(join(work, 'register-'));
    const stateDir = join(dir, 'state');
    // register-machine reports right away (docs/design.md requirement 3): no report-results run is
    // needed.
    const registered = await runCli(['register-machine', server.url, server.adminKey, '--dir', dir, '--hostname', 'this-host', '--state-dir', stateDir], { env: FAST_RETRIES });
    expect(registered.exitCode, registered.stderr).toBe(0);
    expect(registered.stdout).toMatch(/done: 6 delivered/);
    const [credsName] = (await readdir(dir)).filter((f) => f.endsWith('-creds.yaml'));
    const systemId = /metadata\/status\/([^/\s]+)/.exec(await readFile(join(dir, credsName!), 'utf8'))![1]!;

    const collected = await runCli(['collect', '--only', 'resources']);
    expect(collected.exitCode).toBe(0);
    const resources = JSON.parse(collected.stdout) as {
      resources: { cpu: { total: number }; memory: { total: number }; storage: { disks: { id: string; size: number }[] | null }; network: { cards: { ports?: { id: string; address?: string }[] }[] | null } };
    };
    const machine = await admin.readMachine(systemId);
    expect(machine.status_name).toBe('Deployed');
    expect(machine.cpu_count).toBe(resources.resources.cpu.total);
    expect(machine.memory).toBe(Math.floor(resources.resources.memory.total / 1024 / 1024));
    expect(machine.physicalblockdevice_set.map((d) => [d.name, d.size]).sort()).toEqual((resources.resources.storage.disks ?? []).map((d) => [d.id, d.size]).sort());
    const ports = (resources.resources.network.cards ?? []).flatMap((c) => c.ports ?? []);
    expect(ports.length).toBeGreaterThan(0);
    for (const port of ports) {
      expect(machine.interface_set.find((i) => i.name === port.id)?.mac_address).toBe(port.address);
    }
    expect((await admin.listMachines({})).filter((m) => m.system_id === systemId)).toHaveLength(1);

    const released = await admin.releaseMachine(systemId);
    expect(released.status_name).toBe('Ready');
  });

  it('delivers every result and exits 0 when whoever reads its progress has gone (report-results | head)', async () => {
    const machine = await deployedMachine();
    // Standard output is a pipe whose reading end is closed before anything is written.
    const child = execa(process.execPath, [CLI, 'report-results', '--config', machine.creds, '--state-dir', machine.stateDir], { env: FAST_RETRIES, reject: false, stdin: 'ignore' });
    child.stdout!.destroy();
    const ended = await child;
    expect([ended.exitCode, String(ended.stderr)]).toEqual([0, '']);
    expect([...storedResults(machine.systemId).values()].map((r) => r.status)).toEqual(DEPLOY_INFO_SCRIPTS.map(() => ScriptResultStatus.PASSED));
  });

  it('register-machine --no-report only registers: the results stay pending until report-results runs', async () => {
    const dir = await mkdtemp(join(work, 'no-report-'));
    const stateDir = join(dir, 'state');
    // A tree of its own (no NICs), so it is not taken for this host, which the test above registered.
    const root = join(dir, 'root');
    await mkdir(join(root, 'proc/sys/kernel'), { recursive: true });
    await writeFile(join(root, 'proc/sys/kernel/hostname'), 'quiet-host\n');
    const registered = await runCli(['register-machine', server.url, server.adminKey, '--dir', dir, '--root', root, '--no-report', '--state-dir', stateDir], { env: FAST_RETRIES });
    expect(registered.exitCode, registered.stderr).toBe(0);
    const [credsName] = (await readdir(dir)).filter((f) => f.endsWith('-creds.yaml'));
    const systemId = /metadata\/status\/([^/\s]+)/.exec(await readFile(join(dir, credsName!), 'utf8'))![1]!;
    expect([...storedResults(systemId).values()].map((r) => r.status)).toEqual(Array(6).fill(ScriptResultStatus.PENDING));

    const run = await runCli(['report-results', '--config', join(dir, credsName!), '--state-dir', stateDir, '--root', root], { env: FAST_RETRIES });
    expect(run.exitCode, run.stderr).toBe(0);
    expect([...storedResults(systemId).values()].every((r) => r.status !== ScriptResultStatus.PENDING)).toBe(true);
  });

  it('with --server-scripts runs exactly the scripts the server sends, in order, and the server derives the hardware from them', async () => {
    const machine = await deployedMachine();
    // The bundled server's scripts call `maas-run-scripts collect`: put this CLI on PATH for them.
    const bin = await mkdtemp(join(work, 'bin-'));
    await symlink(CLI, join(bin, 'maas-run-scripts'));
    const run = await runCli(['report-results', '--config', machine.creds, '--state-dir', machine.stateDir, '--server-scripts'], {
      env: { ...FAST_RETRIES, PATH: `${bin}:${process.env.PATH}` },
    });
    expect(run.exitCode, run.stderr).toBe(0);
    const ran = [...run.stdout.matchAll(/ ran (\S+): exit (\d+)/g)].map((m) => [m[1], m[2]]);
    expect(ran).toEqual(DEPLOY_INFO_SCRIPTS.map((name) => [name, '0']));
    expect(run.stdout).not.toContain('(built-in)');
    const collected = JSON.parse((await runCli(['collect', '--only', 'resources'])).stdout) as { resources: { cpu: { total: number } } };
    expect((await admin.readMachine(machine.systemId)).cpu_count).toBe(collected.resources.cpu.total);
    expect([...storedResults(machine.systemId).values()].map((r) => r.status)).toEqual(Array(6).fill(ScriptResultStatus.PASSED));
  });

  it('follows a changed hardware tree on every run and never creates a second machine', async () => {
    const [m1, m2] = await Promise.all([useZoo('m1'), useZoo('m2')]);
    const machine = await deployedMachine();
    const before = (await admin.listMachines({})).length;

    const first = await report(machine, '--root', m1.root);
    expect(first.exitCode, first.stderr).toBe(0);
    expect((await admin.readMachine(machine.systemId)).cpu_count).toBe(m1.expected.cpu.logical);
    expect((await admin.readMachine(machine.systemId)).memory).toBeLessThanOrEqual(m1.expected.memory_bytes / 1024 / 1024);

    const second = await report(machine, '--root', m2.root);
    expect(second.exitCode, second.stderr).toBe(0);
    const after = await admin.readMachine(machine.systemId);
    expect(after.cpu_count).toBe(m2.expected.cpu.logical);
    expect(after.physicalblockdevice_set).toHaveLength(m2.expected.disks.length);
    expect(after.status).toBe(NodeStatus.DEPLOYED);
    expect((await admin.listMachines({})).length).toBe(before);
  });

  it('runs a custom deploy-info script the server sends and stores its output, a failing one as FAILED with the machine still Deployed, and kills one past its timeout with its children', async () => {
    const proxy = await startProxy();
    const uploaded: string[] = [];
    try {
      const machine = await deployedMachine(proxy.url);
      const pidFile = join(work, `child-${counter}.pid`);
      // Uploaded as a MAAS administrator does; the server adds them to the machine's deploy-info
      // set when it next asks for its scripts. Deleted at the end so later machines get six.
      const scripts = [
        { name: '90-custom-ok', body: '#!/bin/sh\necho "custom says hi"\necho "status: passed" > "$RESULT_PATH"\n' },
        { name: '91-custom-exit3', body: '#!/bin/sh\necho "about to fail" >&2\nexit 3\n' },
        { name: '92-custom-hangs', timeoutSeconds: 1, body: `#!/bin/sh\nsleep 60 &\necho $! > '${pidFile}'\nsleep 60\n` },
      ];
      for (const s of scripts) uploaded.push(await uploadScript(s.name, s.body, s.timeoutSeconds));
      const run = await report(machine, '--metadata-url', proxy.origin);
      expect(run.exitCode, run.stderr).toBe(0);

      const stored = storedResults(machine.systemId);
      expect(stored.get('90-custom-ok')).toMatchObject({ status: ScriptResultStatus.PASSED, exitStatus: 0, stdout: 'custom says hi\n', result: 'status: passed\n' });
      expect(stored.get('91-custom-exit3')).toMatchObject({ status: ScriptResultStatus.FAILED, exitStatus: 3, stderr: 'about to fail\n' });
      expect(stored.get('92-custom-hangs')?.status).toBe(ScriptResultStatus.TIMEDOUT);
      expect((await admin.readMachine(machine.systemId)).status_name).toBe('Deployed');

      // docs/design.md D1: real exit codes with WORKING, 124 with TIMEDOUT; never FAILED or OK.
      const sent = signals(proxy.requests);
      expect(new Set(sent.map((r) => part(r, 'status')))).toEqual(new Set(['WORKING', 'TIMEDOUT']));
      const hung = sent.find((r) => part(r, 'name') === '92-custom-hangs')!;
      expect([part(hung, 'status'), part(hung, 'exit_status'), part(hung, 'error')]).toEqual(['TIMEDOUT', '124', 'Timeout(0:00:01) expired on 92-custom-hangs']);
      const failed = sent.find((r) => part(r, 'name') === '91-custom-exit3')!;
      expect([part(failed, 'status'), part(failed, 'exit_status'), part(failed, 'error')]).toEqual(['WORKING', '3', 'Failed to execute 91-custom-exit3: 3']);

      const child = Number(await readFile(pidFile, 'utf8'));
      expect(await goneWithin(child), `process ${child} still runs`).toBe(true);
    } finally {
      for (const name of uploaded) await deleteScript(name);
      await proxy.close();
    }
  });
});

describe('report-results interrupted', () => {
  it('on Ctrl-C kills the running script and its children, removes its temporary directory and lock, and dies of SIGINT', async () => {
    const machine = await deployedMachine();
    const tmp = await mkdtemp(join(work, 'tmp-'));
    const pids = join(work, `sleepy-${counter}.pids`);
    const name = await uploadScript('94-custom-sleeps', `#!/bin/sh\nsleep 300 &\necho "$$ $!" > '${pids}'\nsleep 300\n`, 600);
    try {
      // Started by hand (not runCli) to send it a signal mid-run; TMPDIR is watched for leftovers.
      const run = execa(process.execPath, [CLI, 'report-results', '--config', machine.creds, '--state-dir', machine.stateDir], {
        reject: false,
        stdin: 'ignore',
        env: { ...FAST_RETRIES, TMPDIR: tmp },
      });
      const started = Date.now();
      while (!(await readFile(pids, 'utf8').catch(() => '')).trim().includes(' ')) {
        if (Date.now() - started > 30_000) throw new Error('the custom script never started');
        await new Promise((r) => setTimeout(r, 50));
      }
      run.kill('SIGINT');
      const result = await run;
      expect(result.signal, String(result.stderr)).toBe('SIGINT');

      const [script, child] = (await readFile(pids, 'utf8')).trim().split(' ').map(Number);
      for (const pid of [script!, child!]) {
        expect(await goneWithin(pid), `process ${pid} still runs`).toBe(true);
      }
      expect(await readdir(tmp)).toEqual([]);
      const [state] = await readdir(join(machine.stateDir, 'machines'));
      const left = await readdir(join(machine.stateDir, 'machines', state!));
      expect(left).not.toContain('lock');
      expect((await readdir(join(machine.stateDir, 'machines', state!, 'spool'))).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
    } finally {
      await deleteScript(name);
    }
  });
});

describe('report-results and a hostile or broken tarball', () => {
  it('never runs a script whose index path leaves the scripts directory, and reports it as failed', async () => {
    const proxy = await startProxy();
    try {
      const machine = await deployedMachine();
      const marker = join(work, `escaped-${counter}`);
      const outside = join(work, `outside-${counter}.sh`);
      await writeFile(outside, `#!/bin/sh\ntouch '${marker}'\n`, { mode: 0o755 });
      const resultId = addCustomResult(machine.systemId, '93-escape');
      proxy.rewrite('maas-scripts', (tar) => withScripts(tar, [{ name: '93-escape', body: '#!/bin/sh\n', resultId, path: `../../../../../../..${outside}` }]));
      const run = await report(machine, '--metadata-url', proxy.origin);
      expect(run.exitCode, run.stderr).toBe(0);
      await expect(readFile(marker)).rejects.toThrow();
      expect(storedResults(machine.systemId).get('93-escape')).toMatchObject({ status: ScriptResultStatus.FAILED, exitStatus: 126 });
    } finally {
      await proxy.close();
    }
  });

  it('never writes outside its run directory for a script whose name climbs out of it, and reports the rest', async () => {
    const proxy = await startProxy();
    try {
      const machine = await deployedMachine();
      const target = join(work, `named-escape-${counter}`);
      const name = `../../../../../../../..${target}`;
      proxy.rewrite('maas-scripts', (tar) => withScripts(tar, [{ name, body: '#!/bin/sh\necho escaped\n', path: 'commissioning/50-maas-01-commissioning' }]));
      const run = await report(machine, '--metadata-url', proxy.origin);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stderr).toContain(`script ${JSON.stringify(name)} skipped: its name is not a plain file name`);
      for (const suffix of ['', '.out', '.err', '.yaml']) await expect(readFile(`${target}${suffix}`)).rejects.toThrow();
      expect(run.stdout).toMatch(/done: 6 delivered/);
    } finally {
      await proxy.close();
    }
  });

  it('fails in one line when no entry of the index is well formed, instead of reporting nothing and succeeding', async () => {
    const proxy = await startProxy();
    try {
      const machine = await deployedMachine();
      proxy.rewrite('maas-scripts', async (tar) => {
        const rewritten = await withScripts(tar, [], true);
        return replaceIndex(rewritten, { '1.0': { commissioning_scripts: [{ tags: ['deploy-info'] }, 'junk', { name: 7 }] } });
      });
      const run = await report(machine, '--metadata-url', proxy.origin);
      expect(run.exitCode).toBe(1);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toContain('none of its 3 entries has a name and a list of tags');
    } finally {
      await proxy.close();
    }
  });

  it('fails in one line naming the file and the fix when the state directory is full, and leaves no temporary file', async (context) => {
    const unavailable = await tmpfsUnavailable();
    if (unavailable) {
      console.warn(`skipped: the full state directory test: ${unavailable}`);
      context.skip();
    }
    const machine = await deployedMachine();
    await mkdir(machine.stateDir);
    const unmount = mountTmpfs(machine.stateDir, '32k');
    try {
      const run = await report(machine);
      expect(run.exitCode).toBe(1);
      const lines = run.stderr.trim().split('\n');
      expect(lines.at(-1)).toMatch(/^cannot write .*: no space left on device; free space in the state directory or choose another with --state-dir DIR$/);
      expect(run.stderr).not.toContain('unexpected error');
      const { stdout: leftovers } = await execa('find', [machine.stateDir, '-name', '.tmp-*']);
      expect(leftovers).toBe('');
    } finally {
      unmount();
    }
  });

  it('fails in one line on a tarball that is not a tar, and keeps the last good copy for offline runs', async () => {
    const proxy = await startProxy();
    try {
      const machine = await deployedMachine();
      expect((await report(machine, '--metadata-url', proxy.origin)).exitCode).toBe(0);
      proxy.rewrite('maas-scripts', () => Buffer.from('this is not a tarball at all, but long enough to look at'.repeat(20)));
      const broken = await report(machine, '--metadata-url', proxy.origin);
      expect(broken.exitCode).toBe(1);
      expect(broken.stderr.trim().split('\n')).toHaveLength(1);
      expect(broken.stderr).toMatch(/cannot parse the maas-scripts tarball/);

      proxy.rewrite('maas-scripts', undefined);
      await proxy.down();
      const offline = await report(machine, '--metadata-url', proxy.origin);
      await proxy.up();
      expect(offline.exitCode).toBe(1);
      expect(offline.stdout).toMatch(/ran resources \(built-in\)/);
      expect(await spoolFiles(machine)).toHaveLength(6);
    } finally {
      await proxy.close();
    }
  });
});

describe('report-results when MAAS fails', () => {
  let proxy: FakeMaas;
  beforeAll(async () => {
    proxy = await startProxy();
  });
  afterAll(() => proxy.close());

  it('spools the results while MAAS is down (exit 1, saying so) and delivers them first, exactly once, when it is back', async () => {
    const machine = await deployedMachine();
    await proxy.down();
    const down = await report(machine, '--metadata-url', proxy.origin);
    expect(down.exitCode).toBe(1);
    expect(down.stderr).toMatch(/cannot reach MAAS at .*connection refused.*6 result\(s\) are kept in .* and will be delivered by the next run/);
    expect(await spoolFiles(machine)).toHaveLength(6);
    expect(storedResults(machine.systemId).get('maas-lshw')?.status).toBe(ScriptResultStatus.PENDING);

    await proxy.up();
    proxy.requests.length = 0;
    const back = await report(machine, '--metadata-url', proxy.origin, '--json');
    expect(back.exitCode, back.stderr).toBe(0);
    const summary = JSON.parse(back.stdout) as { results: { name: string; from_spool: boolean; delivery: string }[] };
    const fromSpool = summary.results.filter((r) => r.from_spool);
    expect(fromSpool.map((r) => r.delivery)).toEqual(Array(6).fill('delivered'));
    // The spooled results go before this run even fetches its scripts, each once.
    const firstGet = proxy.requests.findIndex((r) => r.method === 'GET');
    const spooledSent = signals(proxy.requests.slice(0, firstGet)).map((r) => part(r, 'name'));
    expect(spooledSent.sort()).toEqual([...new Set(spooledSent)].sort());
    expect(spooledSent).toHaveLength(6);
    expect(signals(proxy.requests)).toHaveLength(12);
    expect(await spoolFiles(machine)).toEqual([]);
    expect(storedResults(machine.systemId).get('maas-lshw')?.status).not.toBe(ScriptResultStatus.PENDING);

    // Nothing is left to deliver twice: a full run (--force: unchanged results too) sends each result once.
    proxy.requests.length = 0;
    const again = await report(machine, '--metadata-url', proxy.origin, '--force');
    expect(again.exitCode).toBe(0);
    expect(signals(proxy.requests)).toHaveLength(6);
  });

  it('does not store a result twice when MAAS took it but the answer was lost', async () => {
    const machine = await deployedMachine();
    proxy.requests.length = 0;
    proxy.failNext(1, { status: 200, loseAnswer: true }, (r) => r.method === 'POST');
    const lost = await runCli(['report-results', '--config', machine.creds, '--state-dir', machine.stateDir, '--metadata-url', proxy.origin], {
      env: { ...FAST_RETRIES, MAAS_RUN_SCRIPTS_ATTEMPTS: '1' },
    });
    expect(lost.exitCode).toBe(1);
    const [first] = signals(proxy.requests);
    const name = part(first!, 'name')!;
    expect(storedResults(machine.systemId).get(name)?.status).toBe(ScriptResultStatus.PASSED);
    expect(await spoolFiles(machine)).toHaveLength(6);

    proxy.requests.length = 0;
    // --force: this test counts this run's own results too, unchanged or not.
    const next = await report(machine, '--metadata-url', proxy.origin, '--json', '--force');
    expect(next.exitCode, next.stderr).toBe(0);
    const summary = JSON.parse(next.stdout) as { results: { name: string; from_spool: boolean; delivery: string; note?: string }[] };
    expect(summary.results.find((r) => r.from_spool && r.name === name)).toMatchObject({ delivery: 'delivered', note: expect.stringMatching(/already stored/) });
    // The lost one is confirmed from the scripts tarball, not sent again: this run sends it once, as its own new result.
    expect(signals(proxy.requests).filter((r) => part(r, 'name') === name)).toHaveLength(1);
    expect(signals(proxy.requests)).toHaveLength(11);
    expect(await spoolFiles(machine)).toEqual([]);
  });

  it('waits as long as a 503 Retry-After asks before sending again', async () => {
    const machine = await deployedMachine();
    proxy.requests.length = 0;
    const isSignal = (r: RecordedRequest) => r.method === 'POST';
    proxy.failNext(1, { status: 503, headers: { 'Retry-After': '1' }, body: 'busy' }, isSignal);
    const run = await report(machine, '--metadata-url', proxy.origin);
    expect(run.exitCode, run.stderr).toBe(0);
    const sent = signals(proxy.requests);
    expect(sent[0]!.status).toBe(503);
    expect(part(sent[1]!, 'name')).toBe(part(sent[0]!, 'name'));
    // The retry delay is 0.05 s here; only Retry-After explains a full second.
    expect(sent[1]!.receivedAt - sent[0]!.receivedAt).toBeGreaterThanOrEqual(950);
    expect(sent.filter((r) => r.status === 200)).toHaveLength(6);
  });

  it('corrects its clock from the Date of a 401 and signs the next requests with the server time', async () => {
    // A MAAS whose clock is an hour ahead of this host's refuses the first request as expired.
    const hourAhead = () => new Date(Date.now() + 3600_000);
    const aheadServer = await startMaasServer({ port: 0, now: hourAhead });
    const aheadProxy = await startFakeMaas({ forwardTo: new URL(aheadServer.url).origin });
    try {
      const aheadAdmin = new MaasClient({ baseUrl: aheadServer.url, credentials: parseCredentials(aheadServer.adminKey, 'admin key') });
      const machine = await deployedMachine(aheadServer.url, aheadAdmin);
      const run = await report(machine, '--metadata-url', aheadProxy.origin);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/updated clock skew to 3[56]\d\d/);
      expect(aheadProxy.requests[0]!.status).toBe(401);
      const ahead = hourAhead().getTime() / 1000;
      expect(Math.abs(Number(aheadProxy.requests[1]!.oauth!.oauth_timestamp) - ahead)).toBeLessThan(30);
      expect(signals(aheadProxy.requests).filter((r) => r.status === 200)).toHaveLength(6);
      expect(signals(aheadProxy.requests).every((r) => Math.abs(Number(r.oauth!.oauth_timestamp) - ahead) < 60)).toBe(true);
    } finally {
      await aheadProxy.close();
      await aheadServer.close();
    }
  });

  it('reports a result MAAS rejects with a 4xx and drops it instead of retrying it forever', async () => {
    const machine = await deployedMachine();
    proxy.requests.length = 0;
    proxy.failNext(1, { status: 400, body: 'Invalid script_result_id' }, (r) => r.method === 'POST');
    const run = await report(machine, '--metadata-url', proxy.origin);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/MAAS rejected the result of 20-maas-03-machine-resources: .*HTTP 400.*Invalid script_result_id/);
    expect(await spoolFiles(machine)).toEqual([]);
    expect(signals(proxy.requests)).toHaveLength(6);

    // MAAS never took it, so the next run sends that result again (the others may be unchanged).
    proxy.requests.length = 0;
    const next = await report(machine, '--metadata-url', proxy.origin);
    expect(next.exitCode).toBe(0);
    expect(signals(proxy.requests).filter((r) => part(r, 'name') === '20-maas-03-machine-resources' && r.status === 200)).toHaveLength(1);
  });
});

describe('report-results on the wire', () => {
  const recorded = async (scenario: string): Promise<WireRequest[]> => recordedRequests(scenario);

  // The upstream recording's script: stdout and stderr lines, its MAAS environment on stderr, a result file.
  const FIXTURE_SCRIPT = [
    '#!/bin/sh',
    'echo "stdout line"',
    'echo "stderr line" >&2',
    'env | grep -E "^(DOWNLOAD_PATH|HAS_STARTED|MAAS_BASE_URL|MAAS_RESOURCES_FILE|OUTPUT_COMBINED_PATH|OUTPUT_STDERR_PATH|OUTPUT_STDOUT_PATH|RESULT_PATH|RUNTIME)=" | sort >&2',
    'echo "status: passed" > "$RESULT_PATH"',
    'exit ${EXIT_WITH:-0}',
    '',
  ].join('\n');

  async function runLikeTheRecording(exitWith: number): Promise<{ run: CliRun; seen: RecordedRequest[]; proxy: FakeMaas }> {
    const proxy = await startProxy();
    const machine = await deployedMachine();
    const resultId = storedResultId(machine.systemId, '50-maas-01-commissioning');
    proxy.rewrite('maas-scripts', (tar) => withScripts(tar, [{ name: '50-maas-01-commissioning', body: FIXTURE_SCRIPT, timeoutSeconds: 60, resultId }], true));
    const run = await runCli(['report-results', '--config', machine.creds, '--metadata-url', proxy.origin, '--state-dir', machine.stateDir, '--server-scripts'], {
      env: { ...FAST_RETRIES, EXIT_WITH: String(exitWith) },
    });
    await proxy.close();
    return { run, seen: proxy.requests, proxy };
  }

  /** Replaces what differs between any two runs (port, temp dir) by the recording's placeholders. */
  function normalise(text: string, port: string): string {
    return text.replaceAll(`127.0.0.1:${port}`, '127.0.0.1:PORT').replace(/\/[^\s=]*\/maas-run-scripts-[A-Za-z0-9]+/g, '$TMPDIR/run');
  }

  function shape(request: RecordedRequest, port: string) {
    return {
      method: request.method,
      path: request.path,
      oauthKeys: Object.keys(request.oauth ?? {}),
      parts: partsOf(request).map((p) => ({ name: p.name, filename: p.filename ?? null, content_type: p.contentType ?? null })),
      values: Object.fromEntries(partsOf(request).filter((p) => !['runtime', 'script_result_id', 'script_version_id'].includes(p.name)).map((p) => [p.name, normalise(p.value.toString(), port)])),
    };
  }

  function recordedShape(request: WireRequest) {
    return {
      method: request.method,
      path: request.path,
      oauthKeys: Object.keys(request.oauth ?? {}),
      parts: (request.multipart?.parts ?? []).map((p) => ({ name: p.name, filename: p.filename, content_type: p.content_type })),
      values: Object.fromEntries((request.multipart?.parts ?? []).filter((p) => !['runtime', 'script_result_id', 'script_version_id'].includes(p.name)).map((p) => [p.name, p.value ?? ''])),
    };
  }

  it('sends the same requests as the upstream client: scripts download, then one signal with the same fields, files and order', async () => {
    const [expected, { run, seen, proxy }] = await Promise.all([recorded('report-results-config'), runLikeTheRecording(0)]);
    expect(run.exitCode, run.stderr).toBe(0);
    const port = new URL(proxy.origin).port;
    expect(seen.map((r) => shape(r, port))).toEqual(expected.map(recordedShape));
    const post = seen[1]!;
    // Same framing: a 31-letter boundary, explicit length, no chunking; same OAuth header layout.
    expect(String(post.header('content-type'))).toMatch(/^multipart\/form-data; boundary=[A-Za-z]{31}$/);
    expect(Number(post.header('content-length'))).toBe(post.body.length);
    expect(post.oauth!.oauth_signature_method).toBe('PLAINTEXT');
    expect(String(post.header('authorization'))).toMatch(/^OAuth oauth_nonce="\d+", oauth_timestamp="\d+", oauth_version="1.0", oauth_signature_method="PLAINTEXT", oauth_consumer_key="[^"]+", oauth_token="[^"]+", oauth_signature="%26[^"]+"$/);
  });

  it('differs from upstream on purpose for a failing script: the real exit code and its error (docs/design.md D1)', async () => {
    const [expected, { run, seen, proxy }] = await Promise.all([recorded('report-results-script-fails'), runLikeTheRecording(3)]);
    expect(run.exitCode, run.stderr).toBe(0);
    const port = new URL(proxy.origin).port;
    const ours = shape(seen[1]!, port);
    const theirs = recordedShape(expected[1]!);
    // Upstream ignores the exit code and sends 0; we send 3 with MAAS's error text, still WORKING.
    expect(theirs.values.exit_status).toBe('0');
    expect(ours.values.exit_status).toBe('3');
    expect(ours.values.status).toBe('WORKING');
    expect(ours.values.error).toBe('Failed to execute 50-maas-01-commissioning: 3');
    const { error: _error, ...rest } = ours.values;
    expect({ ...rest, exit_status: '0' }).toEqual(theirs.values);
    expect(ours.parts.filter((p) => p.name !== 'error')).toEqual(theirs.parts);
  });

  it('ends with exit 1 and "No script returned" when MAAS has no scripts (204), as upstream does', async () => {
    const machine = await deployedMachine();
    const proxy = await startProxy();
    proxy.failNext(1, { status: 204 });
    const run = await report(machine, '--metadata-url', proxy.origin);
    await proxy.close();
    const expected = await recorded('report-results-no-scripts');
    expect(run.exitCode).toBe(Number((await readFile(join(WIRE, 'report-results-no-scripts', 'rc'), 'utf8')).trim()));
    expect(run.stderr).toContain((await readFile(join(WIRE, 'report-results-no-scripts', 'stderr'), 'utf8')).trim());
    expect(proxy.requests.map((r) => [r.method, r.path])).toEqual(expected.map((r) => [r.method, r.path]));
  });
});

describe('report-results usage', () => {
  it('exits 2 naming the fix when neither a config nor a URL is given', async () => {
    const run = await runCli(['report-results', '--machine-token', 'a:b:c']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/No MAAS URL set: pass --config FILE .* or --metadata-url URL/);
  });

  it('exits 2 on a malformed machine token without echoing it', async () => {
    const run = await runCli(['report-results', '--machine-token', 'only-one-part-s3cret', '--metadata-url', 'http://127.0.0.1:1/MAAS']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/--machine-token/);
    expect(run.stderr).not.toContain('s3cret');
  });

  it('prints one JSON summary with status, exit code, runtime, bytes and delivery per result', async () => {
    const machine = await deployedMachine();
    const run = await report(machine, '--json');
    expect(run.exitCode, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { ok: boolean; delivered: number; results: Record<string, unknown>[] };
    expect(summary.ok).toBe(true);
    expect(summary.delivered).toBe(6);
    for (const result of summary.results) {
      expect(Object.keys(result)).toEqual(expect.arrayContaining(['name', 'status', 'exit_status', 'runtime', 'bytes', 'delivery']));
      expect(result.delivery).toBe('delivered');
      expect(result.bytes as number).toBeGreaterThan(0);
    }
  });

  it('warns, naming chmod 600, when the creds file can be read by other users, and still reports with clean JSON on stdout', async () => {
    const machine = await deployedMachine();
    await chmod(machine.creds, 0o644);
    const open = await report(machine, '--json');
    expect(open.exitCode, open.stderr).toBe(0);
    expect((JSON.parse(open.stdout) as { ok: boolean }).ok).toBe(true);
    const warning = open.stderr.split('\n').filter((l) => l.includes(machine.creds));
    expect(warning).toHaveLength(1);
    expect(warning[0]).toMatch(/mode 0644.*chmod 600/);

    await chmod(machine.creds, 0o600);
    const closed = await report(machine, '--json');
    expect(closed.exitCode, closed.stderr).toBe(0);
    expect(closed.stderr).not.toContain(machine.creds);
  });

  it('writes nothing to the temporary directory when only the built-in collectors answer: it reports with TMPDIR pointing nowhere', async () => {
    const machine = await deployedMachine();
    const run = await runCli(['report-results', '--config', machine.creds, '--state-dir', machine.stateDir, '--json'], { env: { ...FAST_RETRIES, TMPDIR: join(work, 'no-such-dir') } });
    expect(run.exitCode, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as { delivered: number }).delivered).toBe(6);
  });

  it('fails in one line naming TMPDIR when a script from MAAS needs a run directory and none can be made, and leaves no state lock behind', async () => {
    const machine = await deployedMachine();
    const name = await uploadScript('93-custom-needs-a-directory', '#!/bin/sh\necho hi\n');
    try {
      const run = await runCli(['report-results', '--config', machine.creds, '--state-dir', machine.stateDir], { env: { ...FAST_RETRIES, TMPDIR: join(work, 'no-such-dir') } });
      expect(run.exitCode).toBe(1);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(/cannot create a temporary directory in .*no-such-dir: no such file or directory; set TMPDIR/);
      const [state] = await readdir(join(machine.stateDir, 'machines'));
      expect(await readdir(join(machine.stateDir, 'machines', state!))).not.toContain('lock');
    } finally {
      await deleteScript(name);
    }
  });

  it('logs plain timestamped lines when not on a terminal, one per collector', async () => {
    const machine = await deployedMachine();
    const run = await report(machine);
    expect(run.exitCode, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines.every((l) => /^\d{4}-\d\d-\d\dT[\d:.]+Z report-results (info|warning|error): /.test(l))).toBe(true);
    expect(lines.filter((l) => / ran \S+ \(built-in\): /.test(l)).length).toBeGreaterThanOrEqual(5);
  });
});

describe('report-results change-only sync', () => {
  // Trees of a real machine: every run reads the same hardware, byte for byte, unlike this host.
  let m1: Zoo;
  let proxy: FakeMaas;
  beforeAll(async () => {
    [m1, proxy] = await Promise.all([useZoo('m1'), startProxy()]);
  });
  afterAll(() => proxy?.close());

  interface Summary {
    ok: boolean;
    delivered: number;
    unchanged: number;
    results: { name: string; delivery: string; exit_status: number; bytes: number; from_spool: boolean }[];
  }

  /** Runs report-results through the recording proxy; its --json summary and the names it sent. */
  async function syncRun(machine: TestMachine, root: string, ...args: string[]): Promise<{ run: CliRun; summary: Summary; sent: string[] }> {
    proxy.requests.length = 0;
    const run = await report(machine, '--metadata-url', proxy.origin, '--root', root, '--json', ...args);
    const summary = JSON.parse(run.stdout) as Summary;
    return { run, summary, sent: signals(proxy.requests).map((r) => part(r, 'name')!) };
  }

  /** What a user sees of the machine in MAAS: its hardware and every stored result. */
  async function serverView(systemId: string) {
    const m = await admin.readMachine(systemId);
    return {
      machine: [m.status_name, m.cpu_count, m.memory, m.physicalblockdevice_set.map((d) => [d.name, d.size]), m.interface_set.map((i) => [i.name, i.mac_address])],
      results: [...storedResults(systemId)],
    };
  }

  /** Names of the results that did not succeed: those are always sent. */
  const failing = (summary: Summary) => summary.results.filter((r) => r.exit_status !== 0).map((r) => r.name);

  it('sends nothing on a second run over the same hardware except failed results, and the server keeps its data', async () => {
    const machine = await deployedMachine();
    const first = await syncRun(machine, m1.root);
    expect(first.run.exitCode, first.run.stderr).toBe(0);
    expect(first.sent.sort()).toEqual([...DEPLOY_INFO_SCRIPTS].sort());
    const before = await serverView(machine.systemId);

    const second = await syncRun(machine, m1.root);
    expect(second.run.exitCode, second.run.stderr).toBe(0);
    // On a captured tree no command runs, so lshw fails (127) and is sent every time, as any failure is.
    expect(failing(second.summary)).toEqual(['maas-lshw']);
    expect(second.sent).toEqual(failing(second.summary));
    const unchanged = second.summary.results.filter((r) => r.delivery === 'unchanged');
    expect(unchanged.map((r) => r.name).sort()).toEqual(DEPLOY_INFO_SCRIPTS.filter((n) => n !== 'maas-lshw').sort());
    expect(unchanged.every((r) => r.bytes === 0)).toBe(true);
    expect(second.summary).toMatchObject({ ok: true, unchanged: 5, delivered: 1 });
    expect(await serverView(machine.systemId)).toEqual(before);
  });

  it('sends only the results a hardware change touches, and the server follows: a disk removed from the tree', async () => {
    const machine = await deployedMachine();
    const tree = (await useZoo('m1')).root; // a tree of its own, changed below
    expect((await syncRun(machine, tree)).run.exitCode).toBe(0);
    const disks = (await admin.readMachine(machine.systemId)).physicalblockdevice_set.map((d) => d.name);
    expect(disks).toContain('vda');

    await rm(join(tree, 'sys/class/block/vda'));
    await rm(join(tree, 'sys/block/vda'));
    const changed = await syncRun(machine, tree);
    expect(changed.run.exitCode, changed.run.stderr).toBe(0);
    // The disk is in the resources document (answering two scripts); lshw fails on a tree and is always sent.
    expect(changed.sent.sort()).toEqual(['20-maas-03-machine-resources', '50-maas-01-commissioning', 'maas-lshw']);
    const after = (await admin.readMachine(machine.systemId)).physicalblockdevice_set.map((d) => d.name);
    expect(after.sort()).toEqual(disks.filter((d) => d !== 'vda').sort());
  });

  it('explains change-only sync and --force in its --help', async () => {
    const help = await runCli(['report-results', '--help']);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/--force +send every result/);
    expect(help.stdout).toMatch(/Change-only sync/);
    expect(help.stdout).toMatch(/"unchanged"/);
  });

  it('sends all six results with --force', async () => {
    const machine = await deployedMachine();
    expect((await syncRun(machine, m1.root)).run.exitCode).toBe(0);
    const forced = await syncRun(machine, m1.root, '--force');
    expect(forced.run.exitCode, forced.run.stderr).toBe(0);
    expect(forced.sent.sort()).toEqual([...DEPLOY_INFO_SCRIPTS].sort());
    expect(forced.summary).toMatchObject({ delivered: 6, unchanged: 0 });
  });

  it('sends unchanged results again once their last delivery is older than --max-age, and refuses a bad age', async () => {
    const machine = await deployedMachine();
    expect((await syncRun(machine, m1.root)).run.exitCode).toBe(0);
    const recent = await syncRun(machine, m1.root, '--max-age', '1');
    expect(recent.summary).toMatchObject({ delivered: 1, unchanged: 5 }); // lshw fails on a tree: always sent
    const due = await syncRun(machine, m1.root, '--max-age', '0');
    expect(due.run.exitCode, due.run.stderr).toBe(0);
    expect(due.sent.sort()).toEqual([...DEPLOY_INFO_SCRIPTS].sort());
    const bad = await runCli(['report-results', '--max-age', 'soon', '--metadata-url', server.url]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--max-age.*number of hours/);
  });

  it('sends everything again once MAAS has a new set of results for the machine (its earlier ones are gone)', async () => {
    const machine = await deployedMachine();
    expect((await syncRun(machine, m1.root)).run.exitCode).toBe(0);
    // As when MAAS starts a new script set for the machine: new, pending result rows.
    const { store } = server;
    store.putMachine({ ...store.getMachine(machine.systemId)!, scriptSetId: createDeployInfoSet(store, machine.systemId) });
    expect([...storedResults(machine.systemId).values()].every((r) => r.status === ScriptResultStatus.PENDING)).toBe(true);

    const after = await syncRun(machine, m1.root);
    expect(after.run.exitCode, after.run.stderr).toBe(0);
    expect(after.sent.sort()).toEqual([...DEPLOY_INFO_SCRIPTS].sort());
    expect([...storedResults(machine.systemId).values()].some((r) => r.status === ScriptResultStatus.PENDING)).toBe(false);
  });

  it('sends a result again when MAAS holds other data for it than this machine last delivered', async () => {
    const machine = await deployedMachine();
    expect((await syncRun(machine, m1.root)).run.exitCode).toBe(0);
    // Another client overwrote one result in place (same row, finished).
    const id = storedResultId(machine.systemId, 'maas-serial-ports');
    server.store.putResult({ ...server.store.getResult(id)!, stdout: Buffer.from('/dev/ttyS9\n').toString('base64') });

    const after = await syncRun(machine, m1.root);
    expect(after.sent.sort()).toEqual(['maas-lshw', 'maas-serial-ports']);
    expect(storedResults(machine.systemId).get('maas-serial-ports')?.stdout).not.toBe('/dev/ttyS9\n');
  });

  it('never takes a spooled result for unchanged: after an outage the spool is delivered, exactly once, and nothing more', async () => {
    const machine = await deployedMachine();
    expect((await syncRun(machine, m1.root)).run.exitCode).toBe(0);
    await proxy.down();
    const down = await report(machine, '--metadata-url', proxy.origin, '--root', m1.root);
    await proxy.up();
    expect(down.exitCode).toBe(1);
    expect(await spoolFiles(machine)).toHaveLength(6);

    const back = await syncRun(machine, m1.root);
    expect(back.run.exitCode, back.run.stderr).toBe(0);
    const fromSpool = back.summary.results.filter((r) => r.from_spool);
    expect(fromSpool.map((r) => r.delivery)).toEqual(Array(6).fill('delivered'));
    // This run's own results equal what the spool just delivered: only the failing one goes again.
    expect(back.sent.sort()).toEqual([...DEPLOY_INFO_SCRIPTS, 'maas-lshw'].sort());
    expect(back.summary.unchanged).toBe(5);
    expect(await spoolFiles(machine)).toEqual([]);
  });
});
