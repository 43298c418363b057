// The per-host slot of the periodic sync: offsets spread a fleet evenly over the interval, a
// host's offset never changes, and the systemd and cron schedules start runs exactly there.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { machineKey } from '../../src/runner/report.js';
import { calendarExpressions, cronSchedules, parseInterval, runTimes, syncJitter, syncOffset } from '../../src/runner/sync-schedule.js';

const CREDS = { consumerKey: 'ck', tokenKey: 'tk', tokenSecret: 'ts', consumerSecret: '' };
const DAY = 86_400;

/** The alphabet of MAAS system ids (lower-case letters and digits without look-alikes), 6 characters. */
const ALPHABET = 'abcdefghjkmnpqrstuvwxy3456789';

/** `count` system ids as a MAAS would hand them out in sequence: consecutive, so very alike. */
function sequentialSystemIds(count: number, start = 123_456): string[] {
  return Array.from({ length: count }, (_, i) => {
    let n = start + i;
    let id = '';
    for (let k = 0; k < 6; k += 1) {
      id = ALPHABET[n % ALPHABET.length] + id;
      n = Math.floor(n / ALPHABET.length);
    }
    return id;
  });
}

/** The identity install-sync hashes for a creds file naming `systemId`. */
const identityOf = (systemId: string) => machineKey(`http://maas.example.com:5240/MAAS/metadata/status/${systemId}`, CREDS);

/** The 0.999 quantile of chi-square with `df` degrees of freedom (Wilson–Hilferty). */
function chiSquareCritical(df: number): number {
  const z = 3.09;
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

describe('sync offsets', () => {
  const ids = sequentialSystemIds(10_000);

  it('are named after the system id of the creds endpoint, else a digest of the token key', () => {
    expect(identityOf('abc123')).toBe('machine-abc123');
    expect(machineKey('http://maas.example.com:5240/MAAS/metadata/', CREDS)).toMatch(/^token-[0-9a-f]{16}$/);
  });

  // Tolerance: the bucket counts pass a chi-square test at p = 0.001, and no bucket holds more than
  // 30% above or below its share (the expected count is 166.7 per bucket: 30% is about 4 standard deviations).
  it.each([
    ['15m', 15 * 60],
    ['1h', 3600],
    ['6h', 6 * 3600],
    ['24h', DAY],
  ])('of 10,000 consecutive system ids spread a %s interval evenly over 60 buckets', (_label, interval) => {
    const buckets = new Array<number>(60).fill(0);
    for (const id of ids) {
      const offset = syncOffset(identityOf(id), interval);
      expect(offset).toBeGreaterThanOrEqual(0);
      expect(offset).toBeLessThan(interval);
      buckets[Math.floor((offset / interval) * 60)]! += 1;
    }
    const expected = ids.length / 60;
    const chiSquare = buckets.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
    expect(chiSquare).toBeLessThan(chiSquareCritical(59));
    const worst = Math.max(...buckets.map((count) => Math.abs(count - expected) / expected));
    expect(worst).toBeLessThan(0.3);
  });

  it('give one host the same offset every time, and different hosts different ones', () => {
    const first = ids.slice(0, 200).map((id) => syncOffset(identityOf(id), 3600));
    const again = ids.slice(0, 200).map((id) => syncOffset(identityOf(id), 3600));
    expect(again).toEqual(first);
    // 200 hosts in 3600 one-second slots: a few share one, most do not.
    expect(new Set(first).size).toBeGreaterThan(180);
  });

  it('keep random delay small beside the interval: at most a minute, a sixtieth of short intervals', () => {
    expect(syncJitter(3600)).toBe(60);
    expect(syncJitter(DAY)).toBe(60);
    expect(syncJitter(5 * 60)).toBe(5);
  });
});

describe('sync intervals', () => {
  it('are minutes or hours from 5m to 24h that divide a day', () => {
    expect(parseInterval('1h')).toBe(3600);
    expect(parseInterval('15m')).toBe(900);
    expect(parseInterval('90m')).toBe(5400);
    expect(parseInterval('1d')).toBe(DAY);
    expect(parseInterval('30')).toBe(1800);
  });

  it.each(['7m', '5h', '2d', '1m', '0', 'hourly', '-1h', '1.5h', ''])('refuses %j in one line that names the fix', (text) => {
    expect(() => parseInterval(text)).toThrow(/^--interval .* is not a usable interval: give minutes or hours from 5m to 24h that divide a day evenly/);
  });
});

/** The run times of a systemd calendar expression as install-sync writes it (lists of hours, minutes; one second). */
function expandCalendar(expression: string): number[] {
  const match = /^\*-\*-\* (\*|[\d,]+):([\d,]+):(\d{2}) UTC$/.exec(expression);
  expect(match, expression).not.toBeNull();
  const hours = match![1] === '*' ? Array.from({ length: 24 }, (_, h) => h) : match![1]!.split(',').map(Number);
  const minutes = match![2]!.split(',').map(Number);
  return hours.flatMap((h) => minutes.map((m) => h * 3600 + m * 60 + Number(match![3])));
}

/** The run minutes of a cron schedule as install-sync writes it. */
function expandCron(fields: string): number[] {
  const [minutes, hours] = fields.split(' ');
  const hourList = hours === '*' ? Array.from({ length: 24 }, (_, h) => h) : hours!.split(',').map(Number);
  return hourList.flatMap((h) => minutes!.split(',').map((m) => h * 3600 + Number(m) * 60));
}

describe('sync schedules', () => {
  const cases = [5 * 60, 15 * 60, 45 * 60, 3600, 90 * 60, 2 * 3600, 8 * 3600, DAY].flatMap((interval) =>
    ['abc123', 'x7yk3p', 'qqqqqq'].map((id) => [interval, syncOffset(identityOf(id), interval)] as const),
  );

  it.each(cases)('for interval %ds and offset %ds start a run at exactly every offset + k × interval of the day (systemd)', (interval, offset) => {
    const times = runTimes(interval, offset);
    expect(times).toHaveLength(DAY / interval);
    expect(times.every((t, i) => t === offset + i * interval)).toBe(true);
    const fromCalendar = calendarExpressions(interval, offset).flatMap(expandCalendar).sort((a, b) => a - b);
    expect(fromCalendar).toEqual(times);
  });

  it.each(cases)('for interval %ds and offset %ds start a run in the minute of every start, the seconds slept first (cron)', (interval, offset) => {
    const minutes = runTimes(interval, offset).map((t) => t - (t % 60));
    const fromCron = cronSchedules(interval, offset).flatMap(expandCron).sort((a, b) => a - b);
    expect(fromCron).toEqual(minutes);
  });

  it('write an hourly slot as one calendar line systemd 245 understands, without options newer systemd added', () => {
    expect(calendarExpressions(3600, 7 * 60 + 31)).toEqual(['*-*-* *:07:31 UTC']);
    expect(cronSchedules(3600, 7 * 60 + 31)).toEqual(['7 * * * *']);
  });

  // systemd-analyze is the real parser of calendar expressions; where it is not installed there is nothing to ask.
  it.skipIf(!existsSync('/usr/bin/systemd-analyze'))('are accepted by systemd-analyze as written', () => {
    for (const [interval, offset] of cases) {
      for (const expression of calendarExpressions(interval, offset)) {
        const out = execFileSync('/usr/bin/systemd-analyze', ['calendar', expression], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' } });
        expect(out).toContain(`Normalized form: ${expression}`);
      }
    }
  });
});
