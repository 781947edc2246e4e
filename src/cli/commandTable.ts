import type { CommandModule } from "yargs";

/**
 * tokbench's commands: each one's usage and one-line description, and how to load it. The CLI loads
 * only the module of the command it runs (and, for the others, shows these lines in `--help`), so
 * `tokbench runs` does not pay for loading what `bench`, `synth` or `report` need: the
 * history commands answer in the time a list takes.
 */
export interface CommandEntry {
  /** Usage as yargs reads it: the name, then the positional arguments. */
  command: string;
  describe: string;
  /** The command's options and handler. */
  load(): Promise<CommandModule<object, never>>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    command: "bench",
    describe: "Measure TTFT, prefill and decode speed, latency percentiles and throughput",
    load: async () =>
      (await import("./commands/BenchCommand.js")).benchCommand as CommandModule<object, never>,
  },
  {
    command: "inspect <file>",
    describe: "Show a GGUF model's shape, tensors, quantization mix, KV cache and bytes read per token",
    load: async () =>
      (await import("./commands/InspectCommand.js")).inspectCommand as CommandModule<object, never>,
  },
  {
    command: "synth",
    describe: "Write a GGUF model of a real model's shape with deterministic synthetic weights",
    load: async () =>
      (await import("./commands/SynthCommand.js")).synthCommand as CommandModule<object, never>,
  },
  {
    command: "roofline <file>",
    describe: "Theoretical decode/prefill speed ceiling of a GGUF model on this machine",
    load: async () =>
      (await import("./commands/RooflineCommand.js")).rooflineCommand as CommandModule<object, never>,
  },
  {
    command: "mock",
    describe: "Run a scripted OpenAI-compatible streaming server (for tests and demos)",
    load: async () => (await import("./commands/MockCommand.js")).mockCommand as CommandModule<object, never>,
  },
  {
    command: "engine",
    describe:
      "Which llama.cpp build the embedded engine uses, and why (`engine build` compiles the tuned one)",
    load: async () =>
      (await import("./commands/EngineCommand.js")).engineCommand as CommandModule<object, never>,
  },
  {
    command: "sweep",
    describe:
      "Launch a server per configuration and sweep its knobs and the workload behind a feasibility gate",
    load: async () =>
      (await import("./commands/SweepCommand.js")).sweepCommand as CommandModule<object, never>,
  },
  {
    command: "tune",
    describe: "Find the biggest model that fits and its fastest knobs with few trials; write a recipe",
    load: async () => (await import("./commands/TuneCommand.js")).tuneCommand as CommandModule<object, never>,
  },
  {
    command: "runs",
    describe: "List stored runs (newest first), delete them, or apply a retention",
    load: async () => (await import("./commands/RunsCommand.js")).runsCommand as CommandModule<object, never>,
  },
  {
    command: "show <run>",
    describe: "Print a stored run as it was printed when it ran (--json: its JSON result)",
    load: async () => (await import("./commands/ShowCommand.js")).showCommand as CommandModule<object, never>,
  },
  {
    command: "worker",
    describe: "Work on sweeps queued in a team's PostgreSQL database, alongside workers on other machines",
    load: async () =>
      (await import("./commands/WorkerCommand.js")).workerCommand as CommandModule<object, never>,
  },
  {
    command: "db <action>",
    describe: "Copy run history between stores (db copy): a SQLite file up to a team's PostgreSQL, or back",
    load: async () => (await import("./commands/DbCommand.js")).dbCommand as CommandModule<object, never>,
  },
  {
    command: "accept <run>",
    describe: "Mark a completed run as the baseline of its model and workload (for regress)",
    load: async () =>
      (await import("./commands/AcceptCommand.js")).acceptCommand as CommandModule<object, never>,
  },
  {
    command: "compare <runs..>",
    describe:
      "Compare stored runs side by side: differences first, then every figure with a statistical verdict",
    load: async () =>
      (await import("./commands/CompareCommand.js")).compareCommand as CommandModule<object, never>,
  },
  {
    command: "regress",
    describe:
      "Gate a run against a baseline: a regression is worse than a threshold AND significant (exit 0/1/2)",
    load: async () =>
      (await import("./commands/RegressCommand.js")).regressCommand as CommandModule<object, never>,
  },
  {
    command: "report <runs..>",
    describe: "Write one self-contained HTML report (charts inlined, works offline) of stored runs",
    load: async () =>
      (await import("./commands/ReportCommand.js")).reportCommand as CommandModule<object, never>,
  },
  {
    command: "export <run>",
    describe: "Export a stored run's requests, summary or tests as CSV, JSON Lines or Markdown",
    load: async () =>
      (await import("./commands/ExportCommand.js")).exportCommand as CommandModule<object, never>,
  },
];
