// `npm run package`: the Debian package operators install with apt or configuration management.
// Its metadata and contents are read back with dpkg-deb, and it is unpacked with `dpkg -x` into
// a temporary root, from where its executable runs with no node on PATH.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/cli.js';
import { installed } from '../helpers/trees.js';
import { ensureBundle, ensureStandalone, envWithoutNode, FOREIGN_ARCH, foreignRunner, isolatedDir, removeDirs } from './packaging-helpers.js';

const PKG = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string; license: string };
const DEB_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };
const haveDpkg = await installed('dpkg-deb');

describe.skipIf(!haveDpkg)('the Debian package', () => {
  const dirs: string[] = [];
  let deb: string;
  let root: string;

  let standalone: string;

  beforeAll(async () => {
    // The package is made of the standalone and of the single file's --help (for the man page).
    standalone = ensureStandalone();
    ensureBundle();
    const out = isolatedDir('deb', dirs);
    const built = await execa(process.execPath, ['scripts/build-deb.mjs', '--output', out], { cwd: PROJECT_ROOT, reject: false });
    expect(built.exitCode, built.stderr).toBe(0);
    deb = built.stdout.trim();
    root = isolatedDir('deb-root', dirs);
    await execa('dpkg', ['-x', deb, root]);
  }, 180_000);
  afterAll(() => removeDirs(dirs));

  it('is named and described for this version and architecture, and needs only the C and C++ runtimes', async () => {
    expect(deb.endsWith(`maas-run-scripts_${PKG.version}_${DEB_ARCH[process.arch]}.deb`)).toBe(true);
    const field = async (name: string) => (await execa('dpkg-deb', ['--field', deb, name])).stdout.trim();
    expect(await field('Package')).toBe('maas-run-scripts');
    expect(await field('Version')).toBe(PKG.version);
    expect(await field('Architecture')).toBe((await execa('dpkg', ['--print-architecture'])).stdout.trim());
    expect(await field('Recommends')).toBe('lshw, pciutils, usbutils');
    expect(await field('Maintainer')).toMatch(/^.+ <[^@\s]+@[^>\s]+>$/);
    const depends = await field('Depends');
    expect(depends).toMatch(/^libc6 \(>= 2\.\d+\), libstdc\+\+6, libgcc-s1$/);
    // The glibc version it asks for is the newest one the executable needs, read independently.
    if (await installed('objdump')) {
      const symbols = (await execa('objdump', ['-T', standalone])).stdout;
      const versions = [...symbols.matchAll(/GLIBC_2\.(\d+)(?:\.(\d+))?/g)].map((m) => [Number(m[1]), Number(m[2] ?? 0)] as const);
      versions.sort((a, b) => b[0] - a[0] || b[1] - a[1]);
      const [minor, patch] = versions[0]!;
      expect(depends).toContain(`libc6 (>= 2.${minor}${patch ? `.${patch}` : ''})`);
    }
    const installedKiB = Number(await field('Installed-Size'));
    expect(installedKiB).toBeGreaterThanOrEqual(Math.floor(statSync(standalone).size / 1024));
    // No maintainer scripts: installing changes nothing until the operator enables the timer.
    const control = (await execa('dpkg-deb', ['--info', deb])).stdout;
    expect(control).not.toMatch(/\b(preinst|postinst|prerm|postrm)\b/);
  });

  it('holds the executable, the man page, the systemd units, the state directory and the license, owned by root', async () => {
    const listing = (await execa('dpkg-deb', ['--contents', deb])).stdout.split('\n');
    const entries = new Map(
      listing.map((line) => {
        const [mode, owner, , , , path] = line.split(/\s+/);
        return [path!.replace(/^\.\//, '/').replace(/(.)\/$/, '$1'), { mode: mode!, owner: owner! }] as const;
      }),
    );
    const files = [...entries].filter(([, e]) => !e.mode.startsWith('d')).map(([path]) => path).sort();
    expect(files).toEqual([
      '/lib/systemd/system/maas-run-scripts.service',
      '/lib/systemd/system/maas-run-scripts.timer',
      '/usr/bin/maas-run-scripts',
      '/usr/share/doc/maas-run-scripts/copyright',
      '/usr/share/man/man1/maas-run-scripts.1.gz',
    ]);
    expect(entries.get('/usr/bin/maas-run-scripts')?.mode).toBe('-rwxr-xr-x');
    expect(entries.get('/lib/systemd/system/maas-run-scripts.timer')?.mode).toBe('-rw-r--r--');
    expect(entries.get('/var/lib/maas-run-scripts')?.mode).toBe('drwx------');
    for (const [path, entry] of entries) expect(`${path} ${entry.owner}`).toBe(`${path} root/root`);
    // Nothing under /etc: the timer is installed, not enabled.
    expect([...entries.keys()].filter((path) => path.startsWith('/etc'))).toEqual([]);

    const copyright = readFileSync(join(root, 'usr/share/doc/maas-run-scripts/copyright'), 'utf8');
    expect(copyright).toContain(`License: ${PKG.license}`);
    expect(copyright).toContain('GNU AFFERO GENERAL PUBLIC LICENSE');
  });

  it('runs from the unpacked tree on a host with no node on PATH', async () => {
    const bin = join(root, 'usr/bin/maas-run-scripts');
    const env = envWithoutNode(isolatedDir('deb-path', dirs));
    const version = await execa(bin, ['--version'], { env, extendEnv: false, reject: false, cwd: root });
    expect(version.stdout.trim(), version.stderr).toBe(PKG.version);
    const help = await execa(bin, ['report-results', '--help'], { env, extendEnv: false, reject: false, cwd: root });
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('--config <file>');
  });

  it("has a man page with a section for every command the executable's --help lists", async () => {
    const page = gunzipSync(readFileSync(join(root, 'usr/share/man/man1/maas-run-scripts.1.gz'))).toString('utf8');
    const help = (await execa(join(root, 'usr/bin/maas-run-scripts'), ['--help'])).stdout;
    const commands = [...help.slice(help.indexOf('Commands:')).matchAll(/^ {2}([a-z][a-z-]+)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    expect(commands).toContain('register-machine');
    for (const command of commands) expect(page).toContain(`.SS ${command.replace(/-/g, '\\-')}`);
    expect(page).toMatch(new RegExp(`^\\.TH MAAS-RUN-SCRIPTS 1 "\\d{4}-\\d\\d-\\d\\d" "maas-run-scripts ${PKG.version.replace(/\./g, '\\.')}"`));
    // Every option of a command's --help is in its section.
    const collectHelp = (await execa(join(root, 'usr/bin/maas-run-scripts'), ['collect', '--help'])).stdout;
    for (const option of collectHelp.match(/--[a-z-]+/g)!) expect(page).toContain(option.replace(/-/g, '\\-'));
    if (await installed('groff')) {
      const rendered = await execa('groff', ['-man', '-Tutf8', '-ww', '-z'], { input: page, reject: false });
      expect(rendered.stderr).toBe('');
      expect(rendered.exitCode).toBe(0);
    }
  });

  it('has a service that reports with the packaged executable at idle priority, and an hourly timer', () => {
    const service = readFileSync(join(root, 'lib/systemd/system/maas-run-scripts.service'), 'utf8');
    const exec = /^ExecStart=(\S+) (.*)$/m.exec(service);
    expect(exec?.[1]).toBe('/usr/bin/maas-run-scripts');
    expect(statSync(join(root, exec![1]!)).mode & 0o111).not.toBe(0);
    expect(exec?.[2]).toBe('report-results --config /etc/maas/maas-machine-creds.yml');
    expect(service).toMatch(/^Nice=19$/m);
    expect(service).toMatch(/^IOSchedulingClass=idle$/m);
    expect(service).toMatch(/^ConditionPathExists=\/etc\/maas\/maas-machine-creds\.yml$/m);
    const timer = readFileSync(join(root, 'lib/systemd/system/maas-run-scripts.timer'), 'utf8');
    expect(timer).toMatch(/^OnCalendar=hourly$/m);
    expect(timer).toMatch(/^Persistent=true$/m);
    expect(timer).toMatch(/^WantedBy=timers\.target$/m);
  });
});

describe('building the Debian package', () => {
  const dirs: string[] = [];
  afterAll(() => removeDirs(dirs));

  const foreign = foreignRunner();
  it.skipIf(!haveDpkg || 'skip' in foreign)(`packages the ${FOREIGN_ARCH} standalone with --arch ${FOREIGN_ARCH}, and it runs from the unpacked tree`, async () => {
    if ('skip' in foreign) return;
    const out = isolatedDir('deb-foreign', dirs);
    ensureBundle();
    const built = await execa(process.execPath, ['scripts/build-deb.mjs', '--arch', FOREIGN_ARCH, '--output', out], { cwd: PROJECT_ROOT, reject: false });
    expect(built.exitCode, built.stderr).toBe(0);
    const deb = built.stdout.trim();
    expect(deb.endsWith(`_${DEB_ARCH[FOREIGN_ARCH]}.deb`)).toBe(true);
    expect((await execa('dpkg-deb', ['--field', deb, 'Architecture'])).stdout.trim()).toBe(DEB_ARCH[FOREIGN_ARCH]);
    const root = isolatedDir('deb-foreign-root', dirs);
    await execa('dpkg', ['-x', deb, root]);
    const version = await execa(foreign.command, [...foreign.prefix, join(root, 'usr/bin/maas-run-scripts'), '--version'], { reject: false });
    expect(version.stdout.trim(), version.stderr).toBe(PKG.version);
  }, 180_000);
  if ('skip' in foreign) console.warn(`skipped: the ${FOREIGN_ARCH} package cannot be run here: ${foreign.skip}`);

  it('refuses in one line, naming the fix, when the standalone executable is missing', async () => {
    const out = isolatedDir('deb-missing', dirs);
    const built = await execa(process.execPath, ['scripts/build-deb.mjs', '--executable', join(out, 'absent'), '--output', out], { cwd: PROJECT_ROOT, reject: false });
    expect(built.exitCode).toBe(1);
    expect(built.stderr.trim().split('\n')).toHaveLength(1);
    expect(built.stderr).toContain('npm run build');
    expect(existsSync(join(out, `maas-run-scripts_${PKG.version}_${DEB_ARCH[process.arch]}.deb`))).toBe(false);
  });
});
