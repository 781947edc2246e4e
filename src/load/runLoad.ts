import { performance } from "node:perf_hooks";
import type { RequestMetrics } from "../metrics/computeRequestMetrics.js";
import { computeRequestMetrics } from "../metrics/computeRequestMetrics.js";
import { RunSummarizer } from "../metrics/RunSummarizer.js";
import type { RequestError } from "../records/RequestObservation.js";
import type { RequestLog, RequestLogWriter } from "../results/RequestLog.js";
import type { RequestRecord } from "../results/RequestRecord.js";
import { RequestTable } from "../results/RequestTable.js";
import type { RunDistributions } from "../results/RunDistributions.js";
import type { RunStatus } from "../results/RunResult.js";
import type { RunSummary } from "../results/RunSummary.js";
import type { Target, WorkloadRequest } from "../targets/Target.js";
import { arrivalOffsets } from "../workload/arrivalOffsets.js";
import { interruptReason } from "./interruptReason.js";
import type { LoadOptions } from "./LoadOptions.js";

/** Callbacks the load generator calls; printing, progress and storage hang off these. */
export interface LoadHooks {
  /** A measured request finished (successfully or not). Called in completion order. */
  onRequest?(record: RequestRecord, metrics: RequestMetrics): void;
  /** The warmup is over and the measured phase starts. */
  onMeasureStart?(): void;
  /**
   * The number of requests in flight (warmup included) changed: called as each is handed to the
   * target and as each ends, with the new count. Must be cheap: it runs on the send path.
   */
  onInFlight?(requests: number): void;
}

/** What the load generator returns: every recorded request and the summary over them. */
export interface LoadOutcome {
  status: RunStatus;
  status_reason: string | null;
  requests: RequestLog;
  summary: RunSummary;
  /** The histograms behind the summary. */
  distributions: RunDistributions;
}

/** Inputs of {@link runLoad}. */
export interface RunLoadInput {
  target: Target;
  /** The request to send as measured request `index` (warmup requests use negative indices). */
  requestAt(index: number): WorkloadRequest;
  load: LoadOptions;
  /** Whether prompt lengths came from the target's own tokenizer. */
  prompt_tokens_exact: boolean;
  /** Physical decode ceiling of one stream (tok/s), when known; see computeRequestMetrics. */
  decode_ceiling_tps?: number | null;
  hooks?: LoadHooks;
  /** Stops the run: no new sends, requests in flight are cancelled, the outcome is `interrupted`. */
  signal?: AbortSignal;
  /**
   * Where finished records go. Defaults to a `RequestTable` in memory (~180 bytes a request); the
   * CLI passes the database (or a spill file) so a run of millions of requests stays small.
   */
  requestLog?: RequestLogWriter;
}

/**
 * The load generator. Sends warmup requests, then the measured requests in a closed loop (fixed
 * concurrency) or an open loop (constant or Poisson arrivals), and folds each finished request into
 * the summary as it arrives. The hot path does only what measuring needs: it builds no strings,
 * and per-request work after the stream ends is the metric computation.
 *
 * A request refused with HTTP 401 or 403 (warmup included) aborts the run, status `aborted`, reason
 * `authentication failed: ...` with the server's status and message: every other request would fail
 * the same way, and sending them all would only hammer the server.
 */
export async function runLoad(input: RunLoadInput): Promise<LoadOutcome> {
  const { target, load, hooks = {}, signal } = input;
  const summarizer = new RunSummarizer();
  const requests = input.requestLog ?? new RequestTable();
  const stop = new AbortController();
  // One signal for every request: the HTTP client shares one listener among its subscribers
  // (subscribeAbort), and a controller per request cost ~1 KB of heap per request in flight.
  let inFlight = 0;
  let polling = false;
  const poll = (): void => {
    if (inFlight > 0) setImmediate(poll);
    else polling = false;
  };
  const send = async (request: WorkloadRequest, plannedAt: number) => {
    inFlight++;
    hooks.onInFlight?.(inFlight);
    if (load.busy_poll === true && !polling) {
      polling = true;
      setImmediate(poll);
    }
    try {
      return await target.send(request, { planned_at_ms: plannedAt, signal: stop.signal });
    } finally {
      inFlight--;
      hooks.onInFlight?.(inFlight);
    }
  };
  const sleeper = new Sleeper(stop.signal);
  let status: RunStatus = "completed";
  let statusReason: string | null = null;
  const onAbort = (): void => {
    if (status === "completed") {
      status = "interrupted";
      statusReason = interruptReason(signal);
    }
    stop.abort();
  };
  if (signal?.aborted) onAbort();
  signal?.addEventListener("abort", onAbort, { once: true });

  /** Aborts the run on a refused credential: every other request would fail the same way. */
  const abortOnAuthFailure = (error: RequestError | null): void => {
    if (error === null || (error.status !== 401 && error.status !== 403) || status !== "completed") return;
    status = "aborted";
    statusReason = `authentication failed: ${error.message}`;
    stop.abort();
  };

  for (let w = 0; w < load.warmup && !stop.signal.aborted; w++) {
    abortOnAuthFailure((await send(input.requestAt(-1 - w), performance.now())).error);
  }
  hooks.onMeasureStart?.();

  const runStart = performance.now();
  const deadline = load.duration_s === null ? Number.POSITIVE_INFINITY : runStart + load.duration_s * 1000;
  const limit = load.requests ?? Number.POSITIVE_INFINITY;
  let nextIndex = 0;
  let failures = 0;

  /** Sends one request and records it; resolves with the time its stream ended. */
  const sendOne = async (index: number, plannedAt: number): Promise<number> => {
    const request = input.requestAt(index);
    const obs = await send(request, plannedAt);
    if (stop.signal.aborted && status === "interrupted") {
      summarizer.addCancelled();
      return obs.end_at_ms;
    }
    const metrics = computeRequestMetrics(obs, {
      index,
      run_start_ms: runStart,
      max_tokens: request.max_tokens,
      prompt_tokens_exact: request.prompt_tokens_exact,
      unique_from_token: request.unique_from_token ?? null,
      prompt_chars: request.prompt.length,
      decode_ceiling_tps: input.decode_ceiling_tps ?? null,
    });
    summarizer.add(metrics);
    requests.push(metrics.record);
    hooks.onRequest?.(metrics.record, metrics);
    if (metrics.record.error !== null) {
      failures++;
      abortOnAuthFailure(metrics.record.error);
      if (load.max_errors !== null && failures >= load.max_errors && status === "completed") {
        status = "aborted";
        statusReason = `${failures} requests failed (--max-errors ${load.max_errors})`;
        stop.abort();
      }
    }
    return obs.end_at_ms;
  };

  const mayContinue = (): boolean =>
    !stop.signal.aborted && nextIndex < limit && performance.now() < deadline;

  if (load.rate === null) {
    // A closed-loop slot means to send its next request the moment the previous one ended, so
    // that is the planned time: the dispatch lag then shows the harness's own per-request cost
    // (metrics, storage hooks) and event-loop delay.
    const worker = async (): Promise<void> => {
      let plannedAt = runStart;
      while (mayContinue()) {
        plannedAt = await sendOne(nextIndex++, plannedAt);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, load.concurrency) }, worker));
  } else {
    // The set's size and one waiter, not Promise.race over the requests in flight: racing thousands
    // of promises on every send costs O(in flight) per request and piles up reactions.
    let wakeSender: (() => void) | null = null;
    const wake = (): void => {
      const w = wakeSender;
      wakeSender = null;
      w?.();
    };
    stop.signal.addEventListener("abort", wake, { once: true });
    const running = new Set<Promise<unknown>>();
    const offsets = arrivalOffsets(load.rate, load.arrival, load.seed);
    while (mayContinue()) {
      const plannedAt = runStart + (offsets.next().value as number);
      if (plannedAt >= deadline) break;
      await waitUntil(plannedAt, stop.signal, sleeper);
      while (running.size >= load.concurrency && !stop.signal.aborted) {
        await new Promise<void>((resolve) => {
          wakeSender = resolve;
        });
      }
      if (stop.signal.aborted) break;
      const p: Promise<unknown> = sendOne(nextIndex++, plannedAt).finally(() => {
        running.delete(p);
        wake();
      });
      running.add(p);
    }
    await Promise.all(running);
  }

  signal?.removeEventListener("abort", onAbort);
  return {
    status,
    status_reason: statusReason,
    requests: requests.finish(),
    summary: summarizer.summary(),
    distributions: summarizer.distributions(),
  };
}

/**
 * Waits until `performance.now()` reaches `deadline`, never returning early. Node timers run on a
 * millisecond loop clock and fire up to a millisecond early or a millisecond or more late; the last
 * stretch is waited out with `setImmediate`, which still lets every stream's I/O run in between but
 * keeps a core busy. So the timer sleeps to about a millisecond before the deadline and the rest is
 * spun only while spinning has cost under {@link SPIN_SHARE} of the time: at low request rates that
 * removes the timer's lateness from the dispatch lag, at high rates (where the last millisecond of
 * every gap would add up to a busy core, taken from the server being measured when it runs on the
 * same machine) the timer sleeps to the deadline itself and only sub-millisecond rests are spun.
 */
async function waitUntil(deadline: number, signal: AbortSignal, sleeper: Sleeper): Promise<void> {
  for (
    let wait = deadline - performance.now();
    wait > 0 && !signal.aborted;
    wait = deadline - performance.now()
  ) {
    const spin = sleeper.spinShare() < SPIN_SHARE;
    if (spin && wait >= 2) {
      await sleeper.sleep(Math.floor(wait - 1));
    } else if (!spin && wait >= 1) {
      await sleeper.sleep(Math.ceil(wait));
    } else {
      await sleeper.spinUntil(deadline);
    }
  }
}

/** Most of the time the dispatcher may spend spinning before a send. */
const SPIN_SHARE = 0.05;

/**
 * Timer sleeps that end early when the run stops, with one listener on the stop signal for the
 * whole run (the open-loop sender is the only sleeper, and sleeps one at a time), and the account of
 * how much the sender spun.
 */
class Sleeper {
  private wake: (() => void) | null = null;
  private spinMs = 0;
  private windowStart = performance.now();
  private readonly signal: AbortSignal;

  constructor(signal: AbortSignal) {
    this.signal = signal;
    signal.addEventListener("abort", () => this.wake?.(), { once: true });
  }

  /**
   * Yields to the event loop with `setImmediate` until `deadline` or the stop, and records the time
   * spun. One promise and one callback for the whole spin: an awaited `setImmediate` per turn made
   * the spin a fifth of the client's allocations at 2,000 streams, and so of its GC pauses.
   */
  spinUntil(deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const start = performance.now();
      const turn = (): void => {
        const now = performance.now();
        if (now >= deadline || this.signal.aborted) {
          this.spinMs += now - start;
          resolve();
        } else {
          setImmediate(turn);
        }
      };
      setImmediate(turn);
    });
  }

  /** Share of the time spent spinning, over a window of about the last second. */
  spinShare(): number {
    const now = performance.now();
    const elapsed = now - this.windowStart;
    if (elapsed > 1000) {
      // Halve the history each second: recent behaviour decides.
      this.spinMs /= 2;
      this.windowStart = now - 500;
      return this.spinMs / 500;
    }
    return elapsed > 0 ? this.spinMs / Math.max(elapsed, 100) : 0;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
