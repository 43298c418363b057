// Builds maas-run-scripts_<version>_<arch>.deb with dpkg-deb, for operators who deploy with apt
// or configuration management. It holds:
//   /usr/bin/maas-run-scripts                  the standalone executable (no Node needed)
//   /usr/share/man/man1/maas-run-scripts.1.gz  generated from the commands' --help
//   /lib/systemd/system/maas-run-scripts.{service,timer}   installed, not enabled
//   /var/lib/maas-run-scripts                  the state directory, mode 0700
//   /usr/share/doc/maas-run-scripts/copyright  the license
// No maintainer scripts: installing changes nothing on the host until the operator enables the
// timer. Run after `npm run build`:
//   node scripts/build-deb.mjs [--arch x64|arm64] [--executable FILE] [--output DIR]
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { manPageOf } from './build-man.mjs';

/** Debian's name for a Node architecture. */
export const DEB_ARCH = { x64: 'amd64', arm64: 'arm64' };

/**
 * The newest glibc symbol version an ELF executable asks for (e.g. "2.28"): the lowest libc6 it
 * runs with. Found by scanning for the version-need strings the dynamic linker checks.
 */
export function glibcNeeded(bytes) {
  let newest = [0, 0];
  const marker = Buffer.from('GLIBC_2.');
  for (let at = bytes.indexOf(marker); at >= 0; at = bytes.indexOf(marker, at + marker.length)) {
    const match = /^GLIBC_2\.(\d+)(?:\.(\d+))?\0/.exec(bytes.subarray(at, at + 16).toString('latin1'));
    if (!match) continue;
    const found = [Number(match[1]), Number(match[2] ?? 0)];
    if (found[0] > newest[0] || (found[0] === newest[0] && found[1] > newest[1])) newest = found;
  }
  if (newest[0] === 0) return undefined;
  return newest[1] === 0 ? `2.${newest[0]}` : `2.${newest[0]}.${newest[1]}`;
}

/** The control file's text. */
export function controlFile({ version, arch, maintainer, description, installedKiB, glibc }) {
  const [summary, ...rest] = description;
  return [
    'Package: maas-run-scripts',
    `Version: ${version}`,
    `Architecture: ${arch}`,
    `Maintainer: ${maintainer}`,
    `Installed-Size: ${installedKiB}`,
    `Depends: libc6 (>= ${glibc}), libstdc++6, libgcc-s1`,
    'Recommends: lshw, pciutils, usbutils',
    'Suggests: dmidecode',
    'Section: admin',
    'Priority: optional',
    `Description: ${summary}`,
    ...rest.map((line) => (line === '' ? ' .' : ` ${line}`)),
    '',
  ].join('\n');
}

function installedKiB(root) {
  let total = 0;
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const path = join(root, entry.name);
    total += entry.isDirectory() ? 1 + installedKiB(path) : Math.ceil(statSync(path).size / 1024);
  }
  return total;
}

function put(stage, path, mode, content) {
  const full = join(stage, path);
  mkdirSync(dirname(full), { recursive: true, mode: 0o755 });
  if (typeof content === 'string' || Buffer.isBuffer(content)) writeFileSync(full, content);
  else copyFileSync(content.copyOf, full);
  chmodSync(full, mode);
}

/** Builds the package and returns its path. */
export function buildDeb({ projectRoot = '.', arch = process.arch, executable, output = 'build' } = {}) {
  const debArch = DEB_ARCH[arch];
  if (!debArch) throw new Error(`no Debian architecture for "${arch}"; use --arch x64 or --arch arm64`);
  const standalone = executable ?? join(projectRoot, 'build', `maas-run-scripts-linux-${arch}`);
  let bytes;
  try {
    bytes = readFileSync(standalone);
  } catch {
    throw new Error(`the standalone executable ${standalone} is missing: run "npm run build" first (or pass --executable FILE)`);
  }
  const glibc = glibcNeeded(bytes);
  if (!glibc) throw new Error(`${standalone} is not a dynamically linked glibc executable (no GLIBC_2.x version needs found)`);
  bytes = undefined;

  const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8'));
  const license = readFileSync(join(projectRoot, 'LICENSE'), 'utf8');
  const commitDate = spawnSync('git', ['log', '-1', '--format=%cs'], { cwd: projectRoot, encoding: 'utf8' });
  const date = (commitDate.status === 0 && commitDate.stdout.trim()) || new Date().toISOString().slice(0, 10);
  const page = manPageOf(join(projectRoot, 'build', 'maas-run-scripts'), { version: pkg.version, date });

  const work = mkdtempSync(join(tmpdir(), 'maas-run-scripts-deb-'));
  const stage = join(work, 'stage');
  try {
    mkdirSync(stage, { mode: 0o755 });
    put(stage, 'usr/bin/maas-run-scripts', 0o755, { copyOf: standalone });
    put(stage, 'usr/share/man/man1/maas-run-scripts.1.gz', 0o644, gzipSync(page, { level: 9 }));
    for (const unit of ['maas-run-scripts.service', 'maas-run-scripts.timer']) {
      put(stage, `lib/systemd/system/${unit}`, 0o644, { copyOf: join(projectRoot, 'packaging', 'systemd', unit) });
    }
    put(
      stage,
      'usr/share/doc/maas-run-scripts/copyright',
      0o644,
      [
        'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
        'Upstream-Name: maas-run-scripts',
        '',
        'Files: *',
        `Copyright: ${pkg.author}`,
        `License: ${pkg.license}`,
        ...license.replace(/\s+$/, '').split('\n').map((line) => (line.trim() === '' ? ' .' : ` ${line}`)),
        '',
      ].join('\n'),
    );
    mkdirSync(join(stage, 'var/lib/maas-run-scripts'), { recursive: true });
    chmodSync(join(stage, 'var/lib/maas-run-scripts'), 0o700);

    const control = controlFile({
      version: pkg.version,
      arch: debArch,
      maintainer: pkg.author,
      installedKiB: installedKiB(stage),
      glibc,
      description: [
        'register running servers in MAAS and keep their hardware data current',
        'Brings Linux servers that already run a workload under MAAS management',
        'without disturbing them: registers each one as a Deployed machine (no',
        'reboot, no netboot), uploads its hardware inventory through the MAAS',
        'metadata API, and keeps it current from a systemd timer, using',
        "credentials limited to that one machine. A drop-in replacement for MAAS's",
        'maas-run-scripts client; this build needs no Node.js.',
        '',
        'The timer is installed but not enabled: put the creds file written by',
        'register-machine at /etc/maas/maas-machine-creds.yml, then run',
        'systemctl enable --now maas-run-scripts.timer.',
      ],
    });
    put(stage, 'DEBIAN/control', 0o644, control);

    mkdirSync(output, { recursive: true });
    const deb = join(output, `maas-run-scripts_${pkg.version}_${debArch}.deb`);
    // gzip: every dpkg since Ubuntu 20.04 reads it, and it is quick to make on a small builder.
    const built = spawnSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', stage, deb], { encoding: 'utf8' });
    if (built.error) throw new Error(`dpkg-deb could not be run (${built.error.message}): install the dpkg package`);
    if (built.status !== 0) throw new Error(`dpkg-deb failed: ${built.stderr.trim()}`);
    return deb;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const option = (flag) => {
    const at = args.indexOf(flag);
    return at >= 0 ? args[at + 1] : undefined;
  };
  try {
    const deb = buildDeb({ arch: option('--arch'), executable: option('--executable'), output: option('--output') });
    console.log(deb);
  } catch (error) {
    console.error(`build-deb: ${error.message}`);
    process.exit(1);
  }
}
