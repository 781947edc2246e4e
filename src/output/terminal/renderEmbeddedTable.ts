import type { RunResult } from "../../results/RunResult.js";
import { sanitizeText } from "../../text/sanitizeText.js";
import { createTable } from "../createTable.js";

const fmt = (x: unknown, digits = 2): string =>
  typeof x === "number" && Number.isFinite(x) ? x.toFixed(digits) : "-";

/**
 * Renders `tests[]` as llama-bench's table (model, size, params, backend, threads, test, t/s) plus
 * the engine's own rate, the roofline efficiency, and one line per model load.
 */
export function renderEmbeddedTable(result: RunResult): string {
  const rows = result.tests.filter((r) => r.test !== "load");
  const loads = result.tests.filter((r) => r.test === "load");
  if (rows.length === 0 && loads.length === 0) return "";
  const table = createTable({
    head: [
      "model",
      "size",
      "params",
      "backend",
      "threads",
      "n_batch",
      "ngl",
      "fa",
      "type_k",
      "np",
      "test",
      "t/s",
      "engine t/s",
      "eff %",
    ],
  });
  for (const r of rows) {
    const failed = r.status !== "ok";
    const ts = failed
      ? `failed: ${String(r.error ?? "")}`.slice(0, 60)
      : `${fmt(r.avg_ts)} ± ${fmt(r.stddev_ts)}`;
    table.push([
      String(r.model_type),
      `${((r.model_size as number) / 2 ** 20).toFixed(2)} MiB`,
      `${((r.model_n_params as number) / 1e6).toFixed(2)} M`,
      String(r.backends),
      String(r.n_threads),
      String(r.n_batch),
      String(r.n_gpu_layers),
      String(r.flash_attn === true ? 1 : r.flash_attn === false ? 0 : r.flash_attn),
      String(r.type_k),
      String(r.n_parallel),
      String(r.test),
      ts,
      failed ? "-" : `${fmt(r.engine_ts)}${r.engine_mismatch === true ? " (!)" : ""}`,
      fmt(r.efficiency_pct, 1),
    ]);
  }
  const lines = [table.toString()];
  if (rows.some((r) => r.engine_mismatch === true)) {
    lines.push(
      "(!) wall-clock and llama.cpp's own rate differ by more than 10 % (per-token overhead outside the engine)",
    );
  }
  for (const l of loads) {
    lines.push(
      l.status === "ok"
        ? `model load (ngl ${String(l.n_gpu_layers)}): first ${fmt(l.load_cold_ms, 0)} ms, second (page cache hot) ${fmt(l.load_warm_ms, 0)} ms`
        : `model load (ngl ${String(l.n_gpu_layers)}) failed: ${sanitizeText(String(l.error))}`,
    );
  }
  return lines.join("\n");
}
