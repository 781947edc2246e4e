import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { TokbenchError } from "../../errors/TokbenchError.js";
import { MockServer } from "../../mock/MockServer.js";
import { checkNumberFlag } from "../parseNumberFlag.js";

const builder = (yargs: Argv) =>
  yargs
    .option("port", { type: "number", default: 8089, describe: "Port to listen on (0 picks a free one)" })
    .option("host", { type: "string", default: "127.0.0.1", describe: "Interface to listen on" })
    .option("model", { type: "string", default: "mock-model", describe: "Model name listed by /v1/models" })
    .option("ttft-ms", { type: "number", default: 20, describe: "Time to first token, in ms" })
    .option("itl-ms", { type: "number", default: 10, describe: "Time per output token, in ms" })
    .option("tokens-per-chunk", {
      type: "number",
      default: 1,
      describe: "Tokens carried by each streamed chunk",
    })
    .option("max-tokens", {
      type: "number",
      default: 16,
      describe: "Output tokens when a request sets no max_tokens",
    })
    .option("stop-after", {
      type: "number",
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
      type: "number",
      default: 0,
      describe: "The first N output tokens are reasoning_content",
    })
    .option("usage", {
      type: "boolean",
      default: true,
      describe: "Send usage when asked (--no-usage to never send it)",
    })
    .option("timings", { type: "boolean", default: false, describe: "Add a llama.cpp-style timings object" })
    .option("error-rate", { type: "number", default: 0, describe: "Fraction of requests answered HTTP 500" })
    .option("cut-rate", { type: "number", default: 0, describe: "Fraction of streams cut half-way" })
    .option("seed", { type: "number", default: 1, describe: "Seed of the error and cut draws" })
    .option("api-key", { type: "string", describe: "Require this bearer key (401 otherwise)" })
    .example(
      "$0 mock --port 8089 --ttft-ms 50 --itl-ms 20",
      "Serve a scripted model on http://127.0.0.1:8089/v1",
    )
    .example(
      "$0 mock --buffered --tokens-per-chunk 4",
      "Simulate a proxy that flushes the whole stream at once",
    );

type MockArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>["argv"]>>;

/** `tokbench mock`: a scripted OpenAI-compatible / Ollama streaming server for tests and demos. */
export const mockCommand: CommandModule<object, MockArgs> = {
  command: "mock",
  describe: "Run a scripted OpenAI-compatible streaming server (for tests and demos)",
  builder: builder as unknown as CommandModule<object, MockArgs>["builder"],
  async handler(argv) {
    const rate = (name: string, value: unknown): number => {
      const n = checkNumberFlag(name, value, { min: 0 });
      if (n > 1) throw new TokbenchError("INVALID_ARGUMENT", `--${name} must be between 0 and 1 (got ${n})`);
      return n;
    };
    const server = new MockServer({
      host: argv.host,
      port: checkNumberFlag("port", argv.port, { min: 0, integer: true }),
      model: argv.model,
      ttftMs: checkNumberFlag("ttft-ms", argv.ttftMs, { min: 0 }),
      itlMs: checkNumberFlag("itl-ms", argv.itlMs, { min: 0 }),
      tokensPerChunk: checkNumberFlag("tokens-per-chunk", argv.tokensPerChunk, { min: 1, integer: true }),
      defaultMaxTokens: checkNumberFlag("max-tokens", argv.maxTokens, { min: 1, integer: true }),
      stopAfter:
        argv.stopAfter === undefined
          ? null
          : checkNumberFlag("stop-after", argv.stopAfter, { min: 0, integer: true }),
      buffered: argv.buffered,
      emptyDeltas: argv.emptyDeltas,
      keepAlive: argv.keepAlive,
      reasoningTokens: checkNumberFlag("reasoning", argv.reasoning, { min: 0, integer: true }),
      usage: argv.usage,
      timings: argv.timings,
      errorRate: rate("error-rate", argv.errorRate),
      cutRate: rate("cut-rate", argv.cutRate),
      seed: checkNumberFlag("seed", argv.seed, { integer: true }),
      apiKey: argv.apiKey ?? null,
    });
    const url = await server.start();
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
