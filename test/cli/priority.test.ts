// The tool runs at idle priority itself, and every command it starts inherits that priority from
// it: read back from /proc by a command the tool started (a stand-in lshw that records what it
// sees of itself and of the tool), while a `nice` placed first on the search path fails loudly if
// anything runs it.
import { execa } from 'execa';
import { constants } from 'node:fs';
import { chmod, mkdir, open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultSearchPath, findExecutable, PRIORITY_ENV, SEARCH_PATH_ENV } from '../../src/host/run-command.js';
import { CLI, runCli } from '../helpers/cli.js';
import { removeTree, tempDir } from '../helpers/trees.js';

/** Field 19 of /proc/<pid>/stat (the nice value); the fields after the command name start at 3. */
function niceOf(stat: string): number {
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19 - 3]);
}

const OWN_NICE = niceOf(await readFile('/proc/self/stat', 'utf8'));
const haveIonice = (await findExecutable('ionice')) !== undefined;

interface Probe {
  command: number;
  toolThreads: number[];
  io: string;
  /** The IO class of each of the tool's threads. */
  toolIo: string[];
  niceRan: boolean;
}

describe('the priority of the tool and of what it starts', () => {
  let bin: string;
  const runs: string[] = [];
  beforeAll(async () => {
    bin = await tempDir('mrs-prio-');
    // Stand-in lshw: its own stat, every thread of its parent (the tool), the IO class of both.
    await writeFile(
      join(bin, 'lshw'),
      [
        '#!/bin/sh',
        'out="$PRIORITY_PROBE"',
        'cat /proc/self/stat > "$out.command"',
        'for task in /proc/$PPID/task/*; do cat "$task/stat"; echo; done > "$out.tool"',
        '(ionice -p $$ 2>/dev/null || echo unknown) > "$out.io"',
        'for task in /proc/$PPID/task/*; do ionice -p "${task##*/}" 2>/dev/null || echo unknown; done > "$out.toolio"',
        'echo \'<?xml version="1.0" standalone="yes" ?><list></list>\'',
        '',
      ].join('\n'),
    );
    await writeFile(join(bin, 'nice'), `#!/bin/sh\ntouch "$PRIORITY_PROBE.nice"\nexit 97\n`);
    await Promise.all(['lshw', 'nice'].map((name) => chmod(join(bin, name), 0o755)));
  });
  afterAll(async () => {
    await Promise.all([bin, ...runs].map(removeTree));
  });

  async function probe(args: string[], env: Record<string, string> = {}): Promise<Probe> {
    const dir = await tempDir('mrs-prio-run-');
    runs.push(dir);
    const out = join(dir, 'probe');
    const run = await runCli([...args, 'collect', '--only', 'lshw'], {
      env: { ...env, PRIORITY_PROBE: out, [SEARCH_PATH_ENV]: [bin, ...defaultSearchPath({ PATH: process.env.PATH })].join(':') },
    });
    expect(run.stderr).not.toContain('exited with status 97');
    const tool = (await readFile(`${out}.tool`, 'utf8')).split('\n').filter((line) => line.trim() !== '');
    return {
      command: niceOf(await readFile(`${out}.command`, 'utf8')),
      toolThreads: tool.map(niceOf),
      io: (await readFile(`${out}.io`, 'utf8')).trim(),
      toolIo: (await readFile(`${out}.toolio`, 'utf8')).split('\n').filter((line) => line.trim() !== ''),
      niceRan: await readFile(`${out}.nice`).then(
        () => true,
        () => false,
      ),
    };
  }

  it('runs the tool, all its threads, and the commands it starts at nice 19 in the idle IO class, with no nice executable', async (context) => {
    // Run under nice 19 already, the test could not tell the tool's doing from what it inherited.
    if (OWN_NICE >= 19) context.skip();
    const seen = await probe([]);
    expect(seen.command).toBe(19);
    expect(seen.toolThreads.length).toBeGreaterThan(1);
    expect(seen.toolThreads.every((nice) => nice === 19)).toBe(true);
    if (haveIonice) {
      expect(seen.io).toBe('idle');
      // Every thread of the tool, not only the one that starts the children: those that read
      // files for it (Node's thread pool) do its IO.
      expect(seen.toolIo.length).toBe(seen.toolThreads.length);
      expect(seen.toolIo.every((io) => io === 'idle'), seen.toolIo.join(', ')).toBe(true);
    }
    expect(seen.niceRan).toBe(false);
  });

  it('runs at nice 19 on every thread from the start, also in a run that starts no command', async (context) => {
    if (OWN_NICE >= 19) context.skip();
    // A captured tree whose /proc/cpuinfo is a FIFO: the collector stops at it until the test
    // writes, and meanwhile the test reads the priority of each of the tool's threads.
    const tree = await tempDir('mrs-prio-tree-');
    runs.push(tree);
    await mkdir(join(tree, 'proc'));
    await writeFile(join(tree, 'proc', 'meminfo'), 'MemTotal:        1024000 kB\nMemFree:          512000 kB\n');
    const fifo = join(tree, 'proc', 'cpuinfo');
    await execa('mkfifo', [fifo]);
    const run = execa(process.execPath, [CLI, 'collect', '--only', 'resources', '--root', tree], { reject: false, timeout: 60_000 });
    // The open for writing returns once the tool has opened the FIFO to read; should the tool end
    // without reading it, a reader of the test's own lets that open return, and the test fails.
    const opening = open(fifo, 'w');
    const writer = await Promise.race([opening, run.then(() => undefined)]);
    if (writer === undefined) {
      const reader = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      await (await opening).close();
      await reader.close();
      throw new Error(`the tool ended without reading /proc/cpuinfo: ${String((await run).stderr)}`);
    }
    try {
      const threads = await readdir(`/proc/${run.pid}/task`);
      const nices = await Promise.all(threads.map(async (task) => niceOf(await readFile(`/proc/${run.pid}/task/${task}/stat`, 'utf8'))));
      expect(nices.length).toBeGreaterThan(1);
      expect(nices.every((nice) => nice === 19), nices.join(', ')).toBe(true);
      await writer.write('processor\t: 0\nmodel name\t: Test CPU\n\n');
    } finally {
      await writer.close();
    }
    const done = await run;
    expect(done.exitCode, String(done.stderr)).toBe(0);
    expect(JSON.parse(String(done.stdout)).resources.memory.total).toBe(1024000 * 1024);
  });

  it('puts itself in the idle IO class before its first file write, and starts no ionice for a run that only reads /sys and /proc', async () => {
    // modaliases and serial-ports start no command anywhere (the resources collector may ask
    // systemd-detect-virt or ethtool, and then ionice runs before them).
    // A stand-in ionice on the search path records each run, with what the output directory
    // held at that moment, then hands over to the real one (if any).
    const dir = await tempDir('mrs-prio-io-');
    runs.push(dir);
    const tools = join(dir, 'tools');
    const out = join(dir, 'out');
    const record = join(dir, 'ionice-runs');
    const real = await findExecutable('ionice');
    await mkdir(tools);
    await writeFile(
      join(tools, 'ionice'),
      ['#!/bin/sh', `echo "ran with [$(ls -A '${out}' 2>/dev/null | tr '\\n' ' ')]" >> '${record}'`, real ? `exec '${real}' "$@"` : 'exit 0', ''].join('\n'),
    );
    await chmod(join(tools, 'ionice'), 0o755);
    const env = { [SEARCH_PATH_ENV]: [tools, ...defaultSearchPath({ PATH: process.env.PATH })].join(':') };
    const runsOfIonice = () => readFile(record, 'utf8').then((text) => text.split('\n').filter(Boolean), () => []);

    const printed = await runCli(['collect', '--only', 'modaliases'], { env });
    expect(printed.exitCode, printed.stderr).toBe(0);
    expect(printed.stdout).toMatch(/^[a-z0-9]+:/m); // modaliases, one a line
    expect(await runsOfIonice()).toEqual([]);

    const written = await runCli(['collect', '--only', 'serial-ports', '--output', out], { env });
    expect(written.exitCode, written.stderr).toBe(0);
    expect((await readdir(out)).length).toBeGreaterThan(0);
    expect(await runsOfIonice()).toEqual(['ran with []']);
  });

  it('leaves the priority as it was with --priority normal, or with the environment knob', async (context) => {
    if (OWN_NICE >= 19) context.skip();
    for (const seen of [await probe(['--priority', 'normal']), await probe([], { [PRIORITY_ENV]: 'normal' })]) {
      expect(seen.command).toBe(OWN_NICE);
      expect(seen.toolThreads.every((nice) => nice === OWN_NICE)).toBe(true);
      if (haveIonice) expect(seen.io).not.toBe('idle');
    }
  });

  it('refuses an unknown priority in the environment in one line that names the fix', async () => {
    const run = await runCli(['collect', '--only', 'serial-ports'], { env: { [PRIORITY_ENV]: 'fast' } });
    expect(run.exitCode).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toEqual([`${PRIORITY_ENV}=fast is not a priority: set it to idle or normal (or unset it)`]);
  });

  it('refuses an unknown --priority as a usage error', async () => {
    const run = await runCli(['--priority', 'fast', 'collect']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain("argument 'fast' is invalid. Allowed choices are idle, normal");
  });
});
