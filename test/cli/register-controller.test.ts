// register-machine on a host that runs a MAAS controller (docs/design.md requirement 6): detected
// from the host's own files in a --root tree (the maas snap's mode or configuration, the Debian
// packages' configuration), the machine is locked and annotated through MAAS's own operations
// (op=set_workload_annotations, op=lock), idempotently — against the bundled server and against
// the recording stand-in's model of MAAS, which answers a second lock with 409 as MAAS does.
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MaasClient } from '../../src/maas/client.js';
import type { RunningServer } from '../../src/server/server.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { startFakeMaas, type FakeMaas, type RecordedRequest } from '../helpers/fake-maas.js';
import { link, writeTree, type Tree } from '../helpers/make-root.js';
import { startCliServer, stopCliServer } from '../helpers/cli-server.js';

let server: RunningServer;
let admin: MaasClient;
let work: string;
let counter = 0;
const fakes: FakeMaas[] = [];

beforeAll(async () => {
  ({ server, admin, work } = await startCliServer('mrs-controller-'));
});
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});
afterAll(() => stopCliServer(server, work));

/** A host tree named `hostname`, plus `files`. */
async function hostTree(hostname: string, files: Tree = {}): Promise<string> {
  const dir = join(work, `${hostname}-root`);
  await writeTree(dir, { 'proc/sys/kernel/hostname': `${hostname}\n`, 'proc/sys/kernel/ostype': 'Linux\n', ...files });
  return dir;
}

// The layouts a MAAS controller leaves on its host.
const snap = (mode: string | undefined, conf: string[] = []): Tree => {
  const tree: Tree = { 'snap/maas/32469/meta/snap.yaml': 'name: maas\n', 'snap/maas/current': link('/snap/maas/32469'), 'var/snap/maas/32469/.keep': '' };
  tree['var/snap/maas/current'] = link('/var/snap/maas/32469');
  if (mode !== undefined) tree['var/snap/maas/common/snap_mode'] = `${mode}\n`;
  for (const name of conf) tree[`var/snap/maas/32469/${name}`] = 'maas_url: http://10.0.0.2:5240/MAAS\n';
  return tree;
};
const deb = (packages: Record<string, string>, installed = true): Tree => {
  const tree: Tree = { 'var/lib/dpkg/info/base-files.list': '/etc\n' };
  for (const [pkg, conf] of Object.entries(packages)) {
    tree[`etc/maas/${conf}`] = 'maas_url: http://10.0.0.2:5240/MAAS\n';
    if (installed) tree[`var/lib/dpkg/info/${pkg}.list`] = `/etc/maas/${conf}\n`;
  }
  return tree;
};

function register(url: string, key: string, root: string, ...args: string[]): Promise<CliRun> {
  // --no-report: these tests are about the machine's state in MAAS, not its hardware.
  return runCli(['register-machine', url, key, '--no-report', '--root', root, '--dir', work, ...args], { env: { MAAS_RUN_SCRIPTS_ATTEMPTS: '2', MAAS_RUN_SCRIPTS_RETRY_DELAY: '0.05' } });
}

const systemIdOf = (run: CliRun) => /system ID: (\w+)/.exec(run.stdout)?.[1] ?? '';
const ops = (maas: FakeMaas, op: string): RecordedRequest[] => maas.requests.filter((r) => r.method === 'POST' && r.path.endsWith(`/?op=${op}`));
const fields = (request: RecordedRequest) => Object.fromEntries((request.multipart?.parts ?? []).map((p) => [p.name, p.value.toString()]));

const CASES: { name: string; files: Tree; annotation: string | undefined }[] = [
  { name: 'snap-all', files: snap('all'), annotation: 'region+rack' },
  { name: 'snap-region-rack', files: snap('region+rack'), annotation: 'region+rack' },
  { name: 'snap-rack', files: snap('rack', ['rackd.conf']), annotation: 'rack' },
  { name: 'snap-no-mode', files: snap(undefined, ['regiond.conf']), annotation: 'region' },
  { name: 'snap-none', files: snap('none', ['rackd.conf']), annotation: undefined },
  { name: 'deb-region-rack', files: deb({ 'maas-region-api': 'regiond.conf', 'maas-rack-controller': 'rackd.conf' }), annotation: 'region+rack' },
  { name: 'deb-rack', files: deb({ 'maas-rack-controller': 'rackd.conf' }), annotation: 'rack' },
  { name: 'deb-removed', files: deb({ 'maas-rack-controller': 'rackd.conf' }, false), annotation: undefined },
  { name: 'ordinary', files: {}, annotation: undefined },
];

describe('register-machine on a MAAS controller, against the bundled server', () => {
  it.each(CASES)('$name: locked and annotated exactly when the host runs a controller, and a second run changes nothing', async ({ name, files, annotation }) => {
    const root = await hostTree(`ctl-${name}-${++counter}`, files);
    const first = await register(server.url, server.adminKey, root);
    expect(first.exitCode, first.stderr).toBe(0);
    const systemId = systemIdOf(first);
    const machine = await admin.readMachine(systemId);
    expect(machine.locked).toBe(annotation !== undefined);
    expect(machine.workload_annotations).toEqual(annotation === undefined ? {} : { 'maas-controller': annotation });
    if (annotation !== undefined) {
      expect(first.stdout).toMatch(new RegExp(`This host runs a MAAS ${annotation.replace('+', '\\+')} controller`));
      expect(first.stdout).toMatch(/: locked$/m);
    } else {
      expect(first.stdout).not.toMatch(/This host runs|: (already )?locked$|workload annotation/m);
    }

    const again = await register(server.url, server.adminKey, root);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(systemIdOf(again)).toBe(systemId);
    expect(await admin.readMachine(systemId)).toMatchObject({ locked: machine.locked, workload_annotations: machine.workload_annotations });
    if (annotation !== undefined) {
      expect(again.stdout).toMatch(/: already locked$/m);
      expect(again.stdout).toMatch(/maas-controller=\S+ \(already so\)$/m);
    }
  });

  it('--lock and --annotate do the same for any host; an empty value removes a key', async () => {
    const root = await hostTree(`plain-${++counter}`);
    const run = await register(server.url, server.adminKey, root, '--lock', '--annotate', 'role=database', '--annotate', 'team=storage');
    expect(run.exitCode, run.stderr).toBe(0);
    const systemId = systemIdOf(run);
    expect(await admin.readMachine(systemId)).toMatchObject({ locked: true, workload_annotations: { role: 'database', team: 'storage' } });
    const removal = await register(server.url, server.adminKey, root, '--annotate', 'team=');
    expect(removal.exitCode, removal.stderr).toBe(0);
    expect((await admin.readMachine(systemId)).workload_annotations).toEqual({ role: 'database' });
  });

  it('refuses a malformed --annotate, and one contradicting the detected controller, before registering anything', async () => {
    const before = (await admin.listMachines({})).length;
    const root = await hostTree(`bad-${++counter}`, snap('rack'));
    for (const args of [['--annotate', 'novalue'], ['--annotate', 'maas-controller=region']]) {
      const run = await register(server.url, server.adminKey, root, ...args);
      expect(run.exitCode).toBe(2);
      expect(run.stderr.trim().split('\n').filter((l) => !l.startsWith('(run with'))).toHaveLength(1);
    }
    expect((await admin.listMachines({})).length).toBe(before);
  });
});

describe('register-machine on a MAAS controller, against the recording stand-in', () => {
  async function fake(): Promise<FakeMaas> {
    const maas = await startFakeMaas();
    fakes.push(maas);
    return maas;
  }

  it("sends MAAS's own set_workload_annotations and lock operations once, annotations first, and nothing on a second run", async () => {
    const maas = await fake();
    const root = await hostTree(`fake-ctl-${++counter}`, snap('region+rack'));
    const first = await register(maas.url, maas.adminKey, root);
    expect(first.exitCode, first.stderr).toBe(0);
    const systemId = systemIdOf(first);
    const [annotate] = ops(maas, 'set_workload_annotations');
    const [lock] = ops(maas, 'lock');
    expect(annotate!.path).toBe(`/MAAS/api/2.0/machines/${systemId}/?op=set_workload_annotations`);
    expect(fields(annotate!)).toEqual({ 'maas-controller': 'region+rack' });
    expect(lock!.path).toBe(`/MAAS/api/2.0/machines/${systemId}/?op=lock`);
    expect(maas.requests.indexOf(annotate!)).toBeLessThan(maas.requests.indexOf(lock!));
    for (const request of [annotate!, lock!]) expect(request.oauth?.oauth_signature_method).toBe('PLAINTEXT');
    expect(maas.machines[0]).toMatchObject({ locked: true, workload_annotations: { 'maas-controller': 'region+rack' } });

    const seen = maas.requests.length;
    const again = await register(maas.url, maas.adminKey, root);
    expect(again.exitCode, again.stderr).toBe(0);
    const later = maas.requests.slice(seen);
    expect(later.filter((r) => /op=(lock|set_workload_annotations)/.test(r.path))).toEqual([]);
  });

  it('takes the 409 MAAS gives when someone locked the machine meanwhile as done', async () => {
    const maas = await fake();
    // Someone locks the machine between our read and our lock.
    maas.intercept((request) => {
      if (request.path.endsWith('?op=lock')) for (const m of maas.machines) m.locked = true;
      return undefined;
    });
    const root = await hostTree(`fake-race-${++counter}`, deb({ 'maas-rack-controller': 'rackd.conf' }));
    const run = await register(maas.url, maas.adminKey, root);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(ops(maas, 'lock').map((r) => r.status)).toEqual([409]);
    expect(run.stdout).toMatch(/: already locked$/m);
  });

  it('an ordinary host is neither locked nor annotated', async () => {
    const maas = await fake();
    const root = await hostTree(`fake-plain-${++counter}`, deb({ 'maas-rack-controller': 'rackd.conf' }, false));
    const run = await register(maas.url, maas.adminKey, root);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(maas.requests.filter((r) => /op=(lock|set_workload_annotations)/.test(r.path))).toEqual([]);
    expect(maas.machines[0]).toMatchObject({ locked: false, workload_annotations: {} });
  });
});
