import type { WorkloadOptions } from "../benchmark/WorkloadOptions.js";
import type { ModelInspection } from "../gguf/inspectModel.js";
import type { LoadOptions } from "../load/LoadOptions.js";
import { formatBytes, formatParameters } from "./units.js";
import { TERMINAL_WIDTH, wrapLines } from "./wrapText.js";

/**
 * The model as people name it, from tokbench's own GGUF facts: architecture, parameter count and
 * weight type, e.g. `qwen2 494M Q4_0`. (llama.cpp's own description reads the size from
 * `general.size_label` or a table of known layer counts, and says `?B` for anything else.)
 */
export function modelLabel(m: ModelInspection): string {
  const type = fileTypeName(m.file_type) ?? m.quantization_mix[0]?.type ?? "?";
  return `${m.architecture ?? "unknown"} ${formatParameters(m.parameters)} ${type}`;
}

/** llama.cpp's `llama_ftype` names (`general.file_type`); null for unknown or absent values. */
export function fileTypeName(ftype: number | null): string | null {
  if (ftype === null) return null;
  const names: Record<number, string> = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
  };
  return names[ftype] ?? null;
}

/** The model file and what it is: `model.gguf (qwen2 494M Q4_0, 268 MiB)`. */
export function describeModelFile(path: string, fileBytes: number, m: ModelInspection): string {
  return `${path} (${modelLabel(m)}, ${formatBytes(fileBytes)})`;
}

/** The llama-bench tests of a plan: `pp256, tg64 × 3 repetitions`. */
export function describeTests(
  plan: { pp: number[]; tg: number[]; pg: [number, number][]; depth: number[] },
  repetitions: number,
): string {
  const names = [
    ...plan.pp.map((n) => `pp${n}`),
    ...plan.tg.map((n) => `tg${n}`),
    ...plan.pg.map(([p, g]) => `pp${p}+tg${g}`),
  ];
  const depths = plan.depth.filter((d) => d > 0);
  const at = depths.length === 0 ? "" : ` at depth ${[0, ...depths].join(", ")}`;
  return `${names.join(", ")}${at} × ${repetitions} repetition${repetitions === 1 ? "" : "s"}`;
}

/**
 * The request workload: `8 requests, concurrency 1, 128 prompt + 64 output tokens`, or with a rate
 * or a duration what bounds it instead.
 */
export function describeRequests(load: LoadOptions, workload: WorkloadOptions): string {
  const parts: string[] = [];
  const count =
    load.requests === null
      ? `requests for ${load.duration_s} s`
      : `${load.requests} request${load.requests === 1 ? "" : "s"}${load.duration_s === null ? "" : ` (at most ${load.duration_s} s)`}`;
  parts.push(count);
  if (load.rate !== null) {
    parts.push(
      `${load.rate} req/s ${load.arrival}${Number.isFinite(load.concurrency) ? `, at most ${load.concurrency} in flight` : ""}`,
    );
  } else {
    parts.push(`concurrency ${load.concurrency}`);
  }
  const prompt = workload.prompt_file === null ? `${workload.prompt_tokens} prompt` : "prompts from file";
  parts.push(`${prompt} + ${workload.max_tokens} output tokens`);
  return parts.join(", ");
}

/** The three parts of the line printed before a run. */
export interface RunHeader {
  /** What is measured: a URL with its model, or a model file with its size and parameters. */
  target: string;
  /** What is sent: tests and/or requests. */
  workload: string;
  /** Where results go: a database path, or null when not saved. */
  storage: string | null;
}

/**
 * `measuring <target> | <workload> | results -> <db>`, no trailing newline: one line when it fits
 * {@link TERMINAL_WIDTH}; otherwise one line per part (the workload and the storage indented), each
 * wrapped at spaces, so a long model path or database path never runs past the terminal's edge and
 * nothing is cut.
 */
export function renderRunHeader(h: RunHeader, width: number = TERMINAL_WIDTH): string {
  const storage = h.storage === null ? "results not saved (--no-save)" : `results -> ${h.storage}`;
  const line = `measuring ${h.target} | ${h.workload} | ${storage}`;
  if (line.length <= width) return line;
  return [
    ...wrapLines(`measuring ${h.target}`, width, { rest: "    " }),
    ...wrapLines(h.workload, width, { first: "  ", rest: "    " }),
    ...wrapLines(storage, width, { first: "  ", rest: "    " }),
  ].join("\n");
}
