import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type RequestRecord, TRUST_FLAGS } from "../../src/results/RequestRecord.js";
import { RequestTable } from "../../src/results/RequestTable.js";

function record(i: number): RequestRecord {
  const failed = i % 7 === 3;
  return {
    index: i,
    planned_offset_ms: i * 10.000001,
    sent_offset_ms: i * 10.000001 + 0.1 + i / 3,
    dispatch_lag_ms: 0.1 + i / 3,
    status: failed ? (i % 2 === 0 ? null : 500) : 200,
    ttft_ms: failed ? null : 12.5 + i * 1e-9,
    e2e_ms: 100 / 3,
    decode_ms: i % 5 === 0 ? null : Math.PI * i,
    prompt_tokens: i % 11 === 0 ? null : 128,
    output_tokens: failed ? 0 : 64,
    token_source: (["usage", "tokenizer", "chunks", "engine"] as const)[i % 4] ?? "usage",
    chunks: failed ? 0 : 63,
    decode_tps: i % 5 === 0 ? null : 31.25 + i,
    decode_tps_source: i % 5 === 0 ? null : i % 2 === 0 ? "client" : "server",
    tpot_ms: i % 5 === 0 ? null : 1 / (i + 1),
    prefill_tps: failed ? null : -0.5 * i,
    flags: TRUST_FLAGS.filter((_, f) => ((i >> f) & 1) === 1),
    error: failed ? { code: "REQUEST_HTTP_ERROR", message: `HTTP 500 #${i}`, status: 500 } : null,
    server_timings:
      i % 3 === 0
        ? null
        : {
            source: i % 2 === 0 ? "llama.cpp" : "ollama",
            prompt_tokens: 128,
            prompt_ms: i % 4 === 0 ? null : 4.2 + i,
            prefill_tps: 30_000.123,
            output_tokens: 64,
            decode_ms: 1e-12 * i,
            decode_tps: Number.MAX_VALUE,
            cached_tokens: i % 6 === 0 ? 0 : null,
          },
  };
}

describe("RequestTable", () => {
  it("gives back every record exactly, nulls, flags, errors and server timings included, past its initial capacity", () => {
    const records = Array.from({ length: 3000 }, (_, i) => record(i));
    const table = RequestTable.from(records);
    assert.equal(table.length, 3000);
    assert.deepEqual(table.toArray(), records);
    assert.deepEqual(table.get(2999), records[2999]);
    assert.equal(table.get(3000), undefined);
    assert.equal(table.get(-1), undefined);
    // JSON keeps the record's key order, so the public format reads the same as before.
    assert.equal(JSON.stringify({ requests: table }), JSON.stringify({ requests: records }));
  });

  it("copies what it is given", () => {
    const table = new RequestTable();
    const r = record(3);
    table.push(r);
    r.e2e_ms = -1;
    if (r.error) r.error.message = "changed";
    assert.equal(table.get(0)?.e2e_ms, 100 / 3);
    assert.equal(table.get(0)?.error?.message, "HTTP 500 #3");
  });
});
