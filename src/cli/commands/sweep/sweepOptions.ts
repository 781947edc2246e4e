import type { Argv } from "yargs";

const LIST = "(a list 1,2,4 or a range 1-8, 1-64*2)";

/**
 * The flags of `tokbench sweep`. The ones in the Command section are a contract: never rename them.
 * `tokbench tune` shares them (`command: "tune"`): the flags only a sweep takes are hidden from its
 * help (still parsed, so that the tune refuses them in one line), `--objective` and `--resume` are
 * left to the tune, which offers its own, and the output flags say what a tune prints.
 * @param command - the command whose help this is. Defaults to `"sweep"`.
 */
export function withSweepOptions<T>(yargs: Argv<T>, command: "sweep" | "tune" = "sweep") {
  const tune = command === "tune";
  // Registered for the tune only so that its refusal, not yargs' strict mode, answers them.
  const sweepOnly = { hidden: tune };
  const list = (description: string, group: string) => ({
    type: "string" as const,
    array: true as const,
    group,
    description,
  });
  return yargs
    .option("url", {
      ...sweepOnly,
      type: "string",
      group: "Server:",
      description:
        "A server that is already running (OpenAI: base URL ending in /v1; Ollama: its root, with --api ollama): sweep the workload only, launch nothing",
    })
    .option("server-cmd", {
      type: "string",
      group: "Server:",
      description:
        'Command template of the server, e.g. "llama-server -m m.gguf --port {port} -c {ctx} -np {parallel}": tokbench picks a free {port}, each --knob fills its {NAME}',
    })
    .option("server", {
      choices: ["llama-server", "ollama", "vllm", "sglang", "mlx-lm", "embedded"] as const,
      group: "Server:",
      description:
        "Launch this server with its own flags instead of a template (embedded: in-process llama.cpp)",
    })
    .option("server-bin", {
      type: "string",
      group: "Server:",
      description:
        "The server program (default: llama-server, ollama, vllm, python3 -m sglang.launch_server, mlx_lm.server on PATH)",
    })
    .option("model", {
      alias: "m",
      type: "string",
      group: "Server:",
      description: "Model name sent in requests (Ollama: the model tag; default: the model file's name)",
    })
    .option(
      "model-file",
      list(`Model file(s): an axis for quantization comparison; {model} in a template`, "Server:"),
    )
    .option("ready-path", {
      type: "string",
      group: "Server:",
      description: "Path answering 200 once the server is ready (default: /health; Ollama /api/tags)",
    })
    .option("api", {
      choices: ["chat", "completions", "ollama"] as const,
      group: "Server:",
      description: "API to drive (default: chat; ollama for --server ollama)",
    })
    .option("knob", {
      type: "string",
      array: true,
      group: "Knobs:",
      description: `A server knob NAME=values ${LIST}, repeatable; fills {NAME} in --server-cmd, or the provider's flag`,
    })
    .option("ctx-size", list(`Context size in tokens (knob ctx) ${LIST}`, "Knobs:"))
    .option("parallel", { ...list("Parallel slots / sequences (knob parallel)", "Knobs:"), alias: "np" })
    .option("threads", { ...list("CPU threads (knob threads)", "Knobs:"), alias: "t" })
    .option("batch-size", { ...list("Logical batch size (knob batch)", "Knobs:"), alias: "b" })
    .option("ubatch-size", { ...list("Physical batch size (knob ubatch)", "Knobs:"), alias: "ub" })
    .option("cache-type-k", {
      ...list("KV cache K type: f16, q8_0, q4_0, ... (knob cache_type_k)", "Knobs:"),
      alias: "ctk",
    })
    .option("cache-type-v", { ...list("KV cache V type (knob cache_type_v)", "Knobs:"), alias: "ctv" })
    .option("flash-attn", {
      ...list("Flash attention: on, off, auto (knob flash_attn)", "Knobs:"),
      alias: "fa",
    })
    .option("gpu-layers", {
      ...list("Layers offloaded to the GPU, or % of them: 0,25%,50%,100% (knob gpu_layers)", "Knobs:"),
      alias: "ngl",
    })
    .option("concurrency", { ...list(`Requests in flight ${LIST} (default 1)`, "Workload:"), alias: "c" })
    .option(
      "rate",
      list("Open-loop arrival rates in requests/s, e.g. 0.5,1,2 (with --concurrency as a cap)", "Workload:"),
    )
    .option("prompt-tokens", list(`Prompt length in tokens ${LIST} (default 128)`, "Workload:"))
    .option("max-tokens", list(`Output tokens per request ${LIST} (default 128)`, "Workload:"))
    .option("requests", {
      alias: "n",
      type: "number",
      group: "Workload:",
      description: "Measured requests per cell and replicate (default 8)",
    })
    .option("warmup", {
      type: "number",
      group: "Workload:",
      description: "Unrecorded requests before each measurement (default 1)",
    })
    .option("replicates", {
      type: "number",
      group: "Workload:",
      description:
        "Measurements per cell; the figure is their median, feasible only if every one is (default 1)",
    })
    .option("seed", {
      type: "number",
      group: "Workload:",
      description: "Seed of prompts and arrivals (default 0)",
    })
    .option("max-ttft-p95-ms", {
      type: "number",
      group: "Gate:",
      description: "Budget: TTFT p95 at most this many ms",
    })
    .option("max-itl-p95-ms", {
      type: "number",
      group: "Gate:",
      description: "Budget: inter-token latency p95 at most this many ms",
    })
    .option(
      "objective",
      // yargs adds the choices of an option registered twice to the first ones: the tune registers its own.
      tune
        ? {}
        : {
            choices: ["throughput", "goodput", "latency", "requests"] as const,
            group: "Gate:",
            description:
              "What the best feasible cell maximises: output tok/s, goodput req/s, lowest TTFT p95, req/s (default throughput)",
          },
    )
    .option("abort-on-error", {
      ...sweepOnly,
      type: "boolean",
      group: "Gate:",
      description:
        "Stop the whole sweep at the first failed cell (default: skip the heavier cells and go on)",
    })
    .option("memory-budget", {
      type: "number",
      group: "Limits:",
      description:
        "MiB the memory pre-check allows (default: available RAM, plus GPU memory when layers are offloaded)",
    })
    .option("server-memory-limit", {
      type: "number",
      group: "Limits:",
      description:
        "Cap each server's address space at this many MiB (ulimit -v): a configuration that needs more fails with a real out-of-memory (CPU servers only)",
    })
    .option("ready-timeout", {
      type: "number",
      group: "Limits:",
      description: "Seconds a server may take to become ready (default 300)",
    })
    .option("stop-grace", {
      type: "number",
      group: "Limits:",
      description: "Seconds between SIGTERM and SIGKILL when stopping a server (default 10)",
    })
    .option("timeout", {
      type: "number",
      group: "Limits:",
      description: "Per-request limit in seconds (0: none; default 600)",
    })
    .option("file", {
      alias: "f",
      ...sweepOnly,
      type: "string",
      group: "Sweep:",
      description: "YAML or JSON sweep file (flags given here win over it); see docs/sweep.md",
    })
    .option("dry-run", {
      ...sweepOnly,
      type: "boolean",
      default: false,
      group: "Sweep:",
      description:
        "Print the plan (configurations, cells, launches, requests, estimated duration) and launch nothing",
    })
    .option(
      "resume",
      tune
        ? {}
        : {
            type: "string",
            group: "Sweep:",
            description:
              "Continue an interrupted or killed sweep by its id: finished cells are not measured again",
          },
    )
    .option("cells-out", {
      ...sweepOnly,
      type: "string",
      group: "Output:",
      description: "Write every measurement as JSONL in the replay format of `tokbench tune --replay`",
    })
    .option("log-dir", {
      type: "string",
      group: "Output:",
      description: "Folder for the servers' logs, one file per launch (default: next to the database)",
    })
    .option("json", {
      type: "boolean",
      default: false,
      group: "Output:",
      description: tune
        ? "Print {tune_id, exit_reason, recommendation, baseline, trials: [...], recipe_hash, recipe} as JSON on stdout (and nothing else there)"
        : "Print {sweep_id, status, cells: [...]} as JSON on stdout (and nothing else there)",
    })
    .option("db", {
      type: "string",
      group: "Output:",
      description:
        "SQLite database file (default: in the user data directory), or a PostgreSQL URL: the sweep is queued there and `tokbench worker` on other machines helps run it",
    })
    .option("queue-only", {
      type: "boolean",
      group: "Several machines (PostgreSQL --db):",
      description:
        "Queue the sweep for `tokbench worker` processes, print its id and return without measuring",
    })
    .option("any-machine", {
      type: "boolean",
      group: "Several machines (PostgreSQL --db):",
      description:
        "Workers on any machine may measure its cells (default: only machines of this one's class)",
    })
    .option("lease", {
      type: "number",
      group: "Several machines (PostgreSQL --db):",
      description:
        "Seconds a claimed cell stays held without renewal: a worker that dies loses its cell to another after this (default 30)",
    })
    .option("progress", {
      type: "boolean",
      default: true,
      group: "Output:",
      description: tune
        ? "A line per finished trial on stderr: trial k of at most N, best so far and its gain (--no-progress)"
        : "A line per finished cell on stderr (--no-progress)",
    });
}
