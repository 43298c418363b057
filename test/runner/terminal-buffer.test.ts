import { describe, expect, it } from 'vitest';
import { TerminalBuffer } from '../../src/runner/terminal-buffer.js';

function through(...chunks: string[]): string {
  const buffer = new TerminalBuffer();
  for (const chunk of chunks) buffer.write(Buffer.from(chunk));
  return buffer.bytes().toString();
}

describe('TerminalBuffer', () => {
  it('keeps plain text as it came', () => {
    expect(through('hello\n', 'world\n')).toBe('hello\nworld\n');
  });

  it('lets a carriage return overwrite the current line, as MAAS stores "a\\rb\\n" as "b\\n"', () => {
    expect(through('a\rb\n')).toBe('b\n');
  });

  it('collapses a progress bar to its last state while keeping the rest of a longer line', () => {
    expect(through('first\n', ' 10%\r', ' 50%\r', '100%\n', 'done\n')).toBe('first\n100%\ndone\n');
    expect(through('abcdef\rXY\n')).toBe('XYcdef\n');
  });

  it('moves back one byte on a backspace, and not past the start', () => {
    expect(through('ab\bc\n')).toBe('ac\n');
    expect(through('\b\bx')).toBe('x');
  });

  it('always appends a newline at the end, even after moving back', () => {
    expect(through('abc\r\n')).toBe('abc\n');
  });

  it('handles control characters split across chunks', () => {
    expect(through('12345', '\r', 'ab', '\n')).toBe('ab345\n');
  });

  it('grows past its initial capacity', () => {
    const big = 'x'.repeat(10_000);
    expect(through(big, '\r', 'y')).toBe(`y${big.slice(1)}`);
  });
});
