// `maas-run-scripts serve` run as users run it (the built CLI, a real port), and SQLite state
// that survives a restart.
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { ServerStartError } from '../../src/server/errors.js';
import { startMaasServer } from '../../src/server/server.js';
import { CLI, PROJECT_ROOT } from '../helpers/cli.js';
import { call, createDeployed, oauthHeader } from './server-harness.js';

const FIXED_KEY = 'ServeTestConsumer:ServeTestToken:ServeTestSecretServeTestSecret';

// Starts `serve` and resolves with the printed URL and key once it listens.
async function startServe(args: string[], env: Record<string, string> = {}) {
  const child = execa(process.execPath, [CLI, 'serve', '--port', '0', ...args], { reject: false, env, stdin: 'ignore' });
  let out = '';
  const started = await new Promise<{ url: string; keyLine: string }>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const url = /MAAS URL: (\S+)/.exec(out)?.[1];
      const keyLine = /Admin API key: (.*)\n/.exec(out)?.[1];
      if (url && keyLine) resolve({ url, keyLine });
    });
    void child.then((result) => reject(new Error(`serve exited early (${result.exitCode}): ${String(result.stderr)}`)));
  });
  return { ...started, child, output: () => out };
}

describe('the serve command', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('prints the MAAS URL and a working admin key, and stops cleanly on SIGTERM', async () => {
    const server = await startServe([]);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/MAAS$/);
    const key = server.keyLine.trim();
    expect(key).toMatch(/^[^:]+:[^:]+:[^:]+$/);
    const response = await fetch(`${server.url}/api/2.0/machines/`, { headers: { Authorization: oauthHeader(key) } });
    expect([response.status, await response.json()]).toEqual([200, []]);
    server.child.kill('SIGTERM');
    expect((await server.child).exitCode).toBe(0);
  });

  it('keeps serving after an unsigned enlistment whose body is cut off inside a multipart part without a name (the error of that part used to end the process)', async () => {
    const server = await startServe([]);
    try {
      const origin = new URL(server.url);
      const cut = '--b0\r\nContent-Disposition: form-data; filename="f"\r\n\r\nabc';
      const answer = await new Promise<string>((resolve) => {
        const socket = connect({ host: origin.hostname, port: Number(origin.port) });
        let text = '';
        socket.on('data', (chunk: Buffer) => void (text += chunk.toString('latin1')));
        socket.on('error', () => {});
        socket.on('close', () => resolve(text));
        socket.end(`POST /MAAS/api/2.0/machines/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: multipart/form-data; boundary=b0\r\nContent-Length: ${cut.length}\r\n\r\n${cut}`);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      const after = await fetch(`${server.url}/api/2.0/machines/`, { headers: { Authorization: oauthHeader(server.keyLine.trim()) } });
      expect(after.status).toBe(200);
      expect(server.child.exitCode).toBeNull();
    } finally {
      server.child.kill('SIGTERM');
      await server.child;
    }
  });

  it('prints no YAML library warning quoting what a machine or an admin sent (a result file, a script header)', async () => {
    const server = await startServe([]);
    let stderr = '';
    server.child.stderr!.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
    try {
      const endpoint = { url: server.url, adminKey: server.keyLine.trim() };
      const { token } = await createDeployed(endpoint, { hostname: 'warned' });
      // "&anchor:" is ambiguous YAML: the library warns, quoting the text it was given.
      const yaml = await call(endpoint, 'POST', '/metadata/2012-03-01/', token, { fields: { op: 'signal', status: 'WORKING', name: 'lshw', exit_status: '0' }, files: { 'lshw.yaml': 'status: &Machine-Text: passed\n' } });
      expect(yaml.status).toBe(200);
      const script = ['#!/bin/sh', '# --- Start MAAS 1.0 script metadata ---', '# name: 77-warned', '# parallel: &Admin-Text: instance', '# --- End MAAS 1.0 script metadata ---', 'true', ''].join('\n');
      const uploaded = await call(endpoint, 'POST', '/api/2.0/scripts/', endpoint.adminKey, { files: { '77-warned': script } });
      expect(uploaded.status).toBeLessThan(500);
      // Both requests were answered; anything printed by then is in stderr.
      expect(stderr).not.toMatch(/Warning|Machine-Text|Admin-Text/);
    } finally {
      server.child.kill('SIGTERM');
      await server.child;
    }
  });

  it('keeps its SQLite files, which hold every token secret, readable by the owner alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'serve-test-'));
    dirs.push(dir);
    const db = join(dir, 'state.db');
    // As under the usual umask 022, which would make new files readable by everyone.
    const server = await startServe(['--db', db], { MAAS_ADMIN_KEY: FIXED_KEY });
    const form = new FormData();
    form.set('hostname', 'secretive');
    form.set('deployed', 'true');
    const created = await fetch(`${server.url}/api/2.0/machines/`, { method: 'POST', body: form, headers: { Authorization: oauthHeader(FIXED_KEY) } });
    expect(created.status).toBe(200);
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['state.db', 'state.db-shm', 'state.db-wal']);
    for (const file of files) expect(`${file} ${(statSync(join(dir, file)).mode & 0o777).toString(8)}`).toBe(`${file} 600`);
    server.child.kill('SIGTERM');
    expect((await server.child).stderr).not.toContain('warning');
  });

  it('warns, naming the fix, when an existing SQLite file can be read by other users', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'serve-test-'));
    dirs.push(dir);
    const db = join(dir, 'shared.db');
    writeFileSync(db, '');
    chmodSync(db, 0o644);
    const server = await startServe(['--db', db], { MAAS_ADMIN_KEY: FIXED_KEY });
    server.child.kill('SIGTERM');
    const { stderr } = await server.child;
    expect(stderr).toContain(`warning: ${db} can be read by other users and holds every token secret: chmod 600 ${db}`);
    expect(stderr).not.toContain('ServeTestSecret');
  });

  it('takes the admin key from MAAS_ADMIN_KEY without printing it, and keeps SQLite state across restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'serve-test-'));
    dirs.push(dir);
    const db = join(dir, 'state.db');
    const first = await startServe(['--db', db], { MAAS_ADMIN_KEY: FIXED_KEY });
    expect(first.output()).not.toContain('ServeTestSecret');
    const form = new FormData();
    form.set('hostname', 'survivor');
    form.set('deployed', 'true');
    const created = (await (await fetch(`${first.url}/api/2.0/machines/`, { method: 'POST', body: form, headers: { Authorization: oauthHeader(FIXED_KEY) } })).json()) as { system_id: string };
    const token = (await (await fetch(`${first.url}/api/2.0/machines/${created.system_id}/?op=get_token`, { headers: { Authorization: oauthHeader(FIXED_KEY) } })).json()) as Record<string, string>;
    first.child.kill('SIGTERM');
    await first.child;

    const second = await startServe(['--db', db], { MAAS_ADMIN_KEY: FIXED_KEY });
    const listed = (await (await fetch(`${second.url}/api/2.0/machines/?hostname=survivor`, { headers: { Authorization: oauthHeader(FIXED_KEY) } })).json()) as { system_id: string; status_name: string }[];
    expect(listed.map((m) => [m.system_id, m.status_name])).toEqual([[created.system_id, 'Deployed']]);
    const machineKey = `${token.consumer_key}:${token.token_key}:${token.token_secret}`;
    expect((await fetch(`${second.url}/metadata/2012-03-01/maas-scripts`, { headers: { Authorization: oauthHeader(machineKey) } })).status).toBe(200);
    second.child.kill('SIGTERM');
    await second.child;
  });

  it('serves the single-file CLI at /MAAS/maas-run-scripts, anonymously', async () => {
    const server = await startServe([]);
    const response = await fetch(`${server.url}/maas-run-scripts`);
    const bundle = readFileSync(join(PROJECT_ROOT, 'build/maas-run-scripts'));
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer()).equals(bundle)).toBe(true);
    server.child.kill('SIGTERM');
    await server.child;
  });

  it('lists the host running the server as a locked Deployed machine annotated as the MAAS controller', async () => {
    const server = await startServe(['--list-controller'], { MAAS_ADMIN_KEY: FIXED_KEY });
    const machines = (await (await fetch(`${server.url}/api/2.0/machines/`, { headers: { Authorization: oauthHeader(FIXED_KEY) } })).json()) as {
      system_id: string;
      hostname: string;
      status_name: string;
      locked: boolean;
      workload_annotations: Record<string, string>;
    }[];
    expect(machines.map((m) => [m.hostname, m.status_name, m.locked, m.workload_annotations])).toEqual([
      [hostname().split('.')[0], 'Deployed', true, { 'maas-controller': 'region+rack' }],
    ]);
    const release = await fetch(`${server.url}/api/2.0/machines/${machines[0]!.system_id}/?op=release`, { method: 'POST', headers: { Authorization: oauthHeader(FIXED_KEY) } });
    expect(release.status).toBe(403);
    server.child.kill('SIGTERM');
    await server.child;
  });

  it('keeps serving when the reader of its output is gone before it prints (serve | head), without an error', async () => {
    const port = await freePort();
    const child = execa(process.execPath, [CLI, 'serve', '--port', String(port)], { reject: false, env: { MAAS_ADMIN_KEY: FIXED_KEY }, stdin: 'ignore' });
    child.stdout!.destroy(); // closed before the server writes its first line
    let status = 0;
    for (let tries = 0; tries < 200 && status !== 200; tries += 1) {
      status = await fetch(`http://127.0.0.1:${port}/MAAS/api/2.0/machines/`, { headers: { Authorization: oauthHeader(FIXED_KEY) } }).then(
        (response) => response.status,
        () => 0,
      );
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(200);
    expect(child.exitCode).toBeNull();
    child.kill('SIGTERM');
    const ended = await child;
    expect(ended.exitCode).toBe(0);
    expect(String(ended.stderr)).not.toMatch(/EPIPE|Error/);
  });

  it('refuses a port in use with a one-line error and exit code 2', async () => {
    const server = await startServe([]);
    const port = new URL(server.url).port;
    const second = await execa(process.execPath, [CLI, 'serve', '--port', port], { reject: false, stdin: 'ignore', timeout: 30_000 });
    expect(second.exitCode).toBe(2);
    expect(String(second.stderr).trim().split('\n')).toEqual([`cannot listen on 127.0.0.1:${port}: the port is in use; choose another with --port`]);
    server.child.kill('SIGTERM');
    await server.child;
  });

  it('refuses a malformed MAAS_ADMIN_KEY with a one-line error and exit code 2, never echoing the key', async () => {
    const run = await execa(process.execPath, [CLI, 'serve', '--port', '0'], { reject: false, stdin: 'ignore', timeout: 30_000, env: { MAAS_ADMIN_KEY: 'only:two-parts-SecretValue' } });
    expect(run.exitCode).toBe(2);
    expect(String(run.stderr).trim().split('\n')).toEqual(['the admin API key must look like consumer-key:token-key:token-secret (three non-empty parts without ":")']);
    expect(String(run.stdout) + String(run.stderr)).not.toContain('SecretValue');
  });

  it('gives its start-up refusals a code of its own, which the serve command turns into exit statuses', async () => {
    const refused = await startMaasServer({ port: 0, adminKey: 'no-colons' }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ServerStartError);
    expect(refused).toMatchObject({ code: 'MRS_SERVER_CONFIG' });
    expect(refused).not.toHaveProperty('exitCode');
  });

  it('refuses a --db path it cannot open, or a file that is not SQLite, with a one-line error naming the path and exit code 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'serve-test-'));
    dirs.push(dir);
    const notSqlite = join(dir, 'notes.txt');
    writeFileSync(notSqlite, 'these are notes, not a database\n'.repeat(20));
    for (const db of [join(dir, 'missing-dir', 'state.db'), notSqlite]) {
      const run = await execa(process.execPath, [CLI, 'serve', '--port', '0', '--db', db], { reject: false, stdin: 'ignore', timeout: 30_000 });
      const lines = String(run.stderr).trim().split('\n');
      expect([run.exitCode, lines.length]).toEqual([2, 1]);
      expect(lines[0]).toContain(db);
      expect(lines[0]).toContain('--db');
    }
    expect(readFileSync(notSqlite, 'utf8')).toBe('these are notes, not a database\n'.repeat(20));
  });

  it('replaces the admin key on a restart with another MAAS_ADMIN_KEY: the old key stops working', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'serve-test-'));
    dirs.push(dir);
    const db = join(dir, 'state.db');
    const first = await startServe(['--db', db], { MAAS_ADMIN_KEY: FIXED_KEY });
    first.child.kill('SIGTERM');
    await first.child;
    const rotated = 'RotatedConsumer:RotatedToken:RotatedSecretRotatedSecret';
    const second = await startServe(['--db', db], { MAAS_ADMIN_KEY: rotated });
    const list = (key: string) => fetch(`${second.url}/api/2.0/machines/`, { headers: { Authorization: oauthHeader(key) } }).then((r) => r.status);
    expect([await list(rotated), await list(FIXED_KEY)]).toEqual([200, 401]);
    second.child.kill('SIGTERM');
    await second.child;
    // Without MAAS_ADMIN_KEY, the key in force is the one printed.
    const third = await startServe(['--db', db]);
    expect(third.keyLine.trim()).toBe(rotated);
    third.child.kill('SIGTERM');
    await third.child;
  });
});

/** A TCP port nothing listens on now (the kernel's choice for port 0, released again). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
