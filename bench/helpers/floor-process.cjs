// The floor of a report-results run, run as its own process by bench/report-results.mjs: a Node
// process that does only what no implementation of the run can leave out, and nothing with any
// of it. It lowers its priority as the tool does (nice 19 on its threads, then ionice), starts
// the commands a run of the tool started on this machine (lshw first, the others while lshw
// runs, each with its output read through pipes, as the tool reads it), makes as many downloads
// as the run did (bringing as many bytes), and sends as many results of the run's sizes, each
// written to a file and flushed before it is sent and removed after, as the tool's spool does.
// It parses no output, builds no report and signs no request, so it costs less than any real
// run: how much of the CPU target it takes on a machine is how much the target leaves for all
// the rest.
//
// With --reads READS.json it also makes, while lshw runs, the reads of /sys, /proc, /dev, /etc and /run that
// the collectors made (bench/helpers/record-reads.mjs), each as one synchronous call whose
// answer it drops: the kernel's side of reading the hardware as the collectors read it, with the
// least Node can do per read (collectors that read fewer files would lower this floor). Without
// it, it reads nothing of the machine.
//
// Usage: node floor-process.cjs PLAN.json [--reads READS.json], where the plan is
//   { commands: [[executable, ...args], ...], url, gets, posts, upBytes, dir }
// (commands in the order the tool started them; `dir` is an empty directory for the spool files)
// and the reads, [[kind, path], ...], are in a file of their own, which the floor without them
// does not parse.
// CommonJS, which Node loads with less work than an ES module: the floor is kept as low as it goes.
'use strict';
const { spawn } = require('node:child_process');
const { closeSync, fsyncSync, lstatSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, unlinkSync, writeSync } = require('node:fs');
const { request } = require('node:http');
const { setPriority, tmpdir } = require('node:os');
const { basename, join } = require('node:path');

async function main() {
  const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  const threads = [process.pid, ...readdirSync('/proc/self/task').map(Number).filter((t) => t !== process.pid)];
  for (const thread of threads) setPriority(thread, 19);

  // A command's temporary files (dmidecode's dump) go to a directory of this process.
  const scratch = mkdtempSync(join(tmpdir(), 'bench-floor-'));
  const ownPaths = (arg) => (/^\/.*\/maas-run-scripts-[^/]+\//.test(arg) ? join(scratch, basename(arg)) : arg);

  const run = ([file, ...args]) =>
    new Promise((resolve) => {
      const child = spawn(file, args.map(ownPaths), { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, LC_ALL: 'C', LANG: 'C' } });
      const out = [];
      child.stdout.on('data', (chunk) => out.push(chunk));
      child.stderr.on('data', (chunk) => out.push(chunk));
      child.on('error', () => resolve(''));
      child.on('close', () => resolve(Buffer.concat(out).toString('utf8')));
    });

  const isIonice = (argv) => basename(argv[0]) === 'ionice';
  const ionice = plan.commands.find(isIonice);
  if (ionice) await run([ionice[0], '-c', '3', '-p', ...threads.map(String)]);
  const rest = plan.commands.filter((argv) => !isIonice(argv));
  const lshw = rest.filter((argv) => basename(argv[0]) === 'lshw').map(run);
  const readsAt = process.argv.indexOf('--reads');
  if (readsAt > 0) readAll(JSON.parse(readFileSync(process.argv[readsAt + 1], 'utf8')));
  for (const argv of rest.filter((a) => basename(a[0]) !== 'lshw')) await run(argv);
  await Promise.all(lshw);

  const exchange = (method, body) =>
    new Promise((resolve, reject) => {
      const headers = body ? { 'Content-Length': String(body.length), 'Content-Type': 'application/octet-stream' } : {};
      const req = request(plan.url, { method, headers }, (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => resolve(Buffer.concat(chunks)));
      });
      req.on('error', reject);
      req.end(body);
    });

  const syncDirectory = (dir) => {
    const fd = openSync(dir, 'r');
    fsyncSync(fd);
    closeSync(fd);
  };
  // The server makes the first answer as large as everything the run received.
  for (let i = 0; i < plan.gets; i += 1) await exchange('GET');
  const size = Math.ceil(plan.upBytes / Math.max(1, plan.posts));
  for (let i = 0; i < plan.posts; i += 1) {
    const body = Buffer.alloc(size, 0x61 + (i % 26));
    const file = join(plan.dir, `result-${i}`);
    const fd = openSync(file, 'w', 0o600);
    writeSync(fd, body);
    fsyncSync(fd);
    closeSync(fd);
    syncDirectory(plan.dir);
    await exchange('POST', body);
    unlinkSync(file);
  }
  rmSync(scratch, { recursive: true, force: true });
}

/** Makes each read once; what is absent or refused is skipped, as the collectors skip it. */
function readAll(reads) {
  const call = {
    // Kernel attributes through Node's one-call UTF-8 read; a database (pci.ids) as bytes, undecoded.
    file: (path) => (path.startsWith('/sys/') || path.startsWith('/proc/') ? readFileSync(path, 'utf8') : readFileSync(path)),
    dir: (path) => readdirSync(path),
    dirents: (path) => readdirSync(path, { withFileTypes: true }),
    link: (path) => readlinkSync(path),
    realpath: (path) => realpathSync.native(path),
    lstat: (path) => lstatSync(path),
    stat: (path) => statSync(path),
  };
  for (const [kind, path] of reads) {
    try {
      call[kind](path);
    } catch {
      // absent here: the collector found nothing there either
    }
  }
}

main().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
