import { runBenchmark } from "../../../benchmark/runBenchmark.js";
import { TokbenchError } from "../../../errors/TokbenchError.js";
import { describeRequests } from "../../../output/runHeader.js";
import { redactUrl, secretValues, urlSecrets } from "../../../secrets/redact.js";
import { collectMachineInfo } from "../../../system/machineInfo.js";
import { ResourceSampler } from "../../../system/ResourceSampler.js";
import { OllamaTarget } from "../../../targets/ollama/OllamaTarget.js";
import { OpenAiTarget } from "../../../targets/openai/OpenAiTarget.js";
import type { Target } from "../../../targets/Target.js";
import { GgufTokenizer } from "../../../targets/tokenizers/GgufTokenizer.js";
import { withLocalTokenizer } from "../../../targets/tokenizers/withLocalTokenizer.js";
import { parseHeaderFlag } from "../../parseHeaderFlag.js";
import { checkNumberFlag } from "../../parseNumberFlag.js";
import { readApiKey } from "../../readApiKey.js";
import type { StopSignals } from "../../stopSignals.js";
import type { CommonArgs } from "./loadOptionsFromArgs.js";
import { loadOptionsFromArgs } from "./loadOptionsFromArgs.js";
import type { ConsumerArgs } from "./runWithConsumers.js";
import { runWithConsumers } from "./runWithConsumers.js";

/** Flags of an HTTP run; numbers arrive as typed (see `NUMBER_FLAG`), defaults are applied here. */
export interface HttpBenchArgs extends CommonArgs, ConsumerArgs {
  url: string;
  model?: string | undefined;
  /** Defaults to `chat`. */
  api?: "chat" | "completions" | "ollama" | undefined;
  "api-key"?: string | undefined;
  "api-key-file"?: string | undefined;
  header?: string[] | undefined;
  /** Seconds; defaults to 600. */
  timeout?: unknown;
  /** Defaults to true. */
  "include-usage"?: boolean | undefined;
  /** Defaults to true. */
  "force-fields"?: boolean | undefined;
  "extra-body"?: string | undefined;
  pid?: unknown;
  tokenizer?: string | undefined;
}

/** Largest process id (Linux's `pid_max` limit, 2^22). */
const MAX_PID = 1 << 22;

/** Longest per-request timeout, in seconds: one day. */
const MAX_TIMEOUT_S = 24 * 3600;

/**
 * Request-body fields tokbench sets itself and measures by, with the flag that sets each: an
 * `--extra-body` that replaced one would change the run behind the figures' back (an overridden
 * `max_tokens` would make every output look wrong).
 */
const OWN_BODY_FIELDS: Record<string, string> = {
  model: "--model",
  messages: "--prompt-file",
  prompt: "--prompt-file",
  stream: "nothing: tokbench always streams",
  max_tokens: "--max-tokens",
  max_completion_tokens: "--max-tokens",
  num_predict: "--max-tokens",
};

/** `--extra-body` as a JSON object, refusing what is not one and the fields tokbench sets itself. */
function parseExtraBody(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    // Not the parser's message: it quotes the text, which may hold a key.
    const position = /position (\d+)/.exec((cause as Error).message)?.[1];
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `--extra-body is not valid JSON${position === undefined ? "" : ` (at character ${position})`}`,
      { cause },
    );
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TokbenchError("INVALID_ARGUMENT", "--extra-body must be a JSON object");
  }
  const body = value as Record<string, unknown>;
  const options = body.options;
  const nested = options !== null && typeof options === "object" ? Object.keys(options) : [];
  for (const field of [...Object.keys(body), ...nested]) {
    const flag = OWN_BODY_FIELDS[field];
    if (flag !== undefined) {
      throw new TokbenchError(
        "INVALID_ARGUMENT",
        `--extra-body cannot set ${field}: tokbench sets it and measures by it (use ${flag})`,
        { context: { field } },
      );
    }
  }
  return body;
}

/**
 * `tokbench bench --url ...`: benchmarks a server. `setup` hears stop signals until the run starts
 * (the server's check can wait up to --timeout). Returns the exit code.
 */
export async function runHttpBench(args: HttpBenchArgs, setup?: StopSignals): Promise<number> {
  const { load, workload } = loadOptionsFromArgs(
    args,
    `--url ${JSON.stringify(redactUrl(args.url))}${args.model ? ` --model ${JSON.stringify(args.model)}` : ""}${args.api === "ollama" ? " --api ollama" : ""}`,
  );
  if (args.model === undefined || args.model === "") {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      "--model is required with --url (the model name the server serves)",
    );
  }
  const api = args.api ?? "chat";
  const apiKey = readApiKey(args["api-key"], args["api-key-file"]);
  const headers = (args.header ?? []).map(parseHeaderFlag);
  const timeoutS =
    args.timeout === undefined
      ? 600
      : checkNumberFlag("timeout", args.timeout, { min: 0, max: MAX_TIMEOUT_S });
  const timeoutMs = timeoutS * 1000;
  const extraBody = parseExtraBody(args["extra-body"]);
  const includeUsage = args["include-usage"] ?? true;
  const forceFields = args["force-fields"] ?? true;
  const common = { baseUrl: args.url, model: args.model, apiKey, headers, timeoutMs };
  let serverTarget: Target;
  if (api === "ollama") {
    // Ollama's sampling and context settings live in `options`, beside num_predict: merged, not replaced.
    const { options, ...rest } = extraBody;
    serverTarget = new OllamaTarget({
      ...common,
      extraBody: rest,
      modelOptions:
        options !== null && typeof options === "object" ? (options as Record<string, unknown>) : {},
    });
  } else {
    serverTarget = new OpenAiTarget({
      ...common,
      api,
      includeUsage,
      forceOutputFields: forceFields,
      extraBody,
    });
  }
  const untilStopped = <T>(work: Promise<T>): Promise<T> => setup?.untilStopped(work) ?? work;
  await untilStopped(Promise.resolve(serverTarget.assertReachable?.()));
  const target =
    args.tokenizer === undefined
      ? serverTarget
      : withLocalTokenizer(serverTarget, await untilStopped(GgufTokenizer.open(args.tokenizer)));

  const sampler =
    args.pid === undefined
      ? null
      : new ResourceSampler({
          pid: checkNumberFlag("pid", args.pid, { min: 1, max: MAX_PID, integer: true }),
        });
  const machine = await untilStopped(collectMachineInfo());
  // Every literal secret of the configuration, for the one redaction (runBenchmark) and storage.
  const secrets = [
    ...new Set([
      ...(apiKey === null ? [] : [apiKey]),
      ...headers.map(([, value]) => value),
      ...urlSecrets(args.url),
      ...secretValues(extraBody),
    ]),
  ].filter((secret) => secret !== "");
  const config = {
    target: target.kind,
    url: args.url,
    model: args.model,
    api,
    header_names: headers.map(([name]) => name),
    tokenizer: args.tokenizer ?? null,
    timeout_s: timeoutS,
    include_usage: api === "ollama" ? null : includeUsage,
    force_fields: api === "ollama" ? null : forceFields,
    extra_body: extraBody,
    load,
    workload,
  };
  try {
    return await runWithConsumers(args, load.requests, secrets, async (consumers) => {
      // A signal while the consumers started (telemetry) came before the run's own handle.
      setup?.throwIfStopped();
      // A quit at once must not leave the sampler's nvidia-smi children behind.
      consumers.onQuit(() => sampler?.stop());
      sampler?.start();
      return runBenchmark({
        target,
        workload,
        load,
        machine,
        config,
        secrets,
        onRunStart(info) {
          // Once the prompts are ready (a bad prompt file fails before, on a line of its own).
          consumers.announce({
            target: `${redactUrl(args.url)} (model "${args.model}", ${api} API)`,
            workload: describeRequests(load, workload),
          });
          consumers.onRunStart(info);
        },
        stopResources: () => sampler?.stop() ?? null,
        resourceTimeline: () => sampler?.timeline() ?? null,
        requestLog: consumers.requestLog,
        hooks: consumers.hooks,
        signal: consumers.signal,
      });
    });
  } finally {
    sampler?.stop();
    await target.close();
  }
}
