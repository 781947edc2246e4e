import { basename } from "node:path";
import type { Argv } from "yargs";
import { isTokbenchError, TokbenchError } from "../../../errors/TokbenchError.js";
import { SimulatedServer, type SimulatedServerOptions } from "../../../mock/SimulatedServer.js";
import { ggufModelShape } from "../../../mock/simulation/ggufModelShape.js";
import {
  SIM_FLASH_ATTN,
  SIM_KV_TYPES,
  type SimFlashAttn,
  type SimKvType,
} from "../../../mock/simulation/SimulationConfig.js";
import { sanitizeText } from "../../../text/sanitizeText.js";
import {
  checkNumberFlag,
  NUMBER_FLAG,
  type NumberFlagLimits,
  PARSER_CONFIGURATION,
} from "../../parseNumberFlag.js";

const MAX_SEED = 2 ** 32 - 1;

const GROUP = "Simulated llama-server (--simulate; llama-server's flag names and short forms):";

/**
 * Adds `--simulate` and its llama-server-like knobs to `tokbench mock`. The short forms are
 * llama-server's (`-c`, `-np`, `-t`, `-b`, `-ub`, `-ctk`, `-ctv`, `-fa`, `-ngl`), so a command line
 * written for llama-server runs the simulation unchanged; none has a yargs default, so the handler
 * can tell a flag given from one left out.
 */
export function withSimulateOptions<T>(yargs: Argv<T>) {
  const num = (description: string, alias?: string) => ({
    ...NUMBER_FLAG,
    group: GROUP,
    description,
    ...(alias === undefined ? {} : { alias }),
  });
  return (
    yargs
      // llama-server's multi-letter short flags (-np, -ub, -ngl) must not split into single letters.
      .parserConfiguration({ ...PARSER_CONFIGURATION, "short-option-groups": false })
      .option("simulate", {
        type: "boolean",
        default: false,
        group: GROUP,
        description: "Behave like llama-server under load (a test double, not a benchmark result)",
      })
      .option("ctx-size", num("Total KV context in tokens, split across the slots (default 4096)", "c"))
      .option("parallel", num("Slots decoded together (default 1)", "np"))
      .option("threads", num("CPU threads; fastest at --cores (default: --cores)", "t"))
      .option("batch-size", num("Logical batch: most tokens per iteration (default 2048)", "b"))
      .option("ubatch-size", num("Physical batch, at most --batch-size (default 512)", "ub"))
      .option("cache-type-k", {
        type: "string",
        group: GROUP,
        alias: "ctk",
        choices: SIM_KV_TYPES,
        description: "K cache type (default f16)",
      })
      .option("cache-type-v", {
        type: "string",
        group: GROUP,
        alias: "ctv",
        choices: SIM_KV_TYPES,
        description: "V cache type; quantized needs flash attention (default f16)",
      })
      .option("flash-attn", {
        type: "string",
        group: GROUP,
        alias: "fa",
        description: "Flash attention: on, off or auto; bare -fa means on (default auto)",
      })
      .option("n-gpu-layers", {
        ...num("Layers on a simulated GPU, -1 for all (default 0)"),
        alias: ["ngl", "gpu-layers"],
      })
      .option("alias", {
        type: "string",
        group: GROUP,
        alias: "a",
        description: "Model name listed by /v1/models",
      })
      .option(
        "model-size-mib",
        num("Weights in MiB (default: -m's tensor bytes, else 400, qwen2.5-0.5b-like)"),
      )
      .option(
        "kv-bytes-per-token",
        num("KV bytes per token, one sequence, all layers, at f16 (default: -m's, else 12288)"),
      )
      .option("layers", num("Transformer layers, for --n-gpu-layers (default: -m's, else 24)"))
      .option("memory-budget-mib", num("Memory for weights + KV + buffers in MiB (default: no limit)"))
      .option(
        "seq-buffer-mib",
        num("Compute buffer per active sequence in MiB, counted at run time (default 0)"),
      )
      .option("compute-buffer-mib", num("Start-up compute buffer in MiB at ubatch 512 (default 0)"))
      .option("cores", num("Cores of the simulated machine (default 8)"))
      .option("prefill-tps", num("Prompt tokens/s of one sequence alone at the default knobs (default 300)"))
      .option("decode-tps", num("Generated tokens/s of one sequence alone at the default knobs (default 30)"))
      .option("noise", num("Relative seeded noise on iteration times, e.g. 0.1 (default 0)"))
      .option(
        "startup-ms",
        num("Start-up (model load) time in ms; /health answers 503 until then (default 300)"),
      )
      .option(
        "crash-after",
        num("Crash (exit 139) when request N+1 arrives, to test launchers (default never)"),
      )
  );
}

/** The parsed flags the simulated mode reads (yargs camel-case names). */
export interface SimulateArgs {
  port: unknown;
  host: string;
  model?: string;
  seed: unknown;
  maxTokens: unknown;
  stopAfter?: unknown;
  apiKey?: string;
  ctxSize?: unknown;
  parallel?: unknown;
  threads?: unknown;
  batchSize?: unknown;
  ubatchSize?: unknown;
  cacheTypeK?: string;
  cacheTypeV?: string;
  flashAttn?: string;
  nGpuLayers?: unknown;
  alias?: string;
  modelSizeMib?: unknown;
  kvBytesPerToken?: unknown;
  layers?: unknown;
  memoryBudgetMib?: unknown;
  seqBufferMib?: unknown;
  computeBufferMib?: unknown;
  cores?: unknown;
  prefillTps?: unknown;
  decodeTps?: unknown;
  noise?: unknown;
  startupMs?: unknown;
  crashAfter?: unknown;
}

/** Flags of the simulated mode, by their yargs camel-case name, for "given without --simulate". */
export const SIMULATE_ONLY_FLAGS: Readonly<Record<string, string>> = {
  ctxSize: "ctx-size",
  parallel: "parallel",
  threads: "threads",
  batchSize: "batch-size",
  ubatchSize: "ubatch-size",
  cacheTypeK: "cache-type-k",
  cacheTypeV: "cache-type-v",
  flashAttn: "flash-attn",
  nGpuLayers: "n-gpu-layers",
  alias: "alias",
  modelSizeMib: "model-size-mib",
  kvBytesPerToken: "kv-bytes-per-token",
  layers: "layers",
  memoryBudgetMib: "memory-budget-mib",
  seqBufferMib: "seq-buffer-mib",
  computeBufferMib: "compute-buffer-mib",
  cores: "cores",
  prefillTps: "prefill-tps",
  decodeTps: "decode-tps",
  noise: "noise",
  startupMs: "startup-ms",
  crashAfter: "crash-after",
};

/** Flags of the scripted mock that mean nothing to the simulation (it times tokens itself). */
export const SCRIPTED_ONLY_FLAGS = [
  "ttft-ms",
  "itl-ms",
  "tokens-per-chunk",
  "buffered",
  "empty-deltas",
  "keep-alive",
  "reasoning",
  "usage",
  "timings",
  "error-rate",
  "cut-rate",
] as const;

/**
 * The flags a command line names, as their dashed long names (`--ttft-ms 5`, `--ttftMs=5` and
 * `--no-usage` give `ttft-ms`, `ttft-ms` and `usage`; `-m x` gives `m`): yargs fills in defaults, so only the raw
 * arguments tell whether a flag with a default was given.
 */
export function namedFlags(args: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const arg of args) {
    if (arg === "--") break;
    const match = /^--?(?:no-)?([^=-][^=]*)/.exec(arg);
    if (match === null) continue;
    names.add((match[1] as string).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`));
  }
  return names;
}

/** Builds the server's options from the flags; throws `INVALID_ARGUMENT` naming a bad flag. */
export function simulatedServerOptions(argv: SimulateArgs): SimulatedServerOptions {
  const opt = (name: string, value: unknown, limits: NumberFlagLimits) =>
    value === undefined ? undefined : checkNumberFlag(name, value, limits);
  const count = (max: number, min = 1): NumberFlagLimits => ({ min, max, integer: true });
  const amount = (max: number, min = 0): NumberFlagLimits => ({ min, max });
  const flashAttn = argv.flashAttn === undefined ? undefined : argv.flashAttn === "" ? "on" : argv.flashAttn;
  if (flashAttn !== undefined && !(SIM_FLASH_ATTN as readonly string[]).includes(flashAttn))
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `--flash-attn must be one of ${SIM_FLASH_ATTN.join(", ")} (got ${JSON.stringify(argv.flashAttn)})`,
    );
  const alias = argv.alias ?? (argv.model === undefined ? undefined : basename(argv.model));
  // Bounds: what a llama-server on any machine could take; beyond them a value is a typo.
  return {
    host: argv.host,
    port: checkNumberFlag("port", argv.port, count(65535, 0)),
    ...(alias === undefined ? {} : { alias }),
    ...(argv.model === undefined ? {} : { modelPath: argv.model }),
    seed: checkNumberFlag("seed", argv.seed, { min: -MAX_SEED, max: MAX_SEED, integer: true }),
    defaultMaxTokens: checkNumberFlag("max-tokens", argv.maxTokens, count(1 << 24)),
    stopAfter: opt("stop-after", argv.stopAfter, count(1 << 24, 0)) ?? null,
    apiKey: argv.apiKey ?? null,
    ctxSize: opt("ctx-size", argv.ctxSize, count(1 << 24)),
    parallel: opt("parallel", argv.parallel, count(4096)),
    threads: opt("threads", argv.threads, count(4096)),
    batchSize: opt("batch-size", argv.batchSize, count(1 << 24)),
    ubatchSize: opt("ubatch-size", argv.ubatchSize, count(1 << 24)),
    cacheTypeK: argv.cacheTypeK as SimKvType | undefined,
    cacheTypeV: argv.cacheTypeV as SimKvType | undefined,
    flashAttn: flashAttn as SimFlashAttn | undefined,
    nGpuLayers: opt("n-gpu-layers", argv.nGpuLayers, count(100_000, -1)),
    modelSizeMiB: opt("model-size-mib", argv.modelSizeMib, amount(1 << 24, Number.MIN_VALUE)),
    kvBytesPerToken: opt("kv-bytes-per-token", argv.kvBytesPerToken, amount(1 << 30, Number.MIN_VALUE)),
    layers: opt("layers", argv.layers, count(100_000)),
    memoryBudgetMiB:
      opt("memory-budget-mib", argv.memoryBudgetMib, amount(1 << 30, Number.MIN_VALUE)) ?? null,
    seqBufferMiB: opt("seq-buffer-mib", argv.seqBufferMib, amount(1 << 24)),
    computeBufferMiB: opt("compute-buffer-mib", argv.computeBufferMib, amount(1 << 24)),
    cores: opt("cores", argv.cores, count(4096)),
    prefillTps: opt("prefill-tps", argv.prefillTps, amount(1e9, Number.MIN_VALUE)),
    decodeTps: opt("decode-tps", argv.decodeTps, amount(1e9, Number.MIN_VALUE)),
    noise: opt("noise", argv.noise, amount(1)),
    startupMs: opt("startup-ms", argv.startupMs, amount(3_600_000)),
    crashAfter: opt("crash-after", argv.crashAfter, count(2 ** 31, 0)) ?? null,
  };
}

/**
 * Runs the simulated server until SIGTERM/SIGINT (exit 0, like llama-server) or until it dies:
 * exit 1 when the model does not fit at start or the port is taken, 134 when it runs out of
 * memory under load. Log lines go to stderr, as llama-server's do; the base URL goes to stdout
 * once the port is open (readiness is `/health` answering 200).
 */
export async function runSimulatedMock(argv: SimulateArgs): Promise<void> {
  const stderr = (line: string) => process.stderr.write(`${line}\n`);
  const options = simulatedServerOptions(argv);
  if (argv.model !== undefined) {
    // Like llama-server's -m: the file's size and KV width, unless flags say otherwise.
    try {
      const shape = await ggufModelShape(argv.model);
      options.modelSizeMiB ??= shape.modelSizeMiB;
      options.kvBytesPerToken ??= shape.kvBytesPerToken;
      options.layers ??= shape.layers;
    } catch (error) {
      if (!isTokbenchError(error)) throw error;
      stderr(`llama_model_load: error loading model: ${sanitizeText(error.message)}`);
      stderr(`llama_model_load_from_file_impl: failed to load model`);
      stderr("main: error: unable to load model");
      process.exit(1);
    }
  }
  const server = new SimulatedServer(options, {
    log: stderr,
    exit: (code) => process.exit(code),
  });
  // Listen for the stop signals first: a launcher may stop the server while it is still starting.
  const stopped = new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  let url: string;
  try {
    url = await server.listen();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    if (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL") {
      stderr(`srv    start: couldn't bind HTTP server socket, hostname: ${argv.host}, port: ${argv.port}`);
      stderr(`tokbench: cannot listen on ${argv.host}:${argv.port} (${code})`);
      process.exit(1);
    }
    throw error;
  }
  process.stdout.write(`${url}\n`);
  await stopped;
  await server.close();
  process.exit(0);
}
