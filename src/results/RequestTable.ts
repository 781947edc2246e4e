import type { RequestError } from "../records/RequestObservation.js";
import { growTypedArray } from "./growTypedArray.js";
import type { RequestLog, RequestLogWriter } from "./RequestLog.js";
import {
  type RequestRecord,
  type ServerTimingsRecord,
  TOKEN_SOURCES,
  type TokenSource,
  TRUST_FLAGS,
  type TrustFlag,
} from "./RequestRecord.js";

/** Numeric fields of a record, in the order of {@link RequestRecord}. Null is stored as NaN. */
const RECORD_NUMBERS = [
  "index",
  "planned_offset_ms",
  "sent_offset_ms",
  "dispatch_lag_ms",
  "status",
  "ttft_ms",
  "e2e_ms",
  "decode_ms",
  "prompt_tokens",
  "output_tokens",
  "chunks",
  "decode_tps",
  "tpot_ms",
  "prefill_tps",
] as const;

/** Numeric fields of {@link ServerTimingsRecord}, in its order. */
const TIMING_NUMBERS = [
  "prompt_tokens",
  "prompt_ms",
  "prefill_tps",
  "output_tokens",
  "decode_ms",
  "decode_tps",
  "cached_tokens",
] as const;

const STRIDE = RECORD_NUMBERS.length + TIMING_NUMBERS.length;
const DECODE_SOURCES = [null, "client", "server"] as const;
const INITIAL_CAPACITY = 1024;

/**
 * Every request record of a run, stored by column in typed arrays: about 180 bytes a request
 * instead of about 670 as objects, so a run of 100,000 requests holds ~18 MB, not ~67 MB, and the
 * garbage collector has one array to scan instead of 100,000 objects (bench/harness.ts measures
 * the run's peak RSS). Records read back ({@link get}, iteration, {@link toJSON}) are equal to the
 * ones pushed, field for field; numbers round-trip exactly (float64).
 */
export class RequestTable implements RequestLog, RequestLogWriter {
  private numbers = new Float64Array(INITIAL_CAPACITY * STRIDE);
  private flags = new Uint16Array(INITIAL_CAPACITY);
  private tokenSource = new Uint8Array(INITIAL_CAPACITY);
  private decodeSource = new Uint8Array(INITIAL_CAPACITY);
  /** 0: no server timings; else 1 + index into {@link timingSources}. */
  private timingSource = new Uint16Array(INITIAL_CAPACITY);
  private readonly timingSources: string[] = [];
  /** Errors are rare: kept by request position. */
  private readonly errors = new Map<number, RequestError>();
  private count = 0;

  /** A table holding `records`, in order. */
  static from(records: Iterable<RequestRecord>): RequestTable {
    const table = new RequestTable();
    for (const record of records) table.push(record);
    return table;
  }

  /** Requests held. */
  get length(): number {
    return this.count;
  }

  /** Appends one record (copied: later changes to the object do not reach the table). */
  push(record: RequestRecord): void {
    if (this.count === this.flags.length) this.grow();
    const row = this.count;
    const base = row * STRIDE;
    const numbers = this.numbers;
    for (let f = 0; f < RECORD_NUMBERS.length; f++) {
      numbers[base + f] = record[RECORD_NUMBERS[f] as (typeof RECORD_NUMBERS)[number]] ?? Number.NaN;
    }
    const timings = record.server_timings;
    if (timings === null) {
      this.timingSource[row] = 0;
    } else {
      for (let f = 0; f < TIMING_NUMBERS.length; f++) {
        numbers[base + RECORD_NUMBERS.length + f] =
          timings[TIMING_NUMBERS[f] as (typeof TIMING_NUMBERS)[number]] ?? Number.NaN;
      }
      let source = this.timingSources.indexOf(timings.source);
      if (source < 0) source = this.timingSources.push(timings.source) - 1;
      this.timingSource[row] = source + 1;
    }
    let mask = 0;
    for (const flag of record.flags) mask |= 1 << TRUST_FLAGS.indexOf(flag);
    this.flags[row] = mask;
    this.tokenSource[row] = TOKEN_SOURCES.indexOf(record.token_source);
    this.decodeSource[row] = DECODE_SOURCES.indexOf(record.decode_tps_source);
    if (record.error !== null) this.errors.set(row, { ...record.error });
    this.count++;
  }

  /** The record at `position` (0-based, in the order pushed), or undefined outside the table. */
  get(position: number): RequestRecord | undefined {
    if (!Number.isInteger(position) || position < 0 || position >= this.count) return undefined;
    const base = position * STRIDE;
    const n = (field: number): number | null => {
      const value = this.numbers[base + field] as number;
      return Number.isNaN(value) ? null : value;
    };
    const flags: TrustFlag[] = [];
    const mask = this.flags[position] as number;
    for (let f = 0; f < TRUST_FLAGS.length; f++)
      if ((mask & (1 << f)) !== 0) flags.push(TRUST_FLAGS[f] as TrustFlag);
    const source = this.timingSource[position] as number;
    let serverTimings: ServerTimingsRecord | null = null;
    if (source > 0) {
      const t = RECORD_NUMBERS.length;
      serverTimings = {
        source: this.timingSources[source - 1] as string,
        prompt_tokens: n(t),
        prompt_ms: n(t + 1),
        prefill_tps: n(t + 2),
        output_tokens: n(t + 3),
        decode_ms: n(t + 4),
        decode_tps: n(t + 5),
        cached_tokens: n(t + 6),
      };
    }
    const error = this.errors.get(position);
    return {
      index: n(0) as number,
      planned_offset_ms: n(1) as number,
      sent_offset_ms: n(2) as number,
      dispatch_lag_ms: n(3) as number,
      status: n(4),
      ttft_ms: n(5),
      e2e_ms: n(6) as number,
      decode_ms: n(7),
      prompt_tokens: n(8),
      output_tokens: n(9) as number,
      token_source: TOKEN_SOURCES[this.tokenSource[position] as number] as TokenSource,
      chunks: n(10) as number,
      decode_tps: n(11),
      decode_tps_source: DECODE_SOURCES[this.decodeSource[position] as number] ?? null,
      tpot_ms: n(12),
      prefill_tps: n(13),
      flags,
      error: error === undefined ? null : { ...error },
      server_timings: serverTimings,
    };
  }

  *[Symbol.iterator](): Iterator<RequestRecord> {
    for (let i = 0; i < this.count; i++) yield this.get(i) as RequestRecord;
  }

  /** The table itself: it is its own log. */
  finish(): RequestTable {
    return this;
  }

  /** Every record as a plain array (one object each: for output, not for holding). */
  toArray(): RequestRecord[] {
    return Array.from(this);
  }

  /** JSON of a table is the array of its records: the public result format's `requests`. */
  toJSON(): RequestRecord[] {
    return this.toArray();
  }

  private grow(): void {
    const capacity = this.flags.length * 2;
    this.numbers = growTypedArray(this.numbers, capacity * STRIDE);
    this.flags = growTypedArray(this.flags, capacity);
    this.tokenSource = growTypedArray(this.tokenSource, capacity);
    this.decodeSource = growTypedArray(this.decodeSource, capacity);
    this.timingSource = growTypedArray(this.timingSource, capacity);
  }
}
