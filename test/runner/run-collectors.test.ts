import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DeployInfoCollector } from '../../collectors/types.js';
import { createHost } from '../../src/host/host.js';
import { TIMEOUT_EXIT_STATUS } from '../../src/host/run-command.js';
import { startCollectors, type CollectorSet } from '../../src/runner/produce.js';
import type { Progress } from '../../src/runner/progress.js';
import { runCollector, runCollectors } from '../../src/runner/run-collectors.js';
import { eventually, processGone } from '../helpers/trees.js';
import { makeRoot } from '../helpers/make-root.js';

/** Reads synchronously for a while from its very first step, as a walk of /sys does. */
function busyReader(log: string[]): DeployInfoCollector {
  return {
    name: 'reader',
    scripts: ['maas-list-modaliases'],
    timeoutMs: 30_000,
    produce: async () => {
      log.push('reader starts');
      const until = Date.now() + 150;
      while (Date.now() < until);
      return { stdout: '', stderr: '', exitCode: 0 };
    },
  };
}

/** Starts a command, after a few awaits as a real collector checks things first (lshw). */
function longCommand(log: string[]): DeployInfoCollector {
  return {
    name: 'long',
    scripts: ['maas-lshw'],
    timeoutMs: 30_000,
    startFirst: true,
    produce: async (host) => {
      await host.exists('/proc/version');
      await Promise.resolve();
      const result = await host.run('sleep', ['0.2'], { onSpawn: () => log.push('long command running') });
      log.push('long command done');
      return { stdout: 'done\n', stderr: '', exitCode: result.exitCode ?? 1 };
    },
  };
}

/** A collector that logs when it starts and ends, and in between runs a real `sleep`. */
function sleeper(name: string, seconds: string, log: string[]): DeployInfoCollector {
  return {
    name,
    scripts: ['maas-serial-ports'],
    timeoutMs: 30_000,
    produce: async (host) => {
      log.push(`start ${name}`);
      const result = await host.run('sleep', [seconds]);
      log.push(`end ${name}`);
      return { stdout: `${name} done\n`, stderr: '', exitCode: result.exitCode ?? 1 };
    },
  };
}

describe('runCollectors', () => {
  it('runs collectors concurrently: each starts before any of them has finished', async () => {
    const log: string[] = [];
    const outcomes = await runCollectors([sleeper('first', '0.3', log), sleeper('second', '0.3', log)], createHost());
    expect(outcomes.map((o) => o.output.exitCode)).toEqual([0, 0]);
    // Run one after the other, the log would read start first, end first, start second, ...
    expect(log.slice(0, 2).sort()).toEqual(['start first', 'start second']);
    expect(log.slice(2).sort()).toEqual(['end first', 'end second']);
  });

  it('returns the outcomes in the order the collectors were given, with their scripts', async () => {
    const quick: DeployInfoCollector = { name: 'quick', scripts: ['maas-lshw'], timeoutMs: 5000, produce: async () => ({ stdout: 'q', stderr: '', exitCode: 0 }) };
    const log: string[] = [];
    const outcomes = await runCollectors([sleeper('slow', '0.2', log), quick], createHost());
    expect(outcomes.map((o) => [o.name, o.scripts])).toEqual([
      ['slow', ['maas-serial-ports']],
      ['quick', ['maas-lshw']],
    ]);
  });

  it('turns a collector that throws into a failed outcome with a one-line error, and the others still succeed', async () => {
    const broken: DeployInfoCollector = {
      name: 'broken',
      scripts: ['maas-support-info'],
      timeoutMs: 5000,
      produce: async () => {
        throw new Error('cannot read /proc/cpuinfo: EIO\n    at somewhere (file.js:1:1)');
      },
    };
    const log: string[] = [];
    const [bad, good] = await runCollectors([broken, sleeper('fine', '0', log)], createHost());
    expect(bad!.output.exitCode).not.toBe(0);
    expect(bad!.output.stderr).toBe('collector "broken" failed: cannot read /proc/cpuinfo: EIO\n');
    expect(bad!.timedOut).toBe(false);
    expect(good!.output).toEqual({ stdout: 'fine done\n', stderr: '', exitCode: 0 });
  });

  it('stops a collector at its timeout and kills the process group of the command it was running', async () => {
    const dir = await makeRoot({});
    const pidFile = join(dir, 'pid');
    const stuck: DeployInfoCollector = {
      name: 'stuck',
      scripts: ['maas-lshw'],
      timeoutMs: 60_000,
      produce: async (host) => {
        await host.run('sh', ['-c', `sleep 60 & echo $! > ${pidFile}; wait`], { timeoutMs: 60_000 });
        return { stdout: 'never', stderr: '', exitCode: 0 };
      },
    };
    const outcome = await runCollector(stuck, createHost(), { timeoutMs: () => 1000 });
    expect(outcome.timedOut).toBe(true);
    expect(outcome.output.exitCode).toBe(TIMEOUT_EXIT_STATUS);
    expect(outcome.output.stdout).toBe('');
    expect(outcome.output.stderr).toMatch(/^collector "stuck" timed out after 1 s/);
    const child = Number((await readFile(pidFile, 'utf8')).trim());
    expect(await eventually(() => processGone(child))).toBe(true);
  });

  it('times out a collector that never settles, without waiting for it', async () => {
    const hung: DeployInfoCollector = { name: 'hung', scripts: ['maas-lshw'], timeoutMs: 200, produce: () => new Promise(() => {}) };
    const outcome = await runCollector(hung, createHost());
    expect(outcome.timedOut).toBe(true);
    expect(outcome.output.exitCode).toBe(124);
  });

  it('starts a start-first collector\'s command before the others begin their blocking reading', async () => {
    const log: string[] = [];
    // Given in this order, the reader would otherwise take the thread before the command starts.
    const outcomes = await runCollectors([busyReader(log), longCommand(log)], createHost());
    expect(outcomes.map((o) => [o.name, o.output.exitCode])).toEqual([
      ['reader', 0],
      ['long', 0],
    ]);
    expect(log).toEqual(['long command running', 'reader starts', 'long command done']);
  });

  it('does not hold the others back when a start-first collector runs no command', async () => {
    const log: string[] = [];
    const missingTool: DeployInfoCollector = {
      name: 'missing',
      scripts: ['maas-lshw'],
      timeoutMs: 30_000,
      startFirst: true,
      produce: async (host) => {
        const result = await host.run('no-such-tool-anywhere', [], { onSpawn: () => log.push('spawned') });
        log.push(result.notFound ? 'missing tool' : 'ran');
        return { stdout: '', stderr: '', exitCode: 127 };
      },
    };
    const silent: DeployInfoCollector = { name: 'silent', scripts: ['maas-lshw'], timeoutMs: 2000, startFirst: true, produce: () => new Promise(() => {}) };
    const other: DeployInfoCollector = {
      name: 'other',
      scripts: ['maas-serial-ports'],
      timeoutMs: 30_000,
      produce: async () => {
        log.push('other starts');
        return { stdout: '', stderr: '', exitCode: 0 };
      },
    };
    // Marks the time well past the cap (100 ms) and well before the silent one's timeout (2 s).
    const marker = setTimeout(() => log.push('a second later'), 1000);
    const [missing, silentOutcome, fine] = await runCollectors([missingTool, silent, other], createHost(), { startFirstWaitMs: 100 });
    clearTimeout(marker);
    expect(missing!.output.exitCode).toBe(127);
    expect(silentOutcome!.timedOut).toBe(true);
    expect(fine!.output.exitCode).toBe(0);
    // The missing tool ends its collector; the silent one is waited for only up to the cap.
    expect(log).toEqual(['missing tool', 'other starts', 'a second later']);
  });

  it('kills a command its collector left running when the collector failed', async () => {
    const dir = await makeRoot({});
    const pidFile = join(dir, 'pid');
    const pidWritten = async () => (await readFile(pidFile, 'utf8').catch(() => '')).endsWith('\n');
    const careless: DeployInfoCollector = {
      name: 'careless',
      scripts: ['maas-lshw'],
      timeoutMs: 60_000,
      produce: async (host) => {
        void host.run('sh', ['-c', `echo $$ > ${pidFile}.tmp && mv ${pidFile}.tmp ${pidFile}; exec sleep 60`]);
        if (!(await eventually(pidWritten))) throw new Error('the command never started');
        throw new Error('gave up on something else');
      },
    };
    const outcome = await runCollector(careless, createHost());
    expect(outcome.output.stderr).toBe('collector "careless" failed: gave up on something else\n');
    const child = Number((await readFile(pidFile, 'utf8')).trim());
    expect(await eventually(() => processGone(child))).toBe(true);
  });

  it('measures runtime with the monotonic clock it is given', async () => {
    let clock = 5000;
    const ticks = () => (clock += 1500);
    const quick: DeployInfoCollector = { name: 'quick', scripts: ['maas-lshw'], timeoutMs: 5000, produce: async () => ({ stdout: '', stderr: '', exitCode: 0 }) };
    const outcome = await runCollector(quick, createHost(), { now: ticks });
    // One tick when it starts, one when it ends: 1.5 s apart.
    expect(outcome.runtimeSeconds).toBe(1.5);
  });
});

// report-results starts the collectors through startCollectors (produce.ts), which shows each one
// as it ends: the start-first order holds there too, as the collectors run as one set.
describe('startCollectors', () => {
  it('starts lshw\'s kind of command before the others read, and shows each collector as it ends', async () => {
    const log: string[] = [];
    const collectors: CollectorSet = {
      forScript: () => undefined,
      run: (chosen, host, onOutcome) => runCollectors(chosen, host, onOutcome ? { onOutcome } : {}),
    };
    const progress: Pick<Progress, 'info' | 'ran'> = { info: () => undefined, ran: (line) => void log.push(`shown ${line.name}`) };
    const runs = startCollectors([busyReader(log), longCommand(log)], { collectors, host: createHost(), progress: progress as Progress });
    expect((await runs.outcome('reader'))?.output.exitCode).toBe(0);
    expect(log).toEqual(['long command running', 'reader starts', 'shown reader']);
    expect([...(await runs.all).keys()].sort()).toEqual(['long', 'reader']);
    expect(log).toEqual(['long command running', 'reader starts', 'shown reader', 'long command done', 'shown long']);
  });
});
