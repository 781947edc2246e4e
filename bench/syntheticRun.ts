import type { MachineInfo } from "../src/results/MachineInfo.js";
import type { RequestRecord } from "../src/results/RequestRecord.js";
import { RequestTable } from "../src/results/RequestTable.js";
import type { RunResult } from "../src/results/RunResult.js";
import { StatsAccumulator } from "../src/stats/StatsAccumulator.js";

/** Request `i` of a synthetic run: varied TTFT and decode, one in 50 failed. */
export function syntheticRecord(i: number): RequestRecord {
  const ttft = 20 + (i % 17) + ((i * 7919) % 101) / 10;
  return {
    index: i,
    planned_offset_ms: i * 2,
    sent_offset_ms: i * 2 + 0.1,
    dispatch_lag_ms: 0.1,
    status: 200,
    ttft_ms: ttft,
    e2e_ms: ttft + 320,
    decode_ms: 320,
    prompt_tokens: 128,
    output_tokens: 33,
    token_source: "usage",
    chunks: 33,
    decode_tps: 100 - (i % 13),
    decode_tps_source: "client",
    tpot_ms: 10,
    prefill_tps: 128000 / ttft,
    flags: [],
    error: null,
    server_timings: null,
  };
}

/**
 * A finished run of `requests` synthetic requests, with its summary and the histograms the report
 * draws, as a real run would store it: for benchmarks of what reads runs back.
 */
export function syntheticRun(
  machine: MachineInfo,
  id: string,
  startedAt: string,
  requests: number,
): RunResult {
  const table = new RequestTable();
  const ttft = new StatsAccumulator();
  const e2e = new StatsAccumulator();
  const itl = new StatsAccumulator();
  for (let i = 0; i < requests; i++) {
    const r = syntheticRecord(i);
    table.push(r);
    ttft.add(r.ttft_ms as number);
    e2e.add(r.e2e_ms);
    for (let k = 0; k < 8; k++) itl.addMany(8 + ((i * 31 + k * 17) % 50) / 10, 4);
  }
  const d = ttft.stats();
  return {
    schema_version: 1,
    tool: { name: "tokbench", version: "bench" },
    run_id: id,
    status: "completed",
    status_reason: null,
    started_at: startedAt,
    ended_at: startedAt,
    config: {
      target: "openai-chat",
      model: `model-${id.length % 3}`,
      workload: { prompt_tokens: 128, max_tokens: 33 },
      load: { concurrency: 4 },
    },
    machine,
    summary: {
      requests: { total: requests, succeeded: requests, failed: 0, cancelled: 0, errors_by_code: {} },
      ttft_ms: d,
      e2e_ms: e2e.stats(),
      itl_ms: itl.stats(),
      chunk_gap_ms: d,
      tpot_ms: d,
      decode_tps: d,
      prefill_tps: d,
      dispatch_lag_ms: d,
      output_tokens_per_s: 1000,
      requests_per_s: 30,
      input_tokens_per_s: 4000,
      duration_ms: requests * 2 + 400,
      total_output_tokens: 33 * requests,
      total_prompt_tokens: 128 * requests,
      flags: {},
      token_sources: { usage: requests },
      server_prefill_tps: d,
      server_decode_tps: d,
    },
    requests: table,
    tests: [],
    resources: null,
    resource_timeline: Array.from({ length: Math.min(4000, Math.ceil(requests / 10)) }, (_, k) => ({
      offset_ms: k * 250,
      span_ms: 250,
      rss_bytes: 150e6 + (k % 50) * 1e5,
      cpu_percent: 80 + (k % 7),
      gpu_memory_bytes: null,
      gpu_utilization_percent: null,
      disk_read_bytes: 0,
      disk_write_bytes: k * 4096,
    })),
    distributions: {
      encoding: "hdr-v2-base64",
      value_scale: 1000,
      histograms: {
        ttft_ms: ttft.encodedHistogram() as string,
        e2e_ms: e2e.encodedHistogram() as string,
        itl_ms: itl.encodedHistogram() as string,
      },
    },
  };
}
