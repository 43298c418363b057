import { describe, expect, it } from 'vitest';
import { parseCpuset } from '../../../collectors/lib/cpuset.js';

describe('parseCpuset', () => {
  it('expands ranges and single CPUs in order', () => {
    expect(parseCpuset('0-2,8,10-11\n')).toEqual([0, 1, 2, 8, 10, 11]);
  });

  it('gives no CPUs for an empty list', () => {
    expect(parseCpuset('')).toEqual([]);
  });

  it('names the source and the bad chunk in its error', () => {
    expect(() => parseCpuset('0-x', 'isolated')).toThrow(/isolated.*"0-x"/);
    expect(() => parseCpuset('5-2')).toThrow(/backwards/);
  });
});
