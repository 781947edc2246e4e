import type { RequestLog, RequestLogWriter } from "../results/RequestLog.js";
import type { RequestRecord } from "../results/RequestRecord.js";
import type { RunRecorder } from "./RunRecorder.js";
import type { RunStore } from "./RunStore.js";
import type { SqliteRunHistory } from "./SqliteRunHistory.js";

/**
 * A run's records kept in the run database instead of memory: each record goes to the run's
 * {@link RunRecorder} as it finishes (committed at once, or held back while another process holds
 * the write lock), only the count stays here, and reading the log back gives every record in index
 * order from where it is: the database, merged with whatever the recorder still holds (in memory
 * or in its spill file). This is what keeps a run of a million requests at constant memory while
 * `--json` still prints every record, and `bench --json` equal to `show --json`, which reads the
 * same rows in the same order.
 */
export class RecordedRequestLog implements RequestLog, RequestLogWriter {
  private count = 0;
  private history: SqliteRunHistory | null = null;

  constructor(
    private readonly store: RunStore,
    /** The recorder the records go through. */
    readonly recorder: RunRecorder,
    private readonly runId: string,
  ) {}

  get length(): number {
    return this.count;
  }

  /** Hands the record to the recorder (see `RunRecorder.appendRequest`); never throws. */
  push(record: RequestRecord): void {
    this.recorder.appendRequest(record);
    this.count++;
  }

  finish(): RecordedRequestLog {
    return this;
  }

  *[Symbol.iterator](): Iterator<RequestRecord> {
    this.history ??= this.store.history() as SqliteRunHistory;
    // Both in index order. A record the recorder writes while this reads may be in both: once.
    const held = this.recorder.unstoredRequests().map((record) => this.store.asStored(this.runId, record));
    let h = 0;
    for (const record of this.history.iterateRequests(this.runId)) {
      while (h < held.length && (held[h] as RequestRecord).index < record.index)
        yield held[h++] as RequestRecord;
      if (h < held.length && (held[h] as RequestRecord).index === record.index) h++;
      yield record;
    }
    while (h < held.length) yield held[h++] as RequestRecord;
  }

  toArray(): RequestRecord[] {
    return Array.from(this);
  }

  toJSON(): RequestRecord[] {
    return this.toArray();
  }
}
