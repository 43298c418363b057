// When a host's periodic sync runs (docs/design.md D19): every host of a fleet gets a fixed
// offset inside the interval, derived from its identity by a hash, so a fleet spreads evenly over
// the interval and a host keeps its slot across reinstalls. The schedule is written as systemd
// OnCalendar= expressions (in UTC) or cron lines, both of which only systemd 245 and plain cron
// need to understand: no RandomizedOffsetSec= (systemd 257), no FixedRandomDelay= (systemd 247).
// Pure: no file or clock is read here.
import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';

const DAY = 86_400;
const MIN_INTERVAL = 5 * 60;

/** What the hash input starts with, so the offset cannot be mistaken for another use of the key. */
const OFFSET_DOMAIN = 'maas-run-scripts sync offset\0';

/**
 * Parses --interval: a whole number of minutes, hours or days (`15m`, `1h`, `90m`, `1d`, or a
 * bare number of minutes) from 5 minutes to a day that divides a day evenly, so the schedule is
 * the same every day. Returns seconds.
 */
export function parseInterval(text: string): number {
  const match = /^\s*(\d+)\s*(m|min|h|d)?\s*$/i.exec(text);
  const unit = match?.[2]?.toLowerCase() ?? 'm';
  const seconds = match ? Number(match[1]) * (unit === 'h' ? 3600 : unit === 'd' ? DAY : 60) : NaN;
  if (!Number.isSafeInteger(seconds) || seconds < MIN_INTERVAL || seconds > DAY || DAY % seconds !== 0) {
    throw new UsageError(
      `--interval ${text} is not a usable interval: give minutes or hours from 5m to 24h that divide a day evenly (e.g. 15m, 30m, 1h, 2h, 6h, 24h)`,
    );
  }
  return seconds;
}

/**
 * The host's fixed offset inside the interval, in whole seconds: sha256 of its identity (the
 * machine key, see machineKey in report.ts) read as a 48-bit fraction of the interval, which is
 * uniform over [0, interval) for any set of distinct identities.
 */
export function syncOffset(identity: string, intervalSeconds: number): number {
  const digest = createHash('sha256').update(OFFSET_DOMAIN).update(identity).digest();
  const fraction = digest.readUIntBE(0, 6) / 2 ** 48;
  return Math.floor(fraction * intervalSeconds);
}

/**
 * The random delay added to each run on top of the offset (RandomizedDelaySec=, or a `sleep` in
 * the cron line): a sixtieth of the interval, at most a minute. It keeps hosts that hash to the
 * same second apart without moving any host far from its slot.
 */
export function syncJitter(intervalSeconds: number): number {
  return Math.min(60, Math.floor(intervalSeconds / 60));
}

/** The seconds of the day (UTC for systemd, local time for cron) at which the runs start. */
export function runTimes(intervalSeconds: number, offsetSeconds: number): number[] {
  const times: number[] = [];
  for (let t = offsetSeconds % intervalSeconds; t < DAY; t += intervalSeconds) times.push(t);
  return times;
}

/** Groups run times that share minutes and seconds: one group per line of the schedule. */
function groups(intervalSeconds: number, offsetSeconds: number): { hours: number[]; minutes: number[]; second: number }[] {
  // Hours by (minute, second), then minutes of the groups whose hours and second agree.
  const byMinute = new Map<string, { hours: number[]; minute: number; second: number }>();
  for (const t of runTimes(intervalSeconds, offsetSeconds)) {
    const hour = Math.floor(t / 3600);
    const minute = Math.floor((t % 3600) / 60);
    const second = t % 60;
    const key = `${minute}:${second}`;
    const entry = byMinute.get(key) ?? { hours: [], minute, second };
    entry.hours.push(hour);
    byMinute.set(key, entry);
  }
  const merged = new Map<string, { hours: number[]; minutes: number[]; second: number }>();
  for (const { hours, minute, second } of byMinute.values()) {
    const key = `${hours.join(',')}|${second}`;
    const entry = merged.get(key) ?? { hours, minutes: [], second };
    entry.minutes.push(minute);
    merged.set(key, entry);
  }
  return [...merged.values()].map((g) => ({ ...g, minutes: g.minutes.sort((a, b) => a - b) }));
}

const two = (n: number) => String(n).padStart(2, '0');

/** systemd OnCalendar= values (one per line of the timer), in UTC, e.g. `*-*-* *:07:31 UTC`. */
export function calendarExpressions(intervalSeconds: number, offsetSeconds: number): string[] {
  return groups(intervalSeconds, offsetSeconds).map(({ hours, minutes, second }) => {
    const h = hours.length === 24 ? '*' : hours.map(two).join(',');
    return `*-*-* ${h}:${minutes.map(two).join(',')}:${two(second)} UTC`;
  });
}

/**
 * cron schedules (the five time fields) to the minute, in the host's local time; the seconds of
 * the offset are slept at the start of the command (cronSleepSeconds).
 */
export function cronSchedules(intervalSeconds: number, offsetSeconds: number): string[] {
  return groups(intervalSeconds, offsetSeconds).map(({ hours, minutes }) => `${minutes.join(',')} ${hours.length === 24 ? '*' : hours.join(',')} * * *`);
}

/** "1h", "15m", "7m31s", "0s": a duration as the schedule shows it. */
export function formatSeconds(seconds: number): string {
  if (seconds === 0) return '0s';
  const parts: string[] = [];
  const d = Math.floor(seconds / DAY);
  const h = Math.floor((seconds % DAY) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (s) parts.push(`${s}s`);
  return parts.join('');
}
