import type { ArrivalProcess } from "../workload/arrivalOffsets.js";

/** How requests are sent. */
export interface LoadOptions {
  /** Measured requests to send; null to be bounded by `duration_s` alone. Defaults to 32 in the CLI. */
  requests: number | null;
  /** Stop sending new requests after this many seconds of the measured phase; null for no limit. */
  duration_s: number | null;
  /**
   * Closed loop (when `rate` is null): this many requests in flight at all times, each sent as soon
   * as the previous one on its slot ends. Open loop: the most requests in flight; a send due while
   * the cap is reached waits, and the wait shows as dispatch lag. Defaults to 1.
   */
  concurrency: number;
  /** Open-loop arrival rate in requests per second; null for a closed loop. Defaults to null. */
  rate: number | null;
  /** Spacing of open-loop arrivals. Defaults to `constant`. */
  arrival: ArrivalProcess;
  /** Requests sent one at a time before the measured phase; not recorded. Defaults to 1. */
  warmup: number;
  /** Abort the run once this many requests have failed; null to never abort. Defaults to null. */
  max_errors: number | null;
  /** Seed of the arrival process. Defaults to 0. */
  seed: number;
  /**
   * Keep the event loop polling (never asleep in `epoll_wait`) while requests are in flight, so a
   * chunk is stamped without waiting for the thread to be woken and scheduled. Costs a full core:
   * for servers on another machine only, never when the server shares this one (docs/harness.md).
   * Defaults to false.
   */
  busy_poll?: boolean;
}
