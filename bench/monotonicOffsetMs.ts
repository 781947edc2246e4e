import { performance } from "node:perf_hooks";

/**
 * Offset that turns this process's `performance.now()` into the machine-wide monotonic clock
 * (`process.hrtime`, CLOCK_MONOTONIC on Linux), in milliseconds, so timestamps taken in two
 * processes can be compared to the microsecond. Takes the tightest of several paired readings.
 */
export function monotonicOffsetMs(): number {
  let best = Number.POSITIVE_INFINITY;
  let offset = 0;
  for (let i = 0; i < 50; i++) {
    const a = performance.now();
    const h = Number(process.hrtime.bigint()) / 1e6;
    const b = performance.now();
    if (b - a < best) {
      best = b - a;
      offset = h - (a + b) / 2;
    }
  }
  return offset;
}
