// Captures what the resources collector reads on this machine as a small tree (files, symlinks
// and directories: no device nodes, no ids databases) packed as NAME.tar.gz, plus what
// independent tools say of the same hardware as NAME.truth.json, for the collector tests:
// `npm run build && node scripts/capture-tree.mjs test/fixtures/trees/NAME`. The archive keeps
// what git would not (empty directories). Review it before committing it: the capture keeps MACs
// and the host name; it drops or makes generic what describes the host's set-up or activity
// rather than its hardware (mounts other than of block devices and their options, interface
// traffic counters, block device serials, the kernel command line, the kernel's local version
// suffix and build host).
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { collectMachineResources } from '../dist/collectors/resources.js';
import { createHost } from '../dist/src/host/host.js';

const out = process.argv[2];
if (!out || existsSync(`${out}.tar.gz`) || existsSync(`${out}.truth.json`)) {
  console.error('usage: node scripts/capture-tree.mjs DIR/NAME (writes NAME.tar.gz and NAME.truth.json, which must not exist yet)');
  process.exit(2);
}
const tree = mkdtempSync(join(tmpdir(), 'capture-tree-'));
process.on('exit', () => rmSync(tree, { recursive: true, force: true })); // also when something throws

/** Not captured: large databases, physical memory, and a container runtime's marker file. */
const SKIPPED = ['/usr/share/', '/dev/mem', '/.dockerenv'];
/** Host-describing content replaced by what a test needs of it. */
const SANITISE = {
  // Only block-device mounts tell the storage collector anything, and not by their options.
  '/proc/self/mountinfo': (text) =>
    text
      .split('\n')
      .filter((line) => / - \S+ \/dev\//.test(line))
      .map((line) => `${line.replace(/ - (\S+) (\S+) \S+$/, ' - $1 $2 rw')}\n`)
      .join(''),
  // Interface names are kept, what went through them is not.
  '/proc/net/dev': (text) => text.replace(/^(\s*[^:\s]+:)(.*)$/gm, (_, name, counters) => `${name}${counters.replace(/\d+/g, '0')}`),
  '/proc/cmdline': () => 'console=ttyS0 quiet\n',
  // The kernel's build identity names where it was built, not the hardware: kept generic.
  '/proc/version': (text) => genericKernel(text).replace(/\(\S+@\S+\)/, '(builder@localhost)'),
  '/proc/sys/kernel/osrelease': (text) => genericKernel(text),
};

/** A kernel release with its local suffix replaced by "-generic" (6.8.0-45-foo → 6.8.0-45-generic). */
function genericKernel(text) {
  return text.replace(/\b(\d+\.\d+\.\d+(?:-\d+)?)[-+][\w.+-]*/, '$1-generic');
}

const inTree = (path) => join(tree, path);

function ensureDir(path) {
  mkdirSync(inTree(path), { recursive: true });
}

function copyLink(path) {
  if (existsSync(inTree(path)) || isLink(inTree(path))) return;
  ensureDir(posix.dirname(path));
  symlinkSync(readlinkSync(path), inTree(path));
}

function isLink(path) {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

function writeFile(path, withContent) {
  ensureDir(posix.dirname(path));
  if (!withContent) {
    if (!existsSync(inTree(path))) writeFileSync(inTree(path), '');
    return;
  }
  let bytes;
  try {
    bytes = readFileSync(path);
  } catch {
    return; // unreadable here: the collector saw it as absent too
  }
  const sanitise = SANITISE[path] ?? (/\/block\/[^/]+\/(device\/)?serial$/.test(path) ? () => 'CAPTURED-SERIAL\n' : undefined);
  writeFileSync(inTree(path), sanitise ? sanitise(bytes.toString('utf8')) : bytes);
}

/**
 * Recreates `path` in the tree: each symlink on the way as a link with its own target, each
 * directory as a directory, and the last component as a file (with content when asked).
 */
function materialise(path, withContent = false) {
  if (SKIPPED.some((p) => path.startsWith(p))) return;
  // The capturing process's own view (/proc/net is a link to it), kept under its own name
  // rather than under the capturing process's pid.
  if (path.startsWith('/proc/self/') || path.startsWith('/proc/net/')) return writeFile(path, withContent);
  const parts = path.split('/').filter(Boolean);
  let real = '/';
  for (let i = 0; i < parts.length; i += 1) {
    const next = posix.join(real, parts[i]);
    let info;
    try {
      info = lstatSync(next);
    } catch {
      return; // absent: absent in the tree too
    }
    if (info.isSymbolicLink()) {
      copyLink(next);
      try {
        real = realpathSync(next);
      } catch {
        return; // dangling
      }
      const target = lstatSync(real);
      if (target.isDirectory()) ensureDir(real);
      else if (i === parts.length - 1) writeFile(real, withContent);
    } else if (info.isDirectory()) {
      ensureDir(next);
      real = next;
    } else {
      writeFile(next, withContent && info.isFile());
      return;
    }
  }
}

/** A listed directory: its entries exist in the tree (links as links, files empty until read). */
function materialiseListing(dir) {
  materialise(dir);
  let real;
  try {
    real = realpathSync(dir);
  } catch {
    return;
  }
  for (const name of readdirSync(real)) {
    const entry = posix.join(real, name);
    const info = lstatSync(entry);
    if (info.isSymbolicLink()) copyLink(entry);
    else if (info.isDirectory()) ensureDir(entry);
    else writeFile(entry, false);
  }
}

// Record every path the collector asks the Host about, then rebuild them in the tree.
const host = createHost();
const asked = [];
const record = (kind, method) => {
  const original = host[method];
  host[method] = (path, ...rest) => {
    asked.push([kind, path]);
    return original(path, ...rest);
  };
};
for (const method of ['readText', 'readOptional', 'readRequired', 'readBytes']) record('content', method);
record('listing', 'list');
for (const method of ['readLink', 'resolve', 'exists', 'isDirectory']) record('entry', method);
host.run = async (file, args) => ({ command: [file, ...args].join(' '), exitCode: undefined, stdout: '', stderr: `${file}: not run while capturing`, timedOut: false, notFound: true, failed: true });
const { document } = await collectMachineResources(host);

for (const path of ['/proc/sys/kernel/ostype', '/proc/sys/kernel/hostname', '/proc/sys/kernel/osrelease', '/proc/version']) materialise(path, true);
for (const [kind, path] of asked) {
  if (kind === 'listing') materialiseListing(path);
  else materialise(path, kind === 'content');
}

// What tools other than ours say of the same hardware, for the tests to check against.
const tool = (file, args) => {
  try {
    return JSON.parse(execFileSync(file, args, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } }));
  } catch {
    return null;
  }
};
const groundTruth = {
  captured_with: 'scripts/capture-tree.mjs',
  nproc: Number(execFileSync('nproc', ['--all'], { encoding: 'utf8' }).trim()), // coreutils: always there
  lscpu: tool('lscpu', ['-J']),
  lsmem: tool('lsmem', ['-b', '-J', '--summary=never']),
  lsblk: tool('lsblk', ['-b', '-J', '-d', '-o', 'NAME,SIZE,TYPE,ROTA,RM,MODEL']),
  ip_link: tool('ip', ['-j', 'link']),
  pci_addresses: readdirSync('/sys/bus/pci/devices').sort(),
};
// Same content, same bytes: sorted, no owners, no times.
const archive = resolve(`${out}.tar.gz`);
chmodSync(tree, 0o755);
execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-I', 'gzip -n', '-cf', archive, '-C', tree, '.']);
writeFileSync(`${out}.truth.json`, `${JSON.stringify(groundTruth, null, 2)}\n`);
console.log(`captured ${asked.length} lookups into ${out}.tar.gz; resources document has ${document.resources.cpu.total} CPUs`);
