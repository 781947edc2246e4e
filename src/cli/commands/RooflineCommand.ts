import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { createTable } from "../../output/createTable.js";
import { createProgressBar } from "../../output/progressBar.js";
import { formatBandwidth, formatBytes } from "../../output/units.js";
import { TERMINAL_WIDTH, wrapLines } from "../../output/wrapText.js";
import { getMemoryBandwidth } from "../../roofline/getMemoryBandwidth.js";
import { lastLevelCacheBytes } from "../../roofline/lastLevelCacheBytes.js";
import { modelRoofline } from "../../roofline/modelRoofline.js";
import { terminalSafeJson } from "../../text/sanitizeText.js";
import { inspectModelFromArgs, withModelFileOptions } from "../inspectModelFromArgs.js";
import { checkNumberFlag, NUMBER_FLAG } from "../parseNumberFlag.js";

const builder = (yargs: Argv) =>
  withModelFileOptions(yargs)
    .option("prompt", { ...NUMBER_FLAG, default: 512, describe: "Prompt length for the prefill ceiling" })
    .option("bandwidth", { ...NUMBER_FLAG, describe: "Memory bandwidth in GB/s instead of probing" })
    .option("flops", { ...NUMBER_FLAG, describe: "Compute in GFLOP/s, for the prefill ceiling" })
    .option("threads", { ...NUMBER_FLAG, describe: "Probe threads (default: all logical CPUs)" })
    .option("reprobe", {
      type: "boolean",
      default: false,
      describe: "Measure bandwidth again, ignoring the cache",
    })
    .option("progress", {
      type: "boolean",
      default: true,
      describe: "Progress bar of the bandwidth probe on stderr (only on a terminal)",
    })
    .example("$0 roofline model.gguf", "Decode ceiling of this model on this machine")
    .example("$0 roofline model.gguf --bandwidth 100 --flops 2000", "Ceilings for another machine");

type RooflineArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>["argv"]>>;

/** `tokbench roofline <file>`: the physical speed limit of a model on this machine. */
export const rooflineCommand: CommandModule<object, RooflineArgs> = {
  builder: builder as unknown as CommandModule<object, RooflineArgs>["builder"],
  async handler(argv) {
    const model = await inspectModelFromArgs(argv);
    const probeBar = createProgressBar("probing memory bandwidth", "steps", argv.progress);
    const measure = async () =>
      argv.bandwidth !== undefined
        ? {
            bytes_per_second: checkNumberFlag("bandwidth", argv.bandwidth, { min: 0.001 }) * 1e9,
            source: "flag" as const,
          }
        : {
            ...(await getMemoryBandwidth({
              refresh: argv.reprobe,
              onProgress: (done, total) => probeBar.update(done, total),
              ...(argv.threads === undefined
                ? {}
                : {
                    threads: checkNumberFlag("threads", argv.threads, { min: 1, max: 4096, integer: true }),
                  }),
            })),
            source: "probe" as const,
          };
    let bandwidth: Awaited<ReturnType<typeof measure>>;
    try {
      bandwidth = await measure();
    } finally {
      probeBar.stop();
    }
    const flops =
      argv.flops === undefined ? undefined : checkNumberFlag("flops", argv.flops, { min: 0.001 }) * 1e9;
    const roofline = modelRoofline(model, bandwidth.bytes_per_second, {
      promptLength: checkNumberFlag("prompt", argv.prompt, { min: 1, max: 1 << 26, integer: true }),
      ...(flops === undefined ? {} : { flopsPerSecond: flops }),
    });
    const cacheBytes = lastLevelCacheBytes();
    const cacheResident = cacheBytes !== null && roofline.weight_bytes_per_token <= cacheBytes;
    if (argv.json) {
      const out = {
        model: argv.file,
        bandwidth,
        roofline,
        last_level_cache_bytes: cacheBytes,
        cache_resident: cacheResident,
      };
      process.stdout.write(`${terminalSafeJson(out, 2)}\n`);
      return;
    }
    const t = createTable();
    const how =
      bandwidth.source === "flag"
        ? "given"
        : `${"cached" in bandwidth && bandwidth.cached ? "cached probe" : "probed"}, ${"threads" in bandwidth ? bandwidth.threads : "?"} threads`;
    t.push(
      { model: argv.file },
      { "memory bandwidth": `${formatBandwidth(bandwidth.bytes_per_second)} (${how})` },
      { "weights read per token": formatBytes(roofline.weight_bytes_per_token) },
      { "KV cache per token": formatBytes(roofline.kv_bytes_per_token) },
      { "decode ceiling, empty cache": `${roofline.decode_tps_empty_context.toFixed(1)} tok/s` },
      {
        [`decode ceiling at ${roofline.context_length.toLocaleString("en-US")} tokens`]: `${roofline.decode_tps_at_context.toFixed(1)} tok/s`,
      },
      {
        [`prefill ceiling (${roofline.prompt_length} tokens)`]:
          roofline.prefill_tps === null
            ? `needs --flops (${(roofline.prefill_flops_per_token / 1e9).toFixed(2)} GFLOP/token)`
            : `${roofline.prefill_tps.toFixed(1)} tok/s`,
      },
    );
    process.stdout.write(`${t.toString()}\n`);
    if (cacheResident) {
      const note =
        `note: a token's weights (${formatBytes(roofline.weight_bytes_per_token)}) fit in the CPU's last-level cache ` +
        `(${formatBytes(cacheBytes ?? 0)}): the model runs from cache, so memory bandwidth does not bound it.`;
      process.stdout.write(`${wrapLines(note, TERMINAL_WIDTH).join("\n")}\n`);
    }
  },
};
