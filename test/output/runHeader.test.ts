import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderRunHeader } from "../../src/output/runHeader.js";
import { TERMINAL_WIDTH } from "../../src/output/wrapText.js";

describe("renderRunHeader", () => {
  it("keeps a short header on one line", () => {
    const text = renderRunHeader({
      target: 'http://h:8080/v1 (model "m", chat API)',
      workload: "4 requests, concurrency 2",
      storage: "runs.db",
    });
    assert.equal(
      text,
      'measuring http://h:8080/v1 (model "m", chat API) | 4 requests, concurrency 2 | results -> runs.db',
    );
  });

  it("puts each part of a long header on lines that fit the terminal, losing nothing", () => {
    const model = `/home/someone/.cache/tokbench/models/${"synthetic-qwen2.5-0.5b-q4_0-seed1-".repeat(3)}.gguf`;
    const target = `${model} (qwen2 494M Q4_0, 268 MiB) in-process`;
    const workload =
      "pp256, tg64 × 3 repetitions + 10 requests, concurrency 1, 128 prompt + 48 output tokens";
    const db = "/home/someone/.local/share/tokbench/runs.db";
    const text = renderRunHeader({ target, workload, storage: db });
    const lines = text.split("\n");
    assert.ok(`measuring ${target} | ${workload} | results -> ${db}`.length > TERMINAL_WIDTH);
    for (const line of lines) assert.ok(line.length <= TERMINAL_WIDTH, `${line.length}: ${line}`);
    assert.ok(lines.length >= 4, text);
    assert.equal(lines.at(-1), `  results -> ${db}`);
    assert.ok(lines.includes(`  ${workload}`), text);
    // Unwrapping gives back every character of the target (the path is split, never cut).
    const targetLines = lines.slice(0, lines.indexOf(`  ${workload}`));
    const unwrapped = targetLines.join("").replace(/ /g, "");
    assert.equal(unwrapped, `measuring ${target}`.replace(/ /g, ""));
  });
});
