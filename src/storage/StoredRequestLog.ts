import type { RequestLog, RequestLogWriter } from "../results/RequestLog.js";
import type { RequestRecord } from "../results/RequestRecord.js";
import type { RunStore } from "./RunStore.js";
import type { SqliteRunHistory } from "./SqliteRunHistory.js";

/**
 * A run's records kept in the run database instead of memory: each record is written (committed)
 * as it finishes, only the count stays in memory, and reading the log back iterates the stored rows
 * one at a time. This is what keeps a run of a million requests at constant memory while still
 * printing every record with `--json`.
 */
export class StoredRequestLog implements RequestLog, RequestLogWriter {
  readonly store: RunStore;
  readonly runId: string;
  private count = 0;
  private history: SqliteRunHistory | null = null;

  constructor(store: RunStore, runId: string) {
    this.store = store;
    this.runId = runId;
  }

  get length(): number {
    return this.count;
  }

  /** Stores the record at once (see `RunStore.appendRequest`). */
  push(record: RequestRecord): void {
    this.store.appendRequest(this.runId, record);
    this.count++;
  }

  finish(): StoredRequestLog {
    return this;
  }

  [Symbol.iterator](): Iterator<RequestRecord> {
    this.history ??= this.store.history() as SqliteRunHistory;
    return this.history.iterateRequests(this.runId);
  }

  toArray(): RequestRecord[] {
    return Array.from(this);
  }

  toJSON(): RequestRecord[] {
    return this.toArray();
  }
}
