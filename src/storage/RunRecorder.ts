import { appendFileSync, readFileSync, rmSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { isTokbenchError, TokbenchError } from "../errors/TokbenchError.js";
import type { RequestRecord } from "../results/RequestRecord.js";
import type { RunResult } from "../results/RunResult.js";
import { RecordedRequestLog } from "./RecordedRequestLog.js";
import type { BeginRunInput, FinishRunOptions, RunStore } from "./RunStore.js";

/** Options of {@link RunRecorder}. */
export interface RunRecorderOptions {
  /**
   * Finished requests held in memory while the database is locked by another process. Beyond it,
   * requests are appended to {@link spillPath} instead (one JSON line each), so memory stays
   * bounded and none is lost. About 0.4 KB each. Defaults to 50,000.
   */
  maxPendingRequests?: number;
  /** How long {@link RunRecorder.finish} waits for a locked database, in ms. Defaults to 60,000. */
  finishWaitMs?: number;
  /** How often writes held back by a lock are tried again during the run, in ms. Defaults to 100. */
  retryIntervalMs?: number;
  /**
   * The file requests go to when they cannot be held in memory (past the ceiling, or on
   * {@link RunRecorder.quit}). Defaults to none: they are then held in memory, whatever their number,
   * since the recorder is the only place a run's records are kept.
   */
  spillPath?: (runId: string) => string;
  /** Told once per phase when a write finds the database locked, so the user knows why. */
  onLocked?: (phase: "run" | "finish", waitMs: number) => void;
}

/** How storing a run went. */
export interface RecordingOutcome {
  /** The run row holds its final status, summary and every request. */
  saved: boolean;
  /** Requests of the run the database holds (null when it could not be read). */
  stored_requests: number | null;
  /** Why it was not saved (`DB_LOCKED`, `DB_WRITE_FAILED`, ...), else null. */
  error: TokbenchError | null;
}

/** What {@link RunRecorder.quit} could store, and where the rest went. */
export interface QuitOutcome {
  /** Requests of the run the database holds (null when it could not be read). */
  stored_requests: number | null;
  /** Finished requests not in the database but in the spill file. */
  spilled_requests: number;
  /** The spill file, when something is in it. */
  spill_path: string | null;
  /** Finished requests neither in the database nor in a spill file (no spill file, or it failed). */
  lost_requests: number;
}

/**
 * Requests written in one transaction when a backlog is flushed, one batch per retry: about a
 * millisecond of blocking each, and 5,000 requests a second drained at the default interval.
 */
const FLUSH_BATCH = 500;

function isLocked(error: unknown): boolean {
  return isTokbenchError(error, "DB_LOCKED");
}

/**
 * Records one run into a {@link RunStore} while it runs, without letting the database slow the
 * measurement or lose a finished request:
 *
 * - Normally each request is committed the moment it finishes, as {@link RunStore.appendRequest}
 *   does, so a killed run keeps every finished request.
 * - During the run a write never waits for a lock (busy timeout 0: waiting would block the event
 *   loop that stamps the tokens). When another process holds the write lock, the run row and the
 *   finished requests queue in memory, in order, and are written as soon as the lock is free (a
 *   timer retries every `retryIntervalMs`; a backlog is written up to 500 requests per
 *   transaction). Past `maxPendingRequests` they go to the spill file instead.
 * - {@link finish} waits up to `finishWaitMs` for the lock, then stores the final row, every
 *   request not stored yet (from the result) and the tests in one transaction.
 * - Any other storage error stops writing for the run; the run itself goes on, and {@link finish}
 *   tries once more at the end. The caller reports what was kept.
 */
export class RunRecorder {
  private readonly maxPending: number;
  private readonly finishWaitMs: number;
  private readonly retryIntervalMs: number;
  private begin_: BeginRunInput | null = null;
  private begun = false;
  private readonly pending: RequestRecord[] = [];
  private spilled = 0;
  private failure: TokbenchError | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly toldLocked = { run: false, finish: false };

  constructor(
    private readonly store: RunStore,
    private readonly options: RunRecorderOptions = {},
  ) {
    this.maxPending = Math.max(0, Math.floor(options.maxPendingRequests ?? 50_000));
    this.finishWaitMs = Math.max(0, options.finishWaitMs ?? 60_000);
    this.retryIntervalMs = Math.max(1, options.retryIntervalMs ?? 100);
  }

  /** The run's id once {@link beginRun} was called. */
  get runId(): string | null {
    return this.begin_?.run_id ?? null;
  }

  /** Requests waiting in memory for the lock. */
  get pendingRequests(): number {
    return this.pending.length;
  }

  /** Records that the run started (the run row, status `running`). */
  beginRun(input: BeginRunInput): void {
    this.begin_ = input;
    this.store.setBusyTimeout(0);
    this.flush();
  }

  /**
   * Records one finished request. Never throws and never drops it: a request that cannot be
   * committed now waits in memory or in the spill file, and a failure is reported by {@link finish}.
   */
  appendRequest(record: RequestRecord): void {
    if (this.begin_ !== null && this.failure === null && this.begun && this.pending.length === 0) {
      try {
        this.store.appendRequest(this.begin_.run_id, record);
        return;
      } catch (error) {
        if (isLocked(error)) this.tellLocked("run");
        else this.fail(error);
      }
    }
    // Behind a backlog, in order; the timer writes it (appending here too would put a batch
    // insert on the path of every request that finishes while the backlog drains). After a
    // failure nothing retries: what waits is stored by finish(), or goes to the result file.
    if (this.pending.length >= this.maxPending && this.spill([record])) return;
    this.pending.push(record);
    if (this.failure === null && this.begin_ !== null) this.startTimer();
  }

  /**
   * The finished requests not in the database yet (waiting in memory or in the spill file), in
   * index order. Empty in the usual case, where each request is committed as it finishes. Those in
   * the spill file are read back into memory to be ordered: the spill file only exists after more
   * than `maxPendingRequests` requests waited on another process's lock.
   */
  unstoredRequests(): RequestRecord[] {
    const records = [...this.readSpillFile(), ...this.pending];
    return records.sort((a, b) => a.index - b.index);
  }

  /**
   * Stores how the run ended, waiting up to `finishWaitMs` for a lock held by another process, or
   * until `signal` aborts (the user does not want to wait). Never throws: the outcome says what
   * the database holds. `options` go to `RunStore.finishRun` (the printed text, tags).
   */
  async finish(
    result: RunResult,
    signal?: AbortSignal,
    options: Omit<FinishRunOptions, "secrets"> = {},
  ): Promise<RecordingOutcome> {
    this.stopTimer();
    const deadline = performance.now() + this.finishWaitMs;
    let error: TokbenchError | null = null;
    let saved = false;
    // Each try may block for its busy timeout; the sleeps between them keep signals answered.
    this.store.setBusyTimeout(Math.min(200, this.finishWaitMs));
    try {
      for (;;) {
        try {
          this.store.finishRun(result, {
            ...options,
            secrets: this.begin_?.secrets ?? [],
            // A log read back through this recorder: only what it still holds is missing. Any
            // other result (records kept in memory) is stored whole, less what is there already.
            requests:
              result.requests instanceof RecordedRequestLog && result.requests.recorder === this
                ? this.unstoredRequests()
                : result.requests,
          });
          saved = true;
          this.pending.length = 0;
          error = null;
          this.removeSpillFile();
          break;
        } catch (caught) {
          error = asTokbenchError(caught);
          if (!isLocked(caught) || performance.now() >= deadline || signal?.aborted === true) break;
          this.tellLocked("finish");
          await sleep(200);
        }
      }
    } finally {
      this.store.setBusyTimeout(null);
    }
    return {
      saved,
      stored_requests: this.countStored(result.run_id),
      error: saved ? null : (error ?? this.failure),
    };
  }

  /**
   * For a process about to end without {@link finish} (a second Ctrl-C, or the run failed): one
   * last synchronous try, waiting at most `waitMs` for the lock, to store what is in memory, and,
   * given a `reason`, to mark the run `interrupted` with it (without a summary); what still cannot
   * be stored goes to the spill file.
   */
  quit(reason: string | null, waitMs = 1000): QuitOutcome {
    const runId = this.begin_?.run_id ?? null;
    if (runId === null)
      return { stored_requests: null, spilled_requests: 0, spill_path: null, lost_requests: 0 };
    this.store.setBusyTimeout(waitMs);
    this.flush(Number.POSITIVE_INFINITY);
    this.stopTimer();
    try {
      if (this.begun && reason !== null) this.store.markInterrupted(runId, reason);
    } catch {
      // Locked or failing: the run reads back as `incomplete`, which is still true.
    }
    this.store.setBusyTimeout(null);
    const left = this.pending.splice(0);
    const before = this.spilled;
    this.spill(left);
    return {
      stored_requests: this.countStored(runId),
      spilled_requests: this.spilled,
      spill_path: this.spillFile,
      lost_requests: left.length - (this.spilled - before),
    };
  }

  /** The spill file when requests were written to it, else null. */
  get spillFile(): string | null {
    const runId = this.begin_?.run_id;
    return this.spilled === 0 || runId === undefined ? null : (this.options.spillPath?.(runId) ?? null);
  }

  /** Writes what is queued, in order, up to `limit` requests; stops at a lock and retries later. */
  private flush(limit = FLUSH_BATCH): void {
    if (this.begin_ === null || this.failure !== null) return;
    try {
      if (!this.begun) {
        this.store.beginRun(this.begin_);
        this.begun = true;
      }
      let left = limit;
      while (this.pending.length > 0 && left > 0) {
        const batch = this.pending.slice(0, Math.min(FLUSH_BATCH, left));
        this.store.appendRequests(this.begin_.run_id, batch);
        this.pending.splice(0, batch.length);
        left -= batch.length;
      }
    } catch (error) {
      if (!isLocked(error)) {
        this.fail(error);
        return;
      }
      this.tellLocked("run");
    }
    if (this.begun && this.pending.length === 0) this.stopTimer();
    else this.startTimer();
  }

  /** Appends `records` to the spill file; false when there is none or it refused them. */
  private spill(records: readonly RequestRecord[]): boolean {
    const runId = this.begin_?.run_id;
    const path = runId === undefined ? undefined : this.options.spillPath?.(runId);
    if (path === undefined) return false;
    if (records.length === 0) return true;
    try {
      appendFileSync(path, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
      this.spilled += records.length;
      return true;
    } catch {
      // Nowhere to put them: the caller keeps them in memory.
      return false;
    }
  }

  private readSpillFile(): RequestRecord[] {
    const path = this.spillFile;
    if (path === null) return [];
    return readFileSync(path, "utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as RequestRecord);
  }

  /** Deletes the spill file (once the run is stored whole, or its whole result is elsewhere). */
  removeSpillFile(): void {
    const path = this.spillFile;
    if (path === null) return;
    try {
      rmSync(path, { force: true });
      this.spilled = 0;
    } catch {
      // Left behind: it only repeats what is stored.
    }
  }

  private fail(error: unknown): void {
    this.failure = asTokbenchError(error);
    this.stopTimer();
  }

  private tellLocked(phase: "run" | "finish"): void {
    if (this.toldLocked[phase]) return;
    this.toldLocked[phase] = true;
    this.options.onLocked?.(phase, phase === "finish" ? this.finishWaitMs : 0);
  }

  private startTimer(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.flush(), this.retryIntervalMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }

  private countStored(runId: string): number | null {
    try {
      return this.store.countRequests(runId);
    } catch {
      return null;
    }
  }
}

function asTokbenchError(error: unknown): TokbenchError {
  return error instanceof TokbenchError
    ? error
    : new TokbenchError("DB_WRITE_FAILED", error instanceof Error ? error.message : String(error), {
        cause: error,
      });
}
