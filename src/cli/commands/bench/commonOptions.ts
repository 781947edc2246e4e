import type { Argv } from "yargs";
import { NUMBER_FLAG } from "../../parseNumberFlag.js";

/** Adds the workload, load and output flags shared by every target to the bench command. */
export function withCommonOptions<T>(yargs: Argv<T>) {
  return yargs
    .option("model", {
      alias: "m",
      type: "string",
      description:
        "With --url: the model name sent to the server. Without: a GGUF file to run in-process (default: a small synthetic model)",
    })
    .option("requests", {
      alias: "n",
      ...NUMBER_FLAG,
      group: "Load:",
      description:
        "Measured requests (default 32, or unbounded with --duration; 10 in the embedded quick start)",
    })
    .option("duration", {
      ...NUMBER_FLAG,
      group: "Load:",
      description: "Stop sending after this many seconds",
    })
    .option("concurrency", {
      alias: "c",
      ...NUMBER_FLAG,
      group: "Load:",
      description: "Requests in flight (closed loop); with --rate, the most in flight (default: no cap)",
    })
    .option("rate", { ...NUMBER_FLAG, group: "Load:", description: "Open loop: requests per second" })
    .option("arrival", {
      choices: ["constant", "poisson"] as const,
      default: "constant" as const,
      group: "Load:",
      description: "Spacing of --rate arrivals",
    })
    .option("warmup", {
      ...NUMBER_FLAG,
      default: 1,
      group: "Load:",
      description: "Unrecorded requests sent first",
    })
    .option("max-errors", {
      ...NUMBER_FLAG,
      group: "Load:",
      description: "Abort the run after this many failed requests",
    })
    .option("seed", {
      ...NUMBER_FLAG,
      default: 0,
      group: "Load:",
      description: "Seed of prompts and arrivals",
    })
    .option("prompt-tokens", {
      ...NUMBER_FLAG,
      group: "Workload:",
      description: "Synthetic prompt length in tokens (default 128)",
    })
    .option("prompt-file", {
      type: "string",
      group: "Workload:",
      description: 'JSONL prompts: {"prompt": ...}, {"messages": [...]} or ShareGPT conversations',
    })
    .option("max-tokens", {
      ...NUMBER_FLAG,
      group: "Workload:",
      description: "Output tokens per request (default 128; 48 in the embedded quick start)",
    })
    .option("force-output", {
      type: "boolean",
      default: true,
      group: "Workload:",
      description: "Ask for exactly --max-tokens output tokens where the server allows it",
    })
    .option("unique-prefix", {
      type: "boolean",
      default: true,
      group: "Workload:",
      description:
        "Unique words at the start of each prompt, against prefix caching (--no-unique-prefix to allow it)",
    })
    .option("json", {
      type: "boolean",
      default: false,
      group: "Output:",
      description: "Print the whole result as JSON on stdout (and nothing else there)",
    })
    .option("db", {
      type: "string",
      group: "Output:",
      description:
        "SQLite file, or a team's PostgreSQL as postgres://user@host/db (password: PGPASSWORD or TOKBENCH_DB) (default: TOKBENCH_DB, else a file in the user data directory)",
    })
    .option("save", {
      type: "boolean",
      default: true,
      group: "Output:",
      description: "Store the run in the database (--no-save)",
    })
    .option("tag", {
      type: "string",
      array: true,
      group: "Output:",
      description: "Label the stored run (repeatable); find it again with `tokbench runs --tag NAME`",
    })
    .option("progress", {
      type: "boolean",
      default: true,
      group: "Output:",
      description: "Progress bar on stderr",
    })
    .option("otlp-endpoint", {
      type: "string",
      requiresArg: true,
      group: "Telemetry:",
      description:
        "Push the run's metrics (OpenTelemetry GenAI conventions) to this OTLP/HTTP collector, e.g. http://127.0.0.1:4318 (also OTEL_EXPORTER_OTLP_ENDPOINT)",
    })
    .option("prometheus-port", {
      ...NUMBER_FLAG,
      group: "Telemetry:",
      description:
        "Serve the live run's metrics for Prometheus at http://HOST:PORT/metrics (0: any free port)",
    })
    .option("prometheus-host", {
      type: "string",
      requiresArg: true,
      group: "Telemetry:",
      description:
        "Interface for --prometheus-port (default 127.0.0.1; 0.0.0.0 to be scraped from elsewhere)",
    });
}
