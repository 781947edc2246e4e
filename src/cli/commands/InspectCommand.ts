import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { renderInspection } from "../../output/terminal/renderInspection.js";
import { terminalSafeJson } from "../../text/sanitizeText.js";
import { inspectModelFromArgs, withModelFileOptions } from "../inspectModelFromArgs.js";

const builder = (yargs: Argv) =>
  withModelFileOptions(yargs)
    .option("tensors", {
      type: "boolean",
      default: false,
      describe: "Also show the per-tensor table (one row per tensor: hundreds of lines)",
    })
    .example("$0 inspect model.gguf", "Hyper-parameters, tensors, quantization mix, bytes per token")
    .example("$0 inspect model.gguf --json | jq .parameters", "Machine-readable");

type InspectArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>["argv"]>>;

/** `tokbench inspect <file>`: what is inside a GGUF model. */
export const inspectCommand: CommandModule<object, InspectArgs> = {
  builder: builder as unknown as CommandModule<object, InspectArgs>["builder"],
  async handler(argv) {
    const m = await inspectModelFromArgs(argv);
    process.stdout.write(argv.json ? `${terminalSafeJson(m, 2)}\n` : renderInspection(m, argv.tensors));
  },
};
