import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { TokbenchError } from "../../errors/TokbenchError.js";
import { createTable } from "../../output/createTable.js";
import { createProgressBar } from "../../output/progressBar.js";
import { formatBytes, formatDuration, formatParameters } from "../../output/units.js";
import type { ModelShape } from "../../synth/ModelShape.js";
import { SYNTH_ARCHITECTURES } from "../../synth/ModelShape.js";
import { countParameters } from "../../synth/planTensors.js";
import { listPresets } from "../../synth/presets.js";
import { synthesizeModel } from "../../synth/synthesizeModel.js";
import { SYNTH_TYPES, type SynthType } from "../../synth/synthTypes.js";
import { sanitizeText, terminalSafeJson } from "../../text/sanitizeText.js";
import { checkNumberFlag, NUMBER_FLAG } from "../parseNumberFlag.js";
import { StopSignals } from "../stopSignals.js";

/** Custom-shape flags and the ModelShape field each sets. */
const SHAPE_FLAGS = {
  vocab: "vocabSize",
  embd: "embeddingLength",
  layers: "blockCount",
  ff: "feedForwardLength",
  heads: "headCount",
  "kv-heads": "headCountKv",
  "head-dim": "headDim",
  ctx: "contextLength",
  experts: "expertCount",
  "experts-used": "expertUsedCount",
  "expert-ff": "expertFeedForwardLength",
} as const satisfies Record<string, keyof ModelShape>;

const builder = (yargs: Argv) => {
  let y = yargs
    .option("preset", { type: "string", default: "tiny", describe: "Model shape to copy (see --list)" })
    .option("type", {
      type: "string",
      choices: SYNTH_TYPES,
      default: "q8_0",
      describe: "Weight type of the matrices",
    })
    .option("out", { type: "string", describe: "Output .gguf path" })
    .option("force", {
      type: "boolean",
      default: false,
      describe: "Replace --out when it exists (the old file stays whole until the new one is complete)",
    })
    .option("progress", {
      type: "boolean",
      default: true,
      describe: "Progress bar on stderr (only on a terminal)",
    })
    .option("seed", { ...NUMBER_FLAG, default: 1, describe: "Seed of the weights (same seed, same bytes)" })
    .option("threads", {
      ...NUMBER_FLAG,
      describe: "Worker threads encoding weights (default: all cores; 1 for small models)",
    })
    .option("list", { type: "boolean", default: false, describe: "List the presets and exit" })
    .option("json", { type: "boolean", default: false, describe: "Print the result (or the list) as JSON" })
    .option("arch", { type: "string", choices: SYNTH_ARCHITECTURES, describe: "Custom shape: architecture" })
    .option("tied", { type: "boolean", describe: "Custom shape: output projection reuses the embedding" })
    .option("name", { type: "string", describe: "general.name written into the file" });
  for (const [flag, field] of Object.entries(SHAPE_FLAGS)) {
    y = y.option(flag, { ...NUMBER_FLAG, describe: `Custom shape: ${field}` });
  }
  return y
    .example(
      "$0 synth --preset llama-3.2-1b --type q4_0 --out llama1b.gguf",
      "A Llama-3.2-1B-shaped Q4_0 model",
    )
    .example("$0 synth --preset tiny --layers 8 --embd 512 --out t.gguf", "A custom shape")
    .example("$0 synth --list", "Presets with the sizes of the real models");
};

type SynthArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>["argv"]>>;

function printList(json: boolean): void {
  const rows = listPresets().map((p) => {
    const params = countParameters(p.shape);
    return {
      name: p.name,
      architecture: p.shape.architecture,
      real_model: p.realModel,
      parameters: params,
      published_parameters: p.publishedParameters,
      f16_bytes: params * 2,
      q8_0_bytes: Math.round(params * (34 / 32)),
      q4_0_bytes: Math.round(params * (18 / 32)),
      description: p.description,
    };
  });
  if (json) {
    process.stdout.write(`${terminalSafeJson(rows, 2)}\n`);
    return;
  }
  const table = createTable({ head: ["preset", "arch", "real model", "parameters", "F16", "Q8_0", "Q4_0"] });
  for (const r of rows) {
    table.push([
      r.name,
      r.architecture,
      r.real_model,
      formatParameters(r.parameters),
      formatBytes(r.f16_bytes),
      formatBytes(r.q8_0_bytes),
      formatBytes(r.q4_0_bytes),
    ]);
  }
  process.stdout.write(
    `${table.toString()}\nSizes are approximate: vectors stay F32, plus the vocabulary.\n`,
  );
}

/** `tokbench synth`: writes a GGUF model of a real model's shape with synthetic weights. */
export const synthCommand: CommandModule<object, SynthArgs> = {
  builder: builder as unknown as CommandModule<object, SynthArgs>["builder"],
  async handler(argv) {
    if (argv.list) {
      printList(argv.json);
      return;
    }
    if (argv.out === undefined || argv.out === "") {
      throw new TokbenchError("INVALID_ARGUMENT", "--out <file.gguf> is required (or --list)");
    }
    const shape: Partial<Record<keyof ModelShape, unknown>> = {};
    const args = argv as unknown as Record<string, unknown>;
    for (const [flag, field] of Object.entries(SHAPE_FLAGS)) {
      const v = args[flag];
      if (v !== undefined) shape[field] = checkNumberFlag(flag, v, { min: 0, integer: true });
    }
    if (argv.arch !== undefined) {
      shape.architecture = argv.arch;
      // Architecture-specific tensors follow the architecture unless the preset already agrees.
      shape.qkvBias = argv.arch === "qwen2";
      shape.qkNorm = argv.arch === "qwen3" || argv.arch === "qwen3moe";
    }
    if (argv.tied !== undefined) shape.tiedEmbeddings = argv.tied;
    const started = performance.now();
    const bar = createProgressBar(`synth ${argv.preset}`, "bytes", argv.progress);
    // A stop signal ends the synth between two chunks: the temporary file is removed, --out is left
    // as it was, and one line says so (exit 128 + n) instead of the default silent death.
    const stop = StopSignals.listen({
      setup: argv.force
        ? `while writing: ${argv.out} was left as it was`
        : `while writing: ${argv.out} was not created`,
    });
    let result: Awaited<ReturnType<typeof synthesizeModel>>;
    try {
      result = await synthesizeModel({
        preset: argv.preset,
        type: argv.type as SynthType,
        out: argv.out,
        overwrite: argv.force,
        seed: checkNumberFlag("seed", argv.seed, { min: 0, integer: true }),
        shape: shape as Partial<ModelShape>,
        onProgress: (p) => bar.update(p.written_bytes, p.total_bytes),
        signal: stop.signal,
        ...(argv.name === undefined ? {} : { name: argv.name }),
        ...(argv.threads === undefined
          ? {}
          : { threads: checkNumberFlag("threads", argv.threads, { min: 1, integer: true }) }),
      });
    } finally {
      bar.stop();
      stop.close();
    }
    const ms = performance.now() - started;
    if (argv.json) {
      process.stdout.write(`${terminalSafeJson({ ...result, seconds: ms / 1000 }, 2)}\n`);
      return;
    }
    // The path is the user's: it goes through the one sanitiser like every outside text.
    process.stdout.write(
      `${sanitizeText(
        `${result.path}: ${result.shape.architecture}, ${result.parameters.toLocaleString("en-US")} parameters, ` +
          `${argv.type}, ${formatBytes(result.bytes)} in ${formatDuration(ms)}`,
      )}\n`,
    );
  },
};
