import type { LlamaContext, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import { DirectDecoder } from "../../src/engine/DirectDecoder.js";
import { TokbenchError } from "../../src/errors/TokbenchError.js";
import { mean, sampleStddev } from "../../src/stats/descriptive.js";
import { seededRandom } from "../../src/workload/seededRandom.js";

/** How the generation test feeds tokens to the engine. */
export type TgMode =
  /** {@link DirectDecoder}: one native decode per token with logits, no sample, exactly llama-bench's loop. */
  | "direct"
  /** One `controlledEvaluate` per token with greedy sampling of the next token: llama-bench's work
   * (one single-token decode with logits) plus a native greedy sample. */
  | "controlled"
  /** node-llama-cpp's `sequence.evaluate()` generator with greedy sampling, each sampled token fed
   * back: the same decode-with-logits per token, one sampler for the whole run; what a chat sees. */
  | "generator";

/** Options of {@link runPpTgBenchmark}. */
export interface PpTgBenchmarkOptions {
  /** Prompt tokens of the prompt-processing test (llama-bench `-p`); 0 skips it. Defaults to 64. */
  nPrompt?: number;
  /** Generated tokens of the generation test (llama-bench `-n`); 0 skips it. Defaults to 32. */
  nGen?: number;
  /** CPU threads for both tests (llama-bench `-t`). Defaults to 1. */
  threads?: number;
  /** Logical batch size (llama-bench `-b`; node-llama-cpp uses it as the micro-batch too). Defaults to 2048. */
  batchSize?: number;
  /** Timed repetitions per test (llama-bench `-r`). Defaults to 3. */
  repetitions?: number;
  /** Run one untimed pass of each test first, as llama-bench does. Defaults to true. */
  warmup?: boolean;
  /** Flash attention; llama-bench's default is "auto". Defaults to "auto". */
  flashAttention?: boolean | "auto";
  /**
   * See {@link TgMode}; it applies to the prompt test too. "direct" falls back to "controlled" when
   * the installed node-llama-cpp lacks the native calls it needs ({@link PpTgBenchmarkResult.tg_mode}
   * says which ran). Defaults to "direct".
   */
  tgMode?: TgMode;
  /** Seed of the pseudo-random prompt tokens. Defaults to 42. */
  seed?: number;
}

/** Rates of one test, with llama-bench's field names and definitions. */
export interface PpTgTestResult {
  n_prompt: number;
  n_gen: number;
  n_threads: number;
  n_batch: number;
  /** Mean over repetitions of tokens / seconds of each repetition. */
  avg_ts: number;
  /** Sample standard deviation of the per-repetition rates (0 for one repetition). */
  stddev_ts: number;
  /** Per-repetition rates in tokens per second. */
  samples_ts: number[];
  /** Per-repetition durations in nanoseconds. */
  samples_ns: number[];
}

/** Results of {@link runPpTgBenchmark}: `pp` when `nPrompt > 0`, `tg` when `nGen > 0`. */
export interface PpTgBenchmarkResult {
  pp: PpTgTestResult | null;
  tg: PpTgTestResult | null;
  /** The loop that ran. */
  tg_mode: TgMode;
}

/**
 * Measures prompt processing and generation speed in-process the way llama-bench does: one context
 * sized `nPrompt + nGen`, a warmup pass, then for each repetition the memory is cleared and the test
 * is timed alone (`pp`: all prompt tokens in batches of `batchSize`, logits for the last one; `tg`:
 * `nGen` single-token decodes from an empty context, each producing logits). The rates are
 * `tokens / seconds` per repetition, averaged like llama-bench's `avg_ts`.
 *
 * The loops use the lowest-overhead public node-llama-cpp calls so the figures show the engine, not
 * tokbench (see {@link TgMode} for the two generation loops).
 */
export async function runPpTgBenchmark(
  model: LlamaModel,
  options: PpTgBenchmarkOptions = {},
): Promise<PpTgBenchmarkResult> {
  const nPrompt = options.nPrompt ?? 64;
  const nGen = options.nGen ?? 32;
  const threads = options.threads ?? 1;
  const batchSize = options.batchSize ?? 2048;
  const repetitions = options.repetitions ?? 3;
  const warmup = options.warmup ?? true;
  const requestedMode = options.tgMode ?? "direct";
  for (const [name, value, min] of [
    ["nPrompt", nPrompt, 0],
    ["nGen", nGen, 0],
    ["threads", threads, 1],
    ["batchSize", batchSize, 1],
    ["repetitions", repetitions, 1],
  ] as const) {
    if (!Number.isInteger(value) || value < min) {
      throw new TokbenchError("INVALID_ARGUMENT", `${name} must be an integer >= ${min}, got ${value}`, {
        context: { option: name },
      });
    }
  }
  if (nPrompt === 0 && nGen === 0) {
    throw new TokbenchError("INVALID_ARGUMENT", "nPrompt and nGen are both 0: nothing to measure");
  }

  const vocabSize = vocabularySize(model);
  const random = seededRandom(options.seed ?? 42);
  const randomToken = (): Token => Math.floor(random() * vocabSize) as Token;

  let context: LlamaContext;
  try {
    context = await model.createContext({
      contextSize: Math.max(nPrompt + nGen, 1) + 1,
      batchSize: Math.min(batchSize, Math.max(nPrompt, 1)),
      threads,
      flashAttention: options.flashAttention ?? "auto",
      sequences: 1,
    });
  } catch (error) {
    throw new TokbenchError("ENGINE_LOAD_FAILED", `could not create a context for ${threads} threads`, {
      context: { threads, n_prompt: nPrompt, n_gen: nGen },
      cause: error,
    });
  }
  const decoder = requestedMode === "direct" ? DirectDecoder.open(context, model, threads) : null;
  const tgMode: TgMode = requestedMode === "direct" && decoder === null ? "controlled" : requestedMode;
  try {
    const loop: Loop =
      decoder !== null
        ? directLoop(decoder)
        : sequenceLoop(context.getSequence(), tgMode as Exclude<TgMode, "direct">);
    const prompt = Array.from({ length: nPrompt }, randomToken);
    const result: PpTgBenchmarkResult = { pp: null, tg: null, tg_mode: tgMode };
    if (nPrompt > 0) {
      if (warmup) await loop.prompt(prompt);
      const samples: number[] = [];
      for (let i = 0; i < repetitions; i++) {
        await loop.clear();
        const start = process.hrtime.bigint();
        await loop.prompt(prompt);
        samples.push(Number(process.hrtime.bigint() - start));
      }
      result.pp = toTestResult(nPrompt, 0, threads, batchSize, samples);
    }
    if (nGen > 0) {
      if (warmup) {
        await loop.clear();
        await loop.gen(1, randomToken);
      }
      const samples: number[] = [];
      for (let i = 0; i < repetitions; i++) {
        await loop.clear();
        const start = process.hrtime.bigint();
        await loop.gen(nGen, randomToken);
        samples.push(Number(process.hrtime.bigint() - start));
      }
      result.tg = toTestResult(0, nGen, threads, batchSize, samples);
    }
    return result;
  } finally {
    decoder?.dispose();
    await context.dispose();
  }
}

/** The three operations of a test, on whichever loop runs. */
interface Loop {
  clear(): Promise<void>;
  prompt(tokens: Token[]): Promise<void>;
  gen(nGen: number, randomToken: () => Token): Promise<void>;
}

function directLoop(decoder: DirectDecoder): Loop {
  return {
    clear: async () => decoder.clear(),
    async prompt(tokens) {
      // Batches as large as the context allows, logits for the last token (as llama_batch_get_one
      // does in llama-bench), no sample.
      await decoder.generate(tokens, {
        chunk_size: tokens.length,
        max_tokens: 1,
        ignore_eos: true,
        next_token: () => 0 as Token,
      });
    },
    async gen(nGen, randomToken) {
      // llama-bench's tg exactly: single-token decodes of random tokens, logits computed, no sample.
      for (let i = 0; i < nGen; i++) await decoder.decode([randomToken()], true);
    },
  };
}

function sequenceLoop(sequence: LlamaContextSequence, mode: Exclude<TgMode, "direct">): Loop {
  return {
    clear: () => sequence.clearHistory(),
    async prompt(prompt) {
      const last = prompt.length - 1;
      // Logits for the last prompt token only, as llama_batch_get_one does in llama-bench.
      await sequence.controlledEvaluate(
        prompt.map((token, index) => (index === last ? [token, { generateNext: { token: true } }] : token)),
      );
    },
    async gen(nGen, randomToken) {
      if (mode === "generator") {
        let produced = 0;
        for await (const _token of sequence.evaluate([randomToken()], { temperature: 0 })) {
          if (++produced >= nGen) break;
        }
        return;
      }
      for (let i = 0; i < nGen; i++) {
        // Feeding a random token (like llama-bench) instead of the sampled one keeps the work
        // independent of what the synthetic model predicts; the sample still happens.
        await sequence.controlledEvaluate([[randomToken(), { generateNext: { token: true } }]]);
      }
    },
  };
}

/** The token ids the prompt may use: any valid id costs the same, so a safe lower bound is enough. */
function vocabularySize(model: LlamaModel): number {
  const embedding = model.fileInfo.tensorInfo?.find((tensor) => tensor.name === "token_embd.weight");
  const rows = embedding?.dimensions[1];
  const size = typeof rows === "bigint" ? Number(rows) : rows;
  // 256 ids exist in every vocabulary tokbench synthesizes or llama.cpp accepts.
  return typeof size === "number" && size > 0 ? size : 256;
}

function toTestResult(
  nPrompt: number,
  nGen: number,
  threads: number,
  batchSize: number,
  samplesNs: number[],
): PpTgTestResult {
  const tokens = nPrompt + nGen;
  const samplesTs = samplesNs.map((ns) => (tokens * 1e9) / ns);
  return {
    n_prompt: nPrompt,
    n_gen: nGen,
    n_threads: threads,
    n_batch: batchSize,
    avg_ts: mean(samplesTs),
    stddev_ts: sampleStddev(samplesTs),
    samples_ts: samplesTs,
    samples_ns: samplesNs,
  };
}
