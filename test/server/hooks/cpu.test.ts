// CPU count, speed and model, with MAAS's arithmetic quirks.
import { describe, expect, it } from 'vitest';
import { parseCpu, roundHalfEven } from '../../../src/server/hooks/cpu.js';

const socket = (extra: Record<string, unknown>, threads: [number, number][] = [[0, 0]]) => ({
  socket: 0,
  cores: threads.map(([id, numa], core) => ({ core, die: 0, threads: [{ id, numa_node: numa, thread: 0, online: true, isolated: false }] })),
  ...extra,
});

describe('parseCpu', () => {
  it('reads the speed in the model name, truncating the binary product as MAAS does', () => {
    expect(parseCpu({ cpu: { total: 1, sockets: [socket({ name: 'Intel(R) Xeon(R) CPU E5-2620 v4 @ 2.10GHz' })] } }).cpuSpeed).toBe(2100);
    expect(parseCpu({ cpu: { total: 1, sockets: [socket({ name: 'Some CPU @ 2.01GHz' })] } }).cpuSpeed).toBe(2009);
  });

  it('cuts the model before " @" and keeps only its first line', () => {
    expect(parseCpu({ cpu: { sockets: [socket({ name: 'Intel(R) Core(TM) i7-4700MQ CPU @ 2.40GHz' })] } }).cpuModel).toBe('Intel(R) Core(TM) i7-4700MQ CPU');
    expect(parseCpu({ cpu: { sockets: [socket({ name: 'POWER9 (raw)\nrevision 2.2' })] } }).cpuModel).toBe('POWER9 (raw)');
  });

  it('uses the highest turbo frequency when sockets disagree on the name', () => {
    const facts = parseCpu({ cpu: { sockets: [socket({ name: 'A @ 2.00GHz', frequency_turbo: 3000 }), socket({ name: 'B @ 2.00GHz', frequency_turbo: 3400 })] } });
    expect(facts).toMatchObject({ cpuSpeed: 3400, cpuModel: null });
  });

  it('falls back to the average current frequency rounded to 100 MHz, ties to even', () => {
    const speed = (...frequencies: number[]) => parseCpu({ cpu: { sockets: frequencies.map((frequency) => socket({ frequency })) } }).cpuSpeed;
    expect(speed(2250)).toBe(2200);
    expect(speed(2350)).toBe(2400);
    expect(speed(2000, 2501)).toBe(2300);
    expect(speed(3231)).toBe(3200);
  });

  it('gives zeros for a report without a CPU section', () => {
    expect(parseCpu({})).toEqual({ cpuCount: 0, cpuSpeed: 0, cpuModel: null, numaCores: new Map() });
  });

  it('groups thread ids by NUMA node in report order', () => {
    const facts = parseCpu({ cpu: { total: 4, sockets: [socket({}, [[0, 0], [2, 1]]), socket({}, [[1, 0], [3, 1]])] } });
    expect([...facts.numaCores]).toEqual([[0, [0, 1]], [1, [2, 3]]]);
    expect(facts.cpuCount).toBe(4);
  });

  it('accepts the null socket list Go prints for an empty slice', () => {
    expect(parseCpu({ cpu: { total: 0, sockets: null } }).cpuSpeed).toBe(0);
  });
});

describe('roundHalfEven', () => {
  it('rounds halves to the even neighbour like Python', () => {
    expect([0.5, 1.5, 2.5, 22.5, 23.5, 22.49, 22.51].map(roundHalfEven)).toEqual([0, 2, 2, 22, 24, 22, 23]);
  });
});
