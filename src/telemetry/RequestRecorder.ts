import { type Attributes, type Counter, type Histogram, type Meter, ValueType } from "@opentelemetry/api";
import type { RequestMetrics } from "../metrics/computeRequestMetrics.js";
import type { RequestRecord } from "../results/RequestRecord.js";
import {
  ATTR,
  type InstrumentDefinition,
  OPERATION_DURATION,
  REQUESTS,
  REQUESTS_IN_FLIGHT,
  TIME_PER_OUTPUT_TOKEN,
  TIME_TO_FIRST_CHUNK,
  TIME_TO_FIRST_TOKEN,
  TOKEN_USAGE,
} from "./genAiInstruments.js";
import type { ManyValueHistogram } from "./ManyValueHistogram.js";

/**
 * Folds each finished request of a run into the OpenTelemetry instruments of
 * {@link genAiInstruments}. It reads the request's record and per-chunk samples only, as the load
 * generator hands them over (`LoadHooks.onRequest`): every value is a figure tokbench already
 * computed, converted from milliseconds to seconds, never a measurement of its own. Data points
 * carry only the attributes that vary between requests (`gen_ai.token.type`, `error.type`,
 * `tokbench.request.status`); the run's own (model, provider, server) are added when the metrics
 * are collected ({@link withRunAttributes}), which keeps each record call cheap. The attribute sets
 * are built once (and once per error type), so recording a request allocates nothing but what the
 * SDK does.
 *
 * What feeds what (docs/metrics.md, "Exported metrics"):
 * - every recorded request: `gen_ai.client.operation.duration` (`e2e_ms`; `error.type` = the
 *   request's error code when it failed) and `tokbench.requests` (`tokbench.request.status`);
 * - successful requests only, as tokbench's own distributions: `gen_ai.client.token.usage`
 *   (`prompt_tokens` as input when known, `output_tokens` as output), `ttft_ms` into both
 *   `gen_ai.server.time_to_first_token` and `gen_ai.client.operation.time_to_first_chunk`, `tpot_ms`
 *   (when the client knows it) into `gen_ai.server.time_per_output_token`, and every gap between
 *   token-bearing chunks (`chunk_gap_ms`) into `gen_ai.client.operation.time_per_output_chunk`.
 */
export class RequestRecorder {
  private readonly duration: Histogram;
  private readonly tokens: Histogram;
  private readonly firstChunk: Histogram;
  private readonly perChunk: ManyValueHistogram;
  private readonly firstToken: Histogram;
  private readonly perToken: Histogram;
  private readonly requests: Counter;
  private readonly base: Attributes;
  private readonly input: Attributes;
  private readonly output: Attributes;
  private readonly succeeded: Attributes;
  private readonly failedByType = new Map<string, { duration: Attributes; requests: Attributes }>();
  /** Requests in flight, read by the gauge's callback when metrics are collected. */
  inFlight = 0;

  /** `perChunk` is `gen_ai.client.operation.time_per_output_chunk`, fed one value per chunk gap. */
  constructor(meter: Meter, perChunk: ManyValueHistogram) {
    const histogram = (def: InstrumentDefinition): Histogram =>
      meter.createHistogram(def.name, {
        unit: def.unit,
        description: def.description,
        ...(def.buckets === undefined ? {} : { advice: { explicitBucketBoundaries: [...def.buckets] } }),
      });
    this.duration = histogram(OPERATION_DURATION);
    this.tokens = histogram(TOKEN_USAGE);
    this.firstChunk = histogram(TIME_TO_FIRST_CHUNK);
    this.perChunk = perChunk;
    this.firstToken = histogram(TIME_TO_FIRST_TOKEN);
    this.perToken = histogram(TIME_PER_OUTPUT_TOKEN);
    this.requests = meter.createCounter(REQUESTS.name, {
      unit: REQUESTS.unit,
      description: REQUESTS.description,
      valueType: ValueType.INT,
    });
    this.base = {};
    this.input = { [ATTR.TOKEN_TYPE]: "input" };
    this.output = { [ATTR.TOKEN_TYPE]: "output" };
    this.succeeded = { [ATTR.REQUEST_STATUS]: "succeeded" };
    const base = this.base;
    meter
      .createObservableUpDownCounter(REQUESTS_IN_FLIGHT.name, {
        unit: REQUESTS_IN_FLIGHT.unit,
        description: REQUESTS_IN_FLIGHT.description,
        valueType: ValueType.INT,
      })
      .addCallback((result) => result.observe(this.inFlight, base));
  }

  /** Records one finished request. Called in completion order, after its metrics were computed. */
  record(record: RequestRecord, metrics: RequestMetrics): void {
    if (record.error !== null) {
      const failed = this.failedAttributes(record.error.code);
      this.duration.record(record.e2e_ms / 1000, failed.duration);
      this.requests.add(1, failed.requests);
      return;
    }
    this.duration.record(record.e2e_ms / 1000, this.base);
    this.requests.add(1, this.succeeded);
    if (record.prompt_tokens !== null) this.tokens.record(record.prompt_tokens, this.input);
    this.tokens.record(record.output_tokens, this.output);
    if (record.ttft_ms !== null) {
      this.firstToken.record(record.ttft_ms / 1000, this.base);
      this.firstChunk.record(record.ttft_ms / 1000, this.base);
    }
    if (record.tpot_ms !== null) this.perToken.record(record.tpot_ms / 1000, this.base);
    for (const gap of metrics.chunk_gaps_ms) this.perChunk.add(gap / 1000);
  }

  /** The attribute sets of a failed request, built once per error type. */
  private failedAttributes(errorType: string): { duration: Attributes; requests: Attributes } {
    let sets = this.failedByType.get(errorType);
    if (sets === undefined) {
      sets = {
        duration: { [ATTR.ERROR_TYPE]: errorType },
        requests: { [ATTR.REQUEST_STATUS]: "failed", [ATTR.ERROR_TYPE]: errorType },
      };
      this.failedByType.set(errorType, sets);
    }
    return sets;
  }
}
