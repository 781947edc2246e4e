import { seededRandom } from "./seededRandom.js";

/** How open-loop requests are spaced in time. */
export type ArrivalProcess = "constant" | "poisson";

/**
 * Planned send offsets (ms from the run's start) for an open-loop load at `rate` requests per
 * second: evenly spaced (`constant`, request i at i/rate) or a Poisson process (exponential gaps of
 * mean 1/rate, reproducible from `seed`). The first request is at 0 either way.
 */
export function* arrivalOffsets(rate: number, process: ArrivalProcess, seed: number): Generator<number> {
  const meanGapMs = 1000 / rate;
  const random = seededRandom(seed);
  let t = 0;
  for (let i = 0; ; i++) {
    yield t;
    t = process === "constant" ? (i + 1) * meanGapMs : t - Math.log(1 - random()) * meanGapMs;
  }
}
