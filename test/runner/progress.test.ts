import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress, progressMode, type ResultSummary, type RunSummary } from '../../src/runner/progress.js';

function sink(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return Object.assign(stream, { text: () => chunks.join('') });
}

const delivered: ResultSummary = { name: 'maas-lshw', status: 'WORKING', exit_status: 0, runtime: 0.5, bytes: 1200, delivery: 'delivered', from_spool: false };
const summary = (over: Partial<RunSummary> = {}): RunSummary => ({
  ok: true,
  metadata_url: 'http://127.0.0.1:5240/MAAS/metadata/2012-03-01/',
  delivered: 1,
  unchanged: 0,
  spooled: 0,
  rejected: 0,
  state_dir: '/state',
  results: [delivered],
  problems: [],
  ...over,
});

describe('progressMode', () => {
  it('prefers --json, then a terminal, then log lines', () => {
    expect(progressMode(true, { isTTY: true })).toBe('json');
    expect(progressMode(false, { isTTY: true })).toBe('tty');
    expect(progressMode(false, {})).toBe('log');
  });
});

describe('createProgress', () => {
  it('shows one aligned line per collector on a terminal, with its status and time', () => {
    const stdout = sink();
    const progress = createProgress('tty', { stdout, stderr: sink() });
    progress.ran({ name: 'resources', exitStatus: 0, timedOut: false, runtimeSeconds: 0.314, builtIn: true });
    progress.ran({ name: '91-custom', exitStatus: 3, timedOut: false, runtimeSeconds: 12.34, builtIn: false });
    progress.ran({ name: 'slow', exitStatus: 124, timedOut: true, runtimeSeconds: 1, builtIn: false });
    const lines = stdout.text().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ {2}resources +ok +0\.31 s$/);
    expect(lines[1]).toMatch(/^ {2}91-custom +failed \(exit 3\) +12\.3 s$/);
    expect(lines[2]).toMatch(/^ {2}slow +timed out +1\.00 s$/);
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
  });

  it('says on a terminal where undelivered results wait', () => {
    const stdout = sink();
    const progress = createProgress('tty', { stdout, stderr: sink() });
    progress.delivered({ ...delivered, delivery: 'spooled' });
    progress.finish(summary({ ok: false, delivered: 0, spooled: 1 }));
    expect(stdout.text()).toContain('maas-lshw');
    expect(stdout.text()).toContain('kept in the spool for the next run');
    expect(stdout.text()).toContain('incomplete: 0 delivered, 1 spooled in /state');
  });

  it('says a result was not sent because it is unchanged, and counts it in the final line', () => {
    const tty = sink();
    const onTerminal = createProgress('tty', { stdout: tty, stderr: sink() });
    onTerminal.delivered({ ...delivered, bytes: 0, delivery: 'unchanged' });
    onTerminal.finish(summary({ delivered: 1, unchanged: 5 }));
    expect(tty.text()).toMatch(/maas-lshw +unchanged since the last delivered report, not sent\n/);
    expect(tty.text()).toContain('done: 1 delivered, 5 unchanged');

    const log = sink();
    createProgress('log', { stdout: log, stderr: sink(), now: () => new Date('2026-01-02T03:04:05Z') }).delivered({ ...delivered, bytes: 0, delivery: 'unchanged' });
    expect(log.text()).toMatch(/report-results info: maas-lshw: unchanged since the last delivered report, not sent\n$/);
  });

  it('writes timestamped log lines for cron, errors marked as such', () => {
    const stdout = sink();
    const progress = createProgress('log', { stdout, stderr: sink(), now: () => new Date('2026-01-02T03:04:05Z') });
    progress.delivered({ ...delivered, delivery: 'rejected', error: 'HTTP 400 Bad Request' });
    expect(stdout.text()).toBe('2026-01-02T03:04:05.000Z report-results error: maas-lshw: rejected by MAAS: HTTP 400 Bad Request (1200 bytes)\n');
  });

  it('prints nothing but the final JSON document in --json mode', () => {
    const stdout = sink();
    const progress = createProgress('json', { stdout, stderr: sink() });
    progress.info('fetching');
    progress.ran({ name: 'resources', exitStatus: 0, timedOut: false, runtimeSeconds: 1, builtIn: true });
    progress.delivered(delivered);
    progress.finish(summary());
    expect(JSON.parse(stdout.text())).toEqual(summary());
  });
});
