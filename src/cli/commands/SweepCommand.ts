import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import type { SweepArgs } from "./sweep/specFromArgs.js";
import { withSweepOptions } from "./sweep/sweepOptions.js";

const builder = (yargs: Argv) =>
  withSweepOptions(yargs)
    .example(
      '$0 sweep --server-cmd "llama-server -m m.gguf --port {port} -c {ctx} -np {parallel}" --knob ctx=2048,8192,32768 --knob parallel=1,4 --concurrency 1,4,16 --prompt-tokens 1024 --max-tokens 64 --requests 8 --model m --max-ttft-p95-ms 2000',
      "A context x slots x concurrency grid of llama-server behind a TTFT budget",
    )
    .example(
      "$0 sweep --server llama-server --model-file m.gguf --ctx-size 4096,16384 --parallel 1,2 --concurrency 1,2,4 --dry-run",
      "The plan of a sweep, without launching anything",
    )
    .example(
      "$0 sweep --server embedded --model-file m.gguf --ctx-size 2048,8192 --concurrency 1,4",
      "The embedded engine",
    )
    .example("$0 sweep --resume 3f2c9a1e", "Continue an interrupted or killed sweep");

type SweepCommandArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>["argv"]>>;

/** `tokbench sweep`: launch a server per configuration, sweep its knobs and the workload behind a feasibility gate. */
export const sweepCommand: CommandModule<object, SweepCommandArgs> = {
  command: "sweep",
  describe:
    "Launch a server per configuration and sweep its knobs and the workload behind a feasibility gate",
  builder: builder as unknown as CommandModule<object, SweepCommandArgs>["builder"],
  async handler(argv) {
    const { runSweepCommand } = await import("./sweep/runSweepCommand.js");
    process.exitCode = await runSweepCommand(argv as unknown as SweepArgs);
  },
};
