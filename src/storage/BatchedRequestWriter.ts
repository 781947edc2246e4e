import { TokbenchError } from "../errors/TokbenchError.js";
import type { RequestRecord } from "../results/RequestRecord.js";

/** Where a {@link BatchedRequestWriter} commits batches: a store reached over a network. */
export interface RequestBatchSink {
  /** Commits `records` of `runId` in one transaction; a record already stored is left as it is. */
  appendRequests(runId: string, records: readonly RequestRecord[]): Promise<void>;
}

/** Options of {@link BatchedRequestWriter}. */
export interface BatchedRequestWriterOptions {
  /**
   * The bound on the delay: a finished request's batch is sent at most this many ms after the
   * request was appended (its commit then takes one round trip). Defaults to 50.
   */
  maxDelayMs?: number;
  /** Requests per batch at most; a longer queue is sent as several batches back to back. Defaults to 2,000. */
  maxBatch?: number;
  /** After a failed batch, how long before it is tried again, in ms. Defaults to 200. */
  retryIntervalMs?: number;
  /** Told of every committed batch: the records and the time (`performance.now()`) of the commit. */
  onCommitted?: (records: readonly RequestRecord[], committedAt: number) => void;
}

/**
 * Writes a run's finished requests to a networked store in batches with a bounded delay: the
 * first request to join an empty queue starts a timer of `maxDelayMs`; when it fires the whole
 * queue goes out in one transaction (one round trip, however many requests finished meanwhile).
 * So a process killed at any moment (SIGKILL, OOM) loses only the requests appended in the last
 * `maxDelayMs` plus one commit: a row per request per round trip would cost one network round trip
 * each and fall behind at high request rates, where a batch costs one for all.
 *
 * The hot path ({@link append}) only pushes to an array and, for the first of a batch, arms a
 * timer: nothing waits on the database. Only one batch is in flight at a time (batches commit in
 * order); requests that finish meanwhile wait for the next one. A failed batch stays at the head of
 * the queue and is retried every `retryIntervalMs`, so nothing is dropped; {@link drain} reports
 * the failure if it outlasts the run.
 */
export class BatchedRequestWriter {
  private readonly maxDelayMs: number;
  private readonly maxBatch: number;
  private readonly retryIntervalMs: number;
  private readonly queue: RequestRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private lastError: TokbenchError | null = null;
  private committed = 0;

  constructor(
    private readonly sink: RequestBatchSink,
    private readonly runId: string,
    private readonly options: BatchedRequestWriterOptions = {},
  ) {
    this.maxDelayMs = Math.max(0, options.maxDelayMs ?? 50);
    this.maxBatch = Math.max(1, Math.floor(options.maxBatch ?? 2_000));
    this.retryIntervalMs = Math.max(1, options.retryIntervalMs ?? 200);
  }

  /** Requests committed so far. */
  get committedRequests(): number {
    return this.committed;
  }

  /** Requests appended and not committed yet. */
  get pendingRequests(): number {
    return this.queue.length;
  }

  /** The last batch's error, while it has not succeeded since; else null. */
  get error(): TokbenchError | null {
    return this.lastError;
  }

  /** Queues one finished request; it is committed within `maxDelayMs` plus one commit. Never throws. */
  append(record: RequestRecord): void {
    this.queue.push(record);
    this.arm(this.maxDelayMs);
  }

  /**
   * Commits everything queued now, waiting for the batch in flight first. Tries once per queued
   * batch; returns the error of a batch that failed (its requests stay queued), else null.
   */
  async drain(): Promise<TokbenchError | null> {
    for (;;) {
      this.disarm();
      if (this.inFlight !== null) {
        await this.inFlight;
        continue;
      }
      if (this.queue.length === 0) return null;
      this.inFlight = this.sendBatch();
      await this.inFlight;
      if (this.lastError !== null) {
        this.disarm();
        return this.lastError;
      }
    }
  }

  /** Requests still queued (after a failed {@link drain}), in order, for the caller to keep elsewhere. */
  takePending(): RequestRecord[] {
    this.disarm();
    return this.queue.splice(0);
  }

  private arm(delayMs: number): void {
    if (this.timer !== null || this.inFlight !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.inFlight = this.sendBatch();
    }, delayMs);
  }

  private disarm(): void {
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
  }

  private async sendBatch(): Promise<void> {
    const batch = this.queue.slice(0, this.maxBatch);
    let failed = false;
    try {
      await this.sink.appendRequests(this.runId, batch);
      this.queue.splice(0, batch.length);
      this.committed += batch.length;
      this.lastError = null;
      this.options.onCommitted?.(batch, performance.now());
    } catch (error) {
      failed = true;
      this.lastError =
        error instanceof TokbenchError
          ? error
          : new TokbenchError("DB_WRITE_FAILED", error instanceof Error ? error.message : String(error));
    } finally {
      this.inFlight = null;
    }
    // What finished while this batch was in flight has waited already: send it at once (or retry
    // a failure after a pause).
    if (this.queue.length > 0) this.arm(failed ? this.retryIntervalMs : 0);
  }
}
