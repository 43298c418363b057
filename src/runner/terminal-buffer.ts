// The small terminal emulation MAAS applies to captured script output: "\r" returns to the
// start of the current line and "\b" steps back one byte, so progress bars collapse to their
// final state, while "\n" always appends at the end.

/** Bytes written through a tiny terminal: see the file comment. */
export class TerminalBuffer {
  private data: Buffer = Buffer.alloc(4096);
  private length = 0;
  private position = 0;

  /** Applies `chunk` at the current position. */
  write(chunk: Uint8Array): void {
    if (this.position === this.length && !chunk.includes(0x0d) && !chunk.includes(0x08)) {
      this.append(chunk); // the common case: plain text at the end
      return;
    }
    for (const byte of chunk) {
      if (byte === 0x0a) {
        this.position = this.length;
        this.put(byte);
      } else if (byte === 0x0d) {
        this.position = this.lineStart();
      } else if (byte === 0x08) {
        if (this.position > 0) this.position -= 1;
      } else {
        this.put(byte);
      }
    }
  }

  /** The bytes as they stand now. */
  bytes(): Buffer {
    return Buffer.from(this.data.subarray(0, this.length));
  }

  get byteLength(): number {
    return this.length;
  }

  private lineStart(): number {
    const newline = this.position === 0 ? -1 : this.data.lastIndexOf(0x0a, this.position - 1);
    return newline + 1;
  }

  private append(chunk: Uint8Array): void {
    this.reserve(this.length + chunk.length);
    this.data.set(chunk, this.length);
    this.length += chunk.length;
    this.position = this.length;
  }

  private reserve(size: number): void {
    if (size <= this.data.length) return;
    let capacity = this.data.length;
    while (capacity < size) capacity *= 2;
    const grown = Buffer.alloc(capacity);
    this.data.copy(grown, 0, 0, this.length);
    this.data = grown;
  }

  private put(byte: number): void {
    this.reserve(this.position + 1);
    this.data[this.position] = byte;
    this.position += 1;
    if (this.position > this.length) this.length = this.position;
  }
}
