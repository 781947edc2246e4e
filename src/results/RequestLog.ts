import type { RequestRecord } from "./RequestRecord.js";

/**
 * A run's request records, wherever they are kept: in memory (`RequestTable`), in the run
 * database (`RecordedRequestLog`) or in a spill file (`SpillFileRequestLog`). Iterating gives the
 * records in the order they finished, one object at a time, so a run of a million requests can be
 * read (printed, exported) without holding a million objects. Its JSON is the array of records:
 * the result format's `requests[]`.
 */
export interface RequestLog extends Iterable<RequestRecord> {
  /** Records held. */
  readonly length: number;
  /** Every record as a plain array (one object each: for small runs and tests, not for holding). */
  toArray(): RequestRecord[];
  toJSON(): RequestRecord[];
}

/** Where the load generator puts each finished record as it finishes. */
export interface RequestLogWriter {
  push(record: RequestRecord): void;
  /** The log of every record pushed, once the run is over. */
  finish(): RequestLog;
}
