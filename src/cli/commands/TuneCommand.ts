import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { withTuneOptions } from "./tune/tuneOptions.js";
import type { TuneArgs } from "./tune/tuneSpecFromArgs.js";

const builder = (yargs: Argv) =>
  withTuneOptions(yargs)
    .example(
      '$0 tune --server-cmd "llama-server -m {model} --port {port} -c {ctx} -np {parallel} -b {batch}" --candidates big.gguf,mid.gguf,small.gguf --knob ctx=4096,8192 --knob parallel=1,2,4,8 --knob batch=256,512,1024 --concurrency 4 --prompt-tokens 1024 --max-tokens 64 --max-ttft-p95-ms 2000 --out recipe.json',
      "The biggest model that fits, then its fastest knobs, as a recipe",
    )
    .example(
      "$0 tune --replay cells.jsonl --objective throughput --max-trials 20 --json",
      "Tune on recorded measurements",
    )
    .example("$0 tune --resume 3f2c9a1e", "Continue an interrupted or killed tune");

type TuneCommandArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>["argv"]>>;

/** `tokbench tune`: the biggest model that fits, then the fastest knobs, as a recipe. */
export const tuneCommand: CommandModule<object, TuneCommandArgs> = {
  command: "tune",
  describe: "Find the biggest model that fits and its fastest knobs with few trials; write a recipe",
  builder: builder as unknown as CommandModule<object, TuneCommandArgs>["builder"],
  async handler(argv) {
    const { runTuneCommand } = await import("./tune/runTuneCommand.js");
    process.exitCode = await runTuneCommand(argv as unknown as TuneArgs);
  },
};
