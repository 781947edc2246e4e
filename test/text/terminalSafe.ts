import assert from "node:assert/strict";

/**
 * Code points a terminal acts on, written out independently of the sanitiser: C0 controls but the
 * line feed and tab that output keeps on purpose, DEL and C1, the bidirectional marks, embeddings,
 * overrides and isolates, and the line and paragraph separators.
 */
const RAW_RANGES: readonly (readonly [number, number])[] = [
  [0x00, 0x08],
  [0x0b, 0x1f],
  [0x7f, 0x9f],
  [0x61c, 0x61c],
  [0x200e, 0x200f],
  [0x2028, 0x202e],
  [0x2066, 0x2069],
];

/** Index of the first raw control character in `text`, or -1. */
export function rawControlAt(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (RAW_RANGES.some(([lo, hi]) => c >= lo && c <= hi)) return i;
  }
  return -1;
}

/** Fails, quoting the spot, when `text` holds a raw control character. */
export function assertTerminalSafe(text: string, what: string): void {
  const at = rawControlAt(text);
  if (at < 0) return;
  assert.fail(
    `${what} holds a raw control character at ${at}: ${JSON.stringify(text.slice(Math.max(0, at - 40), at + 40))}`,
  );
}
