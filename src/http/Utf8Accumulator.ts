/**
 * Text appended piece by piece into one growing UTF-8 buffer: the pieces themselves become garbage
 * at once, instead of staying alive as a chain of concatenated strings until the text is read.
 * A surrogate pair split across two pieces is joined, as string concatenation would.
 */
export class Utf8Accumulator {
  private bytes = Buffer.allocUnsafe(256);
  private length = 0;
  /** A high surrogate that ended the last piece, waiting for its low half. */
  private pendingHigh = "";

  append(piece: string): void {
    let text = this.pendingHigh === "" ? piece : this.pendingHigh + piece;
    this.pendingHigh = "";
    const last = text.charCodeAt(text.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.pendingHigh = text.slice(-1);
      text = text.slice(0, -1);
    }
    // A UTF-16 code unit takes at most 3 UTF-8 bytes.
    const worst = this.length + text.length * 3;
    if (worst > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(worst, this.bytes.length * 2));
      this.bytes.copy(grown, 0, 0, this.length);
      this.bytes = grown;
    }
    this.length += this.bytes.write(text, this.length, "utf8");
  }

  /** Everything appended, as one string. */
  toString(): string {
    const body = this.bytes.toString("utf8", 0, this.length);
    return this.pendingHigh === "" ? body : body + this.pendingHigh;
  }
}
