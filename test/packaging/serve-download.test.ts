// The operator's flow: `maas-run-scripts serve` (the single file, run alone from an empty
// directory) serves itself at /MAAS/maas-run-scripts; a host downloads it, makes it executable,
// and registers itself with the downloaded copy.
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, credsFileIn, ensureBundle, hostCpuCount, isolatedDir, PACKAGE_VERSION, readMachineAsAdmin, removeDirs, startServeFromCopy, stopServe, systemIdOf } from './packaging-helpers.js';


describe('serving and downloading the single-file CLI', () => {
  const dirs: string[] = [];
  let serve: ResultPromise | undefined;
  let bundle: string;
  beforeAll(() => {
    bundle = ensureBundle();
  });
  afterEach(async () => {
    await stopServe(serve);
    serve = undefined;
    removeDirs(dirs);
  });

  it('downloads from /MAAS/maas-run-scripts a copy that runs after chmod 755 and registers this machine', async () => {
    const started = startServeFromCopy(bundle, 'serve', dirs);
    serve = started.child;
    const { url, adminKey } = await started.ready;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/MAAS$/);

    // wget http://HOST:PORT/MAAS/maas-run-scripts && chmod 755 maas-run-scripts
    const response = await fetch(`${url}/maas-run-scripts`);
    expect(response.status).toBe(200);
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.equals(readFileSync(bundle))).toBe(true);
    const hostDir = isolatedDir('download', dirs);
    const cli = join(hostDir, 'maas-run-scripts');
    writeFileSync(cli, body);
    chmodSync(cli, 0o755);
    const options = { cwd: hostDir, env: cleanEnv(), extendEnv: false, reject: false, stdin: 'ignore', timeout: 120_000 } as const;

    const version = await execa(cli, ['--version'], options);
    expect(version.stdout.trim()).toBe(PACKAGE_VERSION);

    // register-machine reports the hardware right after registering (no --no-report).
    const registered = await execa(cli, ['register-machine', url, adminKey, '--dir', hostDir, '--state-dir', join(hostDir, 'state')], options);
    expect(registered.exitCode, registered.stderr).toBe(0);
    const creds = credsFileIn(hostDir);
    expect(statSync(creds).mode & 0o777).toBe(0o600);
    const machine = await readMachineAsAdmin(url, adminKey, systemIdOf(creds));
    expect(machine.status_name).toBe('Deployed');
    expect(machine.cpu_count).toBe(hostCpuCount());

    serve.kill('SIGTERM');
    const stopped = await serve;
    expect(stopped.exitCode).toBe(0);
  });
});
