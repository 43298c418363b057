// Output written straight to file descriptors 1 and 2. process.stdout and process.stderr are
// streams, and making the first of them loads the stream and socket modules and sets up a socket
// for a pipe: about a millisecond, a good part of what --version or `collect` to a pipe costs.
import { writeSync } from 'node:fs';
import { hasCode } from '../errors.js';

/**
 * Writes `text` to descriptor `fd` (1 or 2). A descriptor that cannot take it all now (a
 * non-blocking pipe that is full) gets the rest through the stream; a closed one (EPIPE, EBADF)
 * gets nothing, as nobody reads it.
 */
export function writeToDescriptor(fd: 1 | 2, text: string): void {
  const bytes = Buffer.from(text);
  let done = 0;
  try {
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
  } catch (error) {
    if (hasCode(error, 'EAGAIN')) (fd === 1 ? process.stdout : process.stderr).write(bytes.subarray(done));
    else if (!hasCode(error, 'EPIPE', 'EBADF')) throw error;
  }
}

/** Standard output, without its stream. */
export const standardOutput = { write: (text: string): void => writeToDescriptor(1, text) };

/** Standard error, without its stream. */
export const standardError = { write: (text: string): void => writeToDescriptor(2, text) };
