import { TokbenchError } from "../../errors/TokbenchError.js";
import type { RequestRecord } from "../../results/RequestRecord.js";
import type { RunResult } from "../../results/RunResult.js";
import { BatchedRequestWriter } from "../BatchedRequestWriter.js";
import type { RecordingOutcome } from "../RunRecorder.js";
import type { BeginRunInput, FinishRunOptions } from "../RunStore.js";
import type { PostgresStore } from "./PostgresStore.js";

/** Options of {@link PostgresRunRecorder}. */
export interface PostgresRunRecorderOptions {
  /** The batched writer's bound on the delay from a request's end to its batch being sent, in ms. Defaults to 50. */
  maxDelayMs?: number;
}

/**
 * Records one run into a {@link PostgresStore} while it runs, as `RunRecorder` does for SQLite,
 * without a database round trip on the measurement's path: the run row is written when the run
 * starts (in the background), each finished request joins a {@link BatchedRequestWriter} and is
 * committed at most `maxDelayMs` (plus one commit) after it finished, and {@link finish} writes the
 * final row, what the writer could not store, the facts and the tests in one transaction.
 */
export class PostgresRunRecorder {
  private begun: Promise<void> | null = null;
  private beginError: TokbenchError | null = null;
  private writer: BatchedRequestWriter | null = null;
  private runId_: string | null = null;

  constructor(
    private readonly store: PostgresStore,
    private readonly options: PostgresRunRecorderOptions = {},
  ) {}

  /** The run's id once {@link beginRun} was called. */
  get runId(): string | null {
    return this.runId_;
  }

  /** Requests committed so far by the batched writer. */
  get committedRequests(): number {
    return this.writer?.committedRequests ?? 0;
  }

  /** Starts writing the run row; returns at once (the first batch waits for it). */
  beginRun(input: BeginRunInput): void {
    this.runId_ = input.run_id;
    this.begun = this.store.beginRun(input).catch((error: unknown) => {
      this.beginError = asTokbenchError(error);
    });
    const begun = this.begun;
    this.writer = new BatchedRequestWriter(
      {
        appendRequests: async (runId, records) => {
          await begun;
          if (this.beginError !== null) throw this.beginError;
          await this.store.appendRequests(runId, records);
        },
      },
      input.run_id,
      this.options.maxDelayMs === undefined ? {} : { maxDelayMs: this.options.maxDelayMs },
    );
  }

  /** Queues one finished request for the next batch. Never throws. */
  appendRequest(record: RequestRecord): void {
    this.writer?.append(record);
  }

  /**
   * Commits what is queued (for a run that failed and will not {@link finish}). Never throws;
   * returns the requests that could not be committed.
   */
  async flush(): Promise<number> {
    if (this.begun !== null) await this.begun;
    if (this.writer === null) return 0;
    await this.writer.drain();
    return this.writer.pendingRequests;
  }

  /**
   * Commits what is queued, then stores how the run ended. Never throws: the outcome says what
   * the database holds. When the run row or a batch could not be written, every request of the
   * result is offered to the final transaction (those stored already are skipped).
   */
  async finish(
    result: RunResult,
    options: Omit<FinishRunOptions, "requests"> = {},
  ): Promise<RecordingOutcome> {
    let error: TokbenchError | null = null;
    if (this.begun !== null) await this.begun;
    const drained = this.writer === null ? null : await this.writer.drain();
    const allStored = this.begun !== null && this.beginError === null && drained === null;
    let saved = false;
    try {
      await this.store.finishRun(result, { ...options, requests: allStored ? [] : result.requests });
      saved = true;
    } catch (caught) {
      error = asTokbenchError(caught);
    }
    let stored: number | null = null;
    try {
      stored = await this.store.countRequests(result.run_id);
    } catch {
      // Unreachable: the outcome says so.
    }
    return { saved, stored_requests: stored, error: saved ? null : error };
  }
}

function asTokbenchError(error: unknown): TokbenchError {
  return error instanceof TokbenchError
    ? error
    : new TokbenchError("DB_WRITE_FAILED", error instanceof Error ? error.message : String(error));
}
