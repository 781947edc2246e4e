import { inspectModel, type ModelInspection } from "../gguf/inspectModel.js";
import { checkNumberFlag } from "./parseNumberFlag.js";

/** Inspects the model a command names, with its `--ctx` and `--kv-type` flags checked. */
export function inspectModelFromArgs(argv: {
  file: string;
  ctx?: number | undefined;
  kvType: string;
}): Promise<ModelInspection> {
  return inspectModel(argv.file, {
    ...(argv.ctx === undefined
      ? {}
      : { contextLength: checkNumberFlag("ctx", argv.ctx, { min: 1, integer: true }) }),
    kvType: argv.kvType,
  });
}
