import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DataPointType,
  type HistogramMetricData,
  MeterProvider,
  MetricReader,
} from "@opentelemetry/sdk-metrics";
import { TIME_PER_OUTPUT_CHUNK } from "../../src/telemetry/genAiInstruments.js";
import { ManyValueHistogram } from "../../src/telemetry/ManyValueHistogram.js";

class Reader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

describe("ManyValueHistogram", () => {
  it("aggregates exactly as the SDK's own explicit-bucket histogram, boundary values included", async () => {
    const buckets = [...(TIME_PER_OUTPUT_CHUNK.buckets ?? [])];
    // Values on every boundary, between them, below the first and above the last.
    const values = [0, 0.001, ...buckets, ...buckets.map((b) => b * 1.5), 100, 0.0101, 0.5, 0.5];
    const ours = new ManyValueHistogram(TIME_PER_OUTPUT_CHUNK, { name: "t", version: "1" });
    const reader = new Reader();
    const provider = new MeterProvider({ readers: [reader] });
    const sdk = provider
      .getMeter("t")
      .createHistogram("sdk", { advice: { explicitBucketBoundaries: buckets } });
    for (const v of values) {
      ours.add(v);
      sdk.record(v);
    }
    const expected = (await reader.collect()).resourceMetrics.scopeMetrics[0]
      ?.metrics[0] as HistogramMetricData;
    const got = (await ours.collect()).resourceMetrics.scopeMetrics[0]?.metrics[0] as HistogramMetricData;
    assert.equal(got.dataPointType, DataPointType.HISTOGRAM);
    assert.equal(got.descriptor.name, TIME_PER_OUTPUT_CHUNK.name);
    assert.equal(got.descriptor.unit, "s");
    const e = expected.dataPoints[0]?.value;
    const g = got.dataPoints[0]?.value;
    assert.deepEqual(g?.buckets, e?.buckets);
    assert.equal(g?.count, values.length);
    assert.equal(g?.sum, e?.sum);
    assert.equal(g?.min, e?.min);
    assert.equal(g?.max, e?.max);
    await provider.shutdown();
  });

  it("exports no data point before the first value", async () => {
    const ours = new ManyValueHistogram(TIME_PER_OUTPUT_CHUNK, { name: "t", version: "1" });
    assert.deepEqual((await ours.collect()).resourceMetrics.scopeMetrics[0]?.metrics[0]?.dataPoints, []);
  });
});
