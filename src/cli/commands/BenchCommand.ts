import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { databaseFilePath, isPostgresUrl } from "../../storage/databaseFilePath.js";
import { defaultDatabasePath } from "../../storage/defaultDatabasePath.js";
import { StopSignals } from "../stopSignals.js";
import { checkTargetFlags } from "./bench/checkTargetFlags.js";
import { withCommonOptions } from "./bench/commonOptions.js";
import { withEmbeddedOptions } from "./bench/embeddedOptions.js";
import { withHttpOptions } from "./bench/httpOptions.js";
import type { HttpBenchArgs } from "./bench/runHttpBench.js";
import { telemetryOptionsFromArgs } from "./bench/telemetryConsumer.js";

const builder = (yargs: Argv) =>
  withEmbeddedOptions(withHttpOptions(withCommonOptions(yargs)))
    .example("$0 bench", "Benchmark a small synthetic model in-process (no server, no download)")
    .example(
      "$0 bench --url http://127.0.0.1:8080/v1 --model llama -n 64 -c 8",
      "Benchmark a llama-server at concurrency 8",
    )
    .example(
      "$0 bench --url http://127.0.0.1:11434 --api ollama --model llama3.2",
      "Benchmark Ollama through its native API",
    );

type BenchArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>["argv"]>>;

/** `tokbench bench`: measure a server (`--url`) or a GGUF model in-process. */
export const benchCommand: CommandModule<object, BenchArgs> = {
  builder: builder as unknown as CommandModule<object, BenchArgs>["builder"],
  async handler(argv) {
    checkTargetFlags(argv as unknown as Record<string, unknown>);
    // A database location tokbench cannot use is refused before any server or model is touched.
    // (A PostgreSQL URL is connected to, and its schema brought up to date, when the run starts.)
    const location = argv.db ?? defaultDatabasePath();
    if (argv.save && !isPostgresUrl(location)) databaseFilePath(location);
    // So are telemetry flags and OTEL_* variables it cannot use.
    telemetryOptionsFromArgs(argv, process.env);
    // From here on a stop signal is not the default death: before the run starts (a server's
    // check, the engine's loading) it ends the command with one line and 128 + n; the run's own
    // handle (runWithConsumers) takes over once the run is under way.
    const setup = StopSignals.listen({ setup: "before the run started: nothing was measured" });
    try {
      if (argv.url !== undefined) {
        // Loaded here, not at startup: its tokenizer pulls in node-llama-cpp (~300 modules), which
        // every other command (runs, show, compare...) would otherwise load for nothing.
        const { runHttpBench } = await setup.untilStopped(import("./bench/runHttpBench.js"));
        process.exitCode = await runHttpBench(argv as unknown as HttpBenchArgs, setup);
      } else {
        process.exitCode = await runEmbeddedFromCli(argv, setup);
      }
    } finally {
      setup.close();
    }
  },
};

async function runEmbeddedFromCli(argv: BenchArgs, setup: StopSignals): Promise<number> {
  const { runEmbeddedBenchCommand } = await setup.untilStopped(import("./bench/embeddedCommand.js"));
  return runEmbeddedBenchCommand(argv as unknown as Record<string, unknown>, setup);
}
