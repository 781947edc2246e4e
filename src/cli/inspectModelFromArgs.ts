import type { Argv } from "yargs";
import { inspectModel, type ModelInspection } from "../gguf/inspectModel.js";
import { checkNumberFlag, NUMBER_FLAG } from "./parseNumberFlag.js";

/** Inspects the model a command names, with its `--ctx` and `--kv-type` flags checked. */
export function inspectModelFromArgs(argv: {
  file: string;
  ctx?: unknown;
  kvType: string;
}): Promise<ModelInspection> {
  return inspectModel(argv.file, {
    ...(argv.ctx === undefined
      ? {}
      : { contextLength: checkNumberFlag("ctx", argv.ctx, { min: 1, max: 1 << 26, integer: true }) }),
    kvType: argv.kvType,
  });
}

/** The flags of commands that read one model file: `<file>`, `--json`, `--ctx`, `--kv-type`. */
export function withModelFileOptions<T>(yargs: Argv<T>) {
  return yargs
    .positional("file", { type: "string", demandOption: true, describe: "GGUF model file" })
    .option("json", { type: "boolean", default: false, describe: "Print only JSON on stdout" })
    .option("ctx", {
      ...NUMBER_FLAG,
      describe: "Tokens in the KV cache (default: the model's context length)",
    })
    .option("kv-type", {
      type: "string",
      default: "f16",
      describe: "KV-cache type (f16, q8_0, q4_0, f32...)",
    });
}
