import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { hideBin } from "yargs/helpers";
import { TokbenchError } from "../../errors/TokbenchError.js";
import { MockServer } from "../../mock/MockServer.js";
import { checkNumberFlag, NUMBER_FLAG } from "../parseNumberFlag.js";
import {
  namedFlags,
  runSimulatedMock,
  SCRIPTED_ONLY_FLAGS,
  SIMULATE_ONLY_FLAGS,
  withSimulateOptions,
} from "./mock/simulateOptions.js";

/** Longest scripted delay: an hour. */
const MAX_DELAY_MS = 3_600_000;
/** Most tokens a scripted generation may hold. */
const MAX_TOKENS = 1 << 20;
const MAX_SEED = 2 ** 32 - 1;

/**
 * The one-line error for an address the mock cannot listen on: taken by another process, not
 * allowed (a port below 1024 without the right), or not an address of this machine.
 */
function listenError(error: unknown, host: string, port: number): TokbenchError {
  const code = (error as NodeJS.ErrnoException).code;
  const why =
    code === "EADDRINUSE"
      ? "is already in use (pick another --port, or 0 for a free one)"
      : code === "EACCES"
        ? "needs privileges to listen on (pick a --port above 1023)"
        : code === "EADDRNOTAVAIL"
          ? "is not an address of this machine (check --host)"
          : `cannot be listened on: ${(error as Error).message}`;
  return new TokbenchError("INVALID_ARGUMENT", `${host}:${port} ${why}`, {
    context: { host, port },
    cause: error,
  });
}

const builder = (yargs: Argv) =>
  withSimulateOptions(yargs)
    .option("port", { ...NUMBER_FLAG, default: 8089, describe: "Port to listen on (0 picks a free one)" })
    .option("host", { type: "string", default: "127.0.0.1", describe: "Interface to listen on" })
    .option("model", {
      type: "string",
      alias: "m",
      default: "mock-model",
      describe:
        "Model name listed by /v1/models (with --simulate: the model path shown, like llama-server's -m)",
    })
    .option("ttft-ms", { ...NUMBER_FLAG, default: 20, describe: "Time to first token, in ms" })
    .option("itl-ms", { ...NUMBER_FLAG, default: 10, describe: "Time per output token, in ms" })
    .option("tokens-per-chunk", {
      ...NUMBER_FLAG,
      default: 1,
      describe: "Tokens carried by each streamed chunk",
    })
    .option("max-tokens", {
      ...NUMBER_FLAG,
      default: 16,
      describe: "Output tokens when a request sets no max_tokens",
    })
    .option("stop-after", {
      ...NUMBER_FLAG,
      describe: "Simulate EOS after N tokens unless ignore_eos/min_tokens",
    })
    .option("buffered", {
      type: "boolean",
      default: false,
      describe: "Hold all chunks and flush them at once at the end",
    })
    .option("empty-deltas", {
      type: "boolean",
      default: false,
      describe: "Send an empty delta after every token chunk",
    })
    .option("keep-alive", {
      type: "boolean",
      default: false,
      describe: "Send a `: keep-alive` comment before every chunk",
    })
    .option("reasoning", {
      ...NUMBER_FLAG,
      default: 0,
      describe: "The first N output tokens are reasoning_content",
    })
    .option("usage", {
      type: "boolean",
      default: true,
      describe: "Send usage when asked (--no-usage to never send it)",
    })
    .option("timings", { type: "boolean", default: false, describe: "Add a llama.cpp-style timings object" })
    .option("error-rate", { ...NUMBER_FLAG, default: 0, describe: "Fraction of requests answered HTTP 500" })
    .option("cut-rate", { ...NUMBER_FLAG, default: 0, describe: "Fraction of streams cut half-way" })
    .option("seed", {
      ...NUMBER_FLAG,
      default: 1,
      describe: "Seed of the error and cut draws (--simulate: of the noise)",
    })
    .option("api-key", { type: "string", describe: "Require this bearer key (401 otherwise)" })
    .example(
      "$0 mock --port 8089 --ttft-ms 50 --itl-ms 20",
      "Serve a scripted model on http://127.0.0.1:8089/v1",
    )
    .example(
      "$0 mock --buffered --tokens-per-chunk 4",
      "Simulate a proxy that flushes the whole stream at once",
    )
    .example(
      "$0 mock --simulate --port 0 -c 8192 -np 4 --memory-budget-mib 600 --noise 0.1",
      "Behave like a llama-server with 4 slots on a small machine (a test double)",
    );

type MockArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>["argv"]>>;

/**
 * `tokbench mock`: a scripted OpenAI-compatible / Ollama streaming server for tests and demos; with
 * `--simulate`, a simulated llama-server (knobs, slots, batching, memory) for launching and sweeping.
 */
export const mockCommand: CommandModule<object, MockArgs> = {
  builder: builder as unknown as CommandModule<object, MockArgs>["builder"],
  async handler(argv) {
    const given = namedFlags(hideBin(process.argv));
    if (argv.simulate) {
      const scripted = SCRIPTED_ONLY_FLAGS.find((flag) => given.has(flag));
      if (scripted !== undefined)
        throw new TokbenchError(
          "INVALID_ARGUMENT",
          `--${scripted} does not apply with --simulate (the simulation times and shapes its streams itself)`,
        );
      const modelGiven = given.has("model") || given.has("m");
      await runSimulatedMock({ ...argv, model: modelGiven ? argv.model : undefined });
      return;
    }
    const simulateOnly = Object.entries(SIMULATE_ONLY_FLAGS).find(
      ([key]) => (argv as Record<string, unknown>)[key] !== undefined,
    );
    if (simulateOnly !== undefined)
      throw new TokbenchError("INVALID_ARGUMENT", `--${simulateOnly[1]} needs --simulate`);
    const rate = (name: string, value: unknown): number => checkNumberFlag(name, value, { min: 0, max: 1 });
    const port = checkNumberFlag("port", argv.port, { min: 0, max: 65535, integer: true });
    const server = new MockServer({
      host: argv.host,
      port,
      model: argv.model,
      ttftMs: checkNumberFlag("ttft-ms", argv.ttftMs, { min: 0, max: MAX_DELAY_MS }),
      itlMs: checkNumberFlag("itl-ms", argv.itlMs, { min: 0, max: MAX_DELAY_MS }),
      tokensPerChunk: checkNumberFlag("tokens-per-chunk", argv.tokensPerChunk, {
        min: 1,
        max: MAX_TOKENS,
        integer: true,
      }),
      defaultMaxTokens: checkNumberFlag("max-tokens", argv.maxTokens, {
        min: 1,
        max: MAX_TOKENS,
        integer: true,
      }),
      stopAfter:
        argv.stopAfter === undefined
          ? null
          : checkNumberFlag("stop-after", argv.stopAfter, { min: 0, max: MAX_TOKENS, integer: true }),
      buffered: argv.buffered,
      emptyDeltas: argv.emptyDeltas,
      keepAlive: argv.keepAlive,
      reasoningTokens: checkNumberFlag("reasoning", argv.reasoning, {
        min: 0,
        max: MAX_TOKENS,
        integer: true,
      }),
      usage: argv.usage,
      timings: argv.timings,
      errorRate: rate("error-rate", argv.errorRate),
      cutRate: rate("cut-rate", argv.cutRate),
      seed: checkNumberFlag("seed", argv.seed, { min: -MAX_SEED, max: MAX_SEED, integer: true }),
      apiKey: argv.apiKey ?? null,
    });
    let url: string;
    try {
      url = await server.start();
    } catch (error) {
      throw listenError(error, argv.host, port);
    }
    process.stdout.write(`${url}\n`);
    process.stderr.write(
      `tokbench mock: OpenAI API at ${url}, Ollama API at ${server.url} (Ctrl-C to stop)\n`,
    );
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    await server.close();
  },
};
