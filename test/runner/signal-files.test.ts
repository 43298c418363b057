// The one naming of a script's result files, as the run directory, the signals, `collect
// --output` and MAAS's stored copies use it (docs/protocol.md §4.1, §5.3, §5.5).
import { describe, expect, it } from 'vitest';
import { resultFiles, resultSuffix, scriptOutputFiles, storedCopyName } from '../../src/runner/signal-files.js';

describe('resultFiles', () => {
  it('lists stdout, stderr and the combined output in the order a signal sends them, and the result file only when there is one', () => {
    expect(resultFiles('92-custom', { stdout: 'o', stderr: 'e', combined: 'oe' }).map((f) => [f.name, f.content])).toEqual([
      ['92-custom.out', 'o'],
      ['92-custom.err', 'e'],
      ['92-custom', 'oe'],
    ]);
    expect(resultFiles('92-custom', { stdout: '', stderr: '', combined: '', result: 'status: passed\n' }).map((f) => f.name)).toEqual(['92-custom.out', '92-custom.err', '92-custom', '92-custom.yaml']);
  });
});

describe('resultSuffix and storedCopyName', () => {
  it('recognise only the script\'s own result files, and find MAAS\'s copy of each under out/ by result id', () => {
    expect(['maas-lshw', 'maas-lshw.out', 'maas-lshw.err', 'maas-lshw.yaml', 'maas-lshw.log', 'maas-lshwx', 'other.out'].map((n) => resultSuffix('maas-lshw', n))).toEqual(['', '.out', '.err', '.yaml', undefined, undefined, undefined]);
    expect(storedCopyName('maas-lshw', 42, '.err')).toBe('out/maas-lshw.42.err');
  });
});

describe('scriptOutputFiles', () => {
  it('gives each script answered by a collector its .out, .err and combined file', () => {
    const files = scriptOutputFiles({
      name: 'resources',
      scripts: ['20-maas-03-machine-resources', '50-maas-01-commissioning'],
      output: { stdout: '{"api_version": "1.0"}\n', stderr: 'not root: partial\n', exitCode: 0 },
      runtimeSeconds: 0.1,
      timedOut: false,
    });
    expect(files.map((f) => f.script)).toEqual(['20-maas-03-machine-resources', '50-maas-01-commissioning']);
    for (const { script, files: parts } of files) {
      const byName = Object.fromEntries(parts.map((p) => [p.name, p.content]));
      expect(byName[`${script}.out`]).toBe('{"api_version": "1.0"}\n');
      expect(byName[`${script}.err`]).toBe('not root: partial\n');
      expect(byName[script]).toBe('{"api_version": "1.0"}\nnot root: partial\n');
    }
  });
});
