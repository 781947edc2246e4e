import { runBenchmark } from "../../../benchmark/runBenchmark.js";
import { TokbenchError } from "../../../errors/TokbenchError.js";
import { parseHeaderFlag } from "../../../http/parseHeaderFlag.js";
import { secretValues, urlSecrets } from "../../../secrets/redact.js";
import { collectMachineInfo } from "../../../system/machineInfo.js";
import { ResourceSampler } from "../../../system/ResourceSampler.js";
import { OllamaTarget } from "../../../targets/ollama/OllamaTarget.js";
import { OpenAiTarget } from "../../../targets/openai/OpenAiTarget.js";
import type { Target } from "../../../targets/Target.js";
import { GgufTokenizer } from "../../../targets/tokenizers/GgufTokenizer.js";
import { withLocalTokenizer } from "../../../targets/tokenizers/withLocalTokenizer.js";
import { checkNumberFlag } from "../../parseNumberFlag.js";
import { readApiKey } from "../../readApiKey.js";
import type { CommonArgs } from "./loadOptionsFromArgs.js";
import { loadOptionsFromArgs } from "./loadOptionsFromArgs.js";
import type { ConsumerArgs } from "./runWithConsumers.js";
import { runWithConsumers } from "./runWithConsumers.js";

/** Flags of an HTTP run. */
export interface HttpBenchArgs extends CommonArgs, ConsumerArgs {
  url: string;
  model?: string | undefined;
  api: "chat" | "completions" | "ollama";
  "api-key"?: string | undefined;
  "api-key-file"?: string | undefined;
  header?: string[] | undefined;
  timeout: number;
  "include-usage": boolean;
  "force-fields": boolean;
  "extra-body"?: string | undefined;
  pid?: number | undefined;
  tokenizer?: string | undefined;
}

/** `tokbench bench --url ...`: benchmarks a server. Returns the exit code. */
export async function runHttpBench(args: HttpBenchArgs): Promise<number> {
  const { load, workload } = loadOptionsFromArgs(args);
  if (args.model === undefined || args.model === "") {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      "--model is required with --url (the model name the server serves)",
    );
  }
  const apiKey = readApiKey(args["api-key"], args["api-key-file"]);
  const headers = (args.header ?? []).map(parseHeaderFlag);
  const timeoutMs = checkNumberFlag("timeout", args.timeout, { min: 0 }) * 1000;
  let extraBody: Record<string, unknown> = {};
  if (args["extra-body"] !== undefined) {
    try {
      extraBody = JSON.parse(args["extra-body"]) as Record<string, unknown>;
    } catch (cause) {
      throw new TokbenchError(
        "INVALID_ARGUMENT",
        `--extra-body is not valid JSON: ${(cause as Error).message}`,
        { cause },
      );
    }
    if (extraBody === null || typeof extraBody !== "object" || Array.isArray(extraBody)) {
      throw new TokbenchError("INVALID_ARGUMENT", "--extra-body must be a JSON object");
    }
  }
  const common = { baseUrl: args.url, model: args.model, apiKey, headers, timeoutMs };
  const serverTarget: Target =
    args.api === "ollama"
      ? new OllamaTarget(common)
      : new OpenAiTarget({
          ...common,
          api: args.api,
          includeUsage: args["include-usage"],
          forceOutputFields: args["force-fields"],
          extraBody,
        });
  await serverTarget.assertReachable?.();
  const target =
    args.tokenizer === undefined
      ? serverTarget
      : withLocalTokenizer(serverTarget, await GgufTokenizer.open(args.tokenizer));

  const sampler =
    args.pid === undefined
      ? null
      : new ResourceSampler({ pid: checkNumberFlag("pid", args.pid, { min: 1, integer: true }) });
  const machine = await collectMachineInfo();
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
    api: args.api,
    header_names: headers.map(([name]) => name),
    tokenizer: args.tokenizer ?? null,
    timeout_s: args.timeout,
    include_usage: args["include-usage"],
    force_fields: args["force-fields"],
    extra_body: extraBody,
    load,
    workload,
  };
  try {
    return await runWithConsumers(args, load.requests, secrets, async (consumers) => {
      sampler?.start();
      return runBenchmark({
        target,
        workload,
        load,
        machine,
        config,
        secrets,
        onRunStart: consumers.onRunStart,
        stopResources: () => sampler?.stop() ?? null,
        hooks: consumers.hooks,
        signal: consumers.signal,
      });
    });
  } finally {
    await target.close();
  }
}
