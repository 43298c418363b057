// Kernel CPU-list syntax ("0-3,8,10-11"), as in /sys/devices/system/cpu/{online,isolated}.
import { ParseError } from '../../src/errors.js';

/** Expands a cpuset list into sorted, de-duplicated ids; "" gives []. */
export function parseCpuset(text: string, source = 'cpuset'): number[] {
  const ids = new Set<number>();
  for (const chunk of text.trim().split(',')) {
    if (chunk === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(chunk.trim());
    if (!m) throw new ParseError(source, `"${chunk}" is not a CPU number or range`);
    const low = Number(m[1]);
    const high = m[2] === undefined ? low : Number(m[2]);
    if (high < low) throw new ParseError(source, `range "${chunk}" runs backwards`);
    for (let id = low; id <= high; id++) ids.add(id);
  }
  return [...ids].sort((a, b) => a - b);
}
