import { execFile } from "node:child_process";
import { TokbenchError } from "../../src/errors/TokbenchError.js";

/** One test row of `llama-bench -o json`, restricted to the fields tokbench compares. */
export interface LlamaBenchRow {
  build_commit: string;
  build_number: number;
  cpu_info: string;
  model_filename: string;
  model_type: string;
  model_n_params: number;
  n_prompt: number;
  n_gen: number;
  n_depth: number;
  n_threads: number;
  n_batch: number;
  n_ubatch: number;
  flash_attn: boolean | number | string;
  poll: number;
  avg_ts: number;
  stddev_ts: number;
  samples_ts: number[];
  samples_ns: number[];
}

/** Options of {@link runLlamaBenchBinary}. */
export interface RunLlamaBenchBinaryOptions {
  /** Path of the GGUF model. */
  model: string;
  /** Prompt lengths (`-p`). Defaults to [64]. */
  nPrompt?: number[];
  /** Generation lengths (`-n`). Defaults to [32]. */
  nGen?: number[];
  /** Thread counts (`-t`). Defaults to [1, 2]. */
  threads?: number[];
  /** Repetitions (`-r`). Defaults to 3. */
  repetitions?: number;
  /** Logical batch size (`-b`). Defaults to llama-bench's own (2048). */
  batchSize?: number;
  /** Extra raw arguments appended last (for example `["--poll", "0"]`). Defaults to none. */
  extraArgs?: string[];
  /** Kill llama-bench after this many milliseconds. Defaults to 600000. */
  timeoutMs?: number;
}

/** The command line {@link runLlamaBenchBinary} runs, without the binary: exposed so it can be printed and tested. */
export function llamaBenchArgs(options: RunLlamaBenchBinaryOptions): string[] {
  const args = [
    "-m",
    options.model,
    "-o",
    "json",
    "-p",
    (options.nPrompt ?? [64]).join(","),
    "-n",
    (options.nGen ?? [32]).join(","),
    "-t",
    (options.threads ?? [1, 2]).join(","),
    "-r",
    String(options.repetitions ?? 3),
  ];
  if (options.batchSize !== undefined) args.push("-b", String(options.batchSize));
  args.push(...(options.extraArgs ?? []));
  return args;
}

/**
 * Parses the stdout of `llama-bench -o json` (a JSON array of test objects). Throws
 * `INVALID_ARGUMENT` when the text is not such an array, so a changed output format fails loudly.
 */
export function parseLlamaBenchJson(text: string): LlamaBenchRow[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new TokbenchError("INVALID_ARGUMENT", "llama-bench output is not JSON (was it run with -o json?)", {
      cause: error,
    });
  }
  if (!Array.isArray(parsed)) {
    throw new TokbenchError("INVALID_ARGUMENT", "llama-bench JSON output is not an array of tests");
  }
  return parsed.map((item: unknown, index) => {
    if (typeof item !== "object" || item === null) {
      throw new TokbenchError("INVALID_ARGUMENT", `llama-bench test #${index} is not an object`);
    }
    const row = item as Record<string, unknown>;
    const num = (key: string): number => {
      const value = row[key];
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw new TokbenchError("INVALID_ARGUMENT", `llama-bench test #${index} has no numeric "${key}"`);
      }
      return value;
    };
    const numbers = (key: string): number[] =>
      Array.isArray(row[key])
        ? (row[key] as unknown[]).filter((v): v is number => typeof v === "number")
        : [];
    const str = (key: string): string => (typeof row[key] === "string" ? (row[key] as string) : "");
    return {
      build_commit: str("build_commit"),
      build_number: typeof row.build_number === "number" ? row.build_number : 0,
      cpu_info: str("cpu_info"),
      model_filename: str("model_filename"),
      model_type: str("model_type"),
      model_n_params: typeof row.model_n_params === "number" ? row.model_n_params : 0,
      n_prompt: num("n_prompt"),
      n_gen: num("n_gen"),
      n_depth: typeof row.n_depth === "number" ? row.n_depth : 0,
      n_threads: num("n_threads"),
      n_batch: typeof row.n_batch === "number" ? row.n_batch : 0,
      n_ubatch: typeof row.n_ubatch === "number" ? row.n_ubatch : 0,
      flash_attn: (row.flash_attn as boolean | number | string | undefined) ?? "",
      poll: typeof row.poll === "number" ? row.poll : 0,
      avg_ts: num("avg_ts"),
      stddev_ts: typeof row.stddev_ts === "number" ? row.stddev_ts : 0,
      samples_ts: numbers("samples_ts"),
      samples_ns: numbers("samples_ns"),
    };
  });
}

/**
 * Runs a llama-bench binary (see `scripts/build-llama-bench.sh`) and returns its test rows.
 * Throws `ENGINE_UNAVAILABLE` when the binary cannot be run or exits non-zero.
 */
export function runLlamaBenchBinary(
  binary: string,
  options: RunLlamaBenchBinaryOptions,
): Promise<LlamaBenchRow[]> {
  const args = llamaBenchArgs(options);
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      args,
      { timeout: options.timeoutMs ?? 600_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          const lastLine = stderr.trim().split("\n").pop() ?? "";
          reject(
            new TokbenchError(
              "ENGINE_UNAVAILABLE",
              `llama-bench failed (${binary}): ${lastLine || error.message}`,
              {
                context: { binary, args: args.join(" ") },
                cause: error,
              },
            ),
          );
          return;
        }
        try {
          resolve(parseLlamaBenchJson(stdout));
        } catch (parseError) {
          reject(parseError);
        }
      },
    );
  });
}
