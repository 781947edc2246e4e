import { type HrTime, ValueType } from "@opentelemetry/api";
import { hrTime } from "@opentelemetry/core";
import { emptyResource } from "@opentelemetry/resources";
import {
  AggregationTemporality,
  type CollectionResult,
  DataPointType,
  type MetricProducer,
} from "@opentelemetry/sdk-metrics";
import type { InstrumentDefinition } from "./genAiInstruments.js";

/**
 * A cumulative explicit-bucket histogram for an instrument fed many values per request (one per
 * chunk of a stream), offered to the SDK's readers as a `MetricProducer` so that OTLP and
 * Prometheus export it like the SDK's own instruments. Adding a value is a bucket search over a
 * dozen boundaries and four updates, against about half a microsecond per call through the SDK's
 * instrument API (context, time and attribute lookup on every call): for a 256-token stream that is
 * the difference between a few microseconds and over a hundred at the end of each request.
 *
 * Buckets follow OpenTelemetry's explicit-bucket rule: bucket `i` counts values `v` with
 * `boundaries[i-1] < v <= boundaries[i]`, the last one everything above the last boundary.
 * The data point carries no attributes of its own; the run's are added at collection, as for every
 * other instrument.
 */
export class ManyValueHistogram implements MetricProducer {
  private readonly boundaries: readonly number[];
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;
  private readonly startTime: HrTime = hrTime();

  constructor(
    private readonly definition: InstrumentDefinition,
    private readonly scope: { name: string; version: string },
  ) {
    this.boundaries = definition.buckets ?? [];
    this.counts = new Array<number>(this.boundaries.length + 1).fill(0);
  }

  /** Adds one value (in the instrument's unit). */
  add(value: number): void {
    const b = this.boundaries;
    let lo = 0;
    let hi = b.length;
    // First boundary >= value: its bucket holds the value.
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((b[mid] as number) < value) lo = mid + 1;
      else hi = mid;
    }
    this.counts[lo] = (this.counts[lo] as number) + 1;
    this.sum += value;
    this.count++;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  async collect(): Promise<CollectionResult> {
    const { name, description, unit } = this.definition;
    return {
      // Readers keep the SDK's resource and ignore a producer's.
      resourceMetrics: {
        resource: emptyResource(),
        scopeMetrics: [
          {
            scope: this.scope,
            metrics: [
              {
                descriptor: { name, description, unit, valueType: ValueType.DOUBLE },
                aggregationTemporality: AggregationTemporality.CUMULATIVE,
                dataPointType: DataPointType.HISTOGRAM,
                dataPoints:
                  this.count === 0
                    ? []
                    : [
                        {
                          startTime: this.startTime,
                          endTime: hrTime(),
                          attributes: {},
                          value: {
                            buckets: { boundaries: [...this.boundaries], counts: [...this.counts] },
                            sum: this.sum,
                            count: this.count,
                            min: this.min,
                            max: this.max,
                          },
                        },
                      ],
              },
            ],
          },
        ],
      },
      errors: [],
    };
  }
}
