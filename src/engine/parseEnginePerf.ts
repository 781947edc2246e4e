/**
 * llama.cpp's own performance counters of a context, as `llama_perf_context_print` reports them.
 * llama.cpp books a decode call of one token under `eval` and a call of several tokens (a prompt
 * batch, or one token for each of several parallel sequences) under `prompt eval`.
 */
export interface EnginePerf {
  /** Time in multi-token decode calls (prompt processing). */
  prompt_ms: number;
  /** Tokens in those calls. */
  prompt_tokens: number;
  /** Time in single-token decode calls (generation). */
  eval_ms: number;
  /** Number of those calls. */
  eval_runs: number;
}

const PROMPT = /prompt eval time\s*=\s*([\d.]+)\s*ms\s*\/\s*(\d+)\s*tokens/;
const EVAL = /(?<!prompt )eval time\s*=\s*([\d.]+)\s*ms\s*\/\s*(\d+)\s*runs/;

/**
 * Parses the lines of `llama_perf_context_print`. Returns null when either counter line is missing
 * (performance tracking off, or the log did not arrive).
 */
export function parseEnginePerf(lines: readonly string[]): EnginePerf | null {
  let prompt: RegExpExecArray | null = null;
  let evalMatch: RegExpExecArray | null = null;
  for (const line of lines) {
    prompt ??= PROMPT.exec(line);
    evalMatch ??= EVAL.exec(line);
  }
  if (prompt === null || evalMatch === null) return null;
  const promptMs = Number(prompt[1]);
  const evalMs = Number(evalMatch[1]);
  // llama.cpp prints max(1, count), so an idle counter reads "0.00 ms / 1 tokens".
  return {
    prompt_ms: promptMs,
    prompt_tokens: promptMs === 0 ? 0 : Number(prompt[2]),
    eval_ms: evalMs,
    eval_runs: evalMs === 0 ? 0 : Number(evalMatch[2]),
  };
}
