import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { TokbenchError } from "../errors/TokbenchError.js";
import { cleanLogLine } from "../servers/classifyFailure.js";
import { PROVIDER_NAMES } from "../servers/ServerProvider.js";

/** A list in a sweep file: a YAML/JSON list, one value, or text with commas and ranges (`1-8*2`). */
const listValue = z.union([
  z.array(z.union([z.number(), z.string(), z.boolean()])).min(1),
  z.number(),
  z.string().min(1),
  z.boolean(),
]);

const knobValue = z.union([
  listValue,
  z.object({ values: listValue, order: z.enum(["ascending", "none"]).optional() }).strict(),
]);

/**
 * The sweep file: every `tokbench sweep` setting, for sweeps too long for a command line. Keys
 * are the flags' names in snake_case; a flag given on the command line wins over the file.
 */
export const SWEEP_FILE_SCHEMA = z
  .object({
    server: z.enum(PROVIDER_NAMES).optional(),
    server_cmd: z.string().min(1).optional(),
    server_bin: z.string().min(1).optional(),
    ready_path: z.string().startsWith("/").optional(),
    api: z.enum(["chat", "completions", "ollama"]).optional(),
    model: z.string().min(1).optional(),
    model_files: listValue.optional(),
    knobs: z.record(z.string(), knobValue).optional(),
    workload: z
      .object({
        concurrency: listValue.optional(),
        rate: listValue.optional(),
        prompt_tokens: listValue.optional(),
        max_tokens: listValue.optional(),
      })
      .strict()
      .optional(),
    requests: z.number().int().min(1).optional(),
    warmup: z.number().int().min(0).optional(),
    replicates: z.number().int().min(1).optional(),
    budgets: z
      .object({
        max_ttft_p95_ms: z.number().positive().optional(),
        max_itl_p95_ms: z.number().positive().optional(),
      })
      .strict()
      .optional(),
    objective: z.enum(["throughput", "goodput", "latency", "requests"]).optional(),
    abort_on_error: z.boolean().optional(),
    ready_timeout_s: z.number().positive().optional(),
    stop_grace_s: z.number().min(0).optional(),
    request_timeout_s: z.number().min(0).optional(),
    memory_budget_mib: z.number().positive().optional(),
    server_memory_limit_mib: z.number().positive().optional(),
    seed: z.number().int().optional(),
  })
  .strict();

/** What a sweep file holds. */
export type SweepFile = z.infer<typeof SWEEP_FILE_SCHEMA>;

/**
 * Reads a sweep file, YAML (`.yaml`, `.yml`) or JSON (anything else; JSON is YAML too, so a YAML
 * parser reads both, but a `.json` file gets JSON's stricter errors).
 * @throws TokbenchError `FILE_NOT_FOUND`, or `SWEEP_FILE_INVALID` naming the key that is wrong.
 */
export async function readSweepFile(path: string): Promise<SweepFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new TokbenchError("FILE_NOT_FOUND", `sweep file not found: ${path}`, { cause, context: { path } });
  }
  let data: unknown;
  try {
    data = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (cause) {
    const message = cause instanceof Error ? (cause.message.split("\n")[0] ?? "") : String(cause);
    throw new TokbenchError(
      "SWEEP_FILE_INVALID",
      `sweep file ${path} is not valid ${path.endsWith(".json") ? "JSON" : "YAML"}: ${cleanLogLine(message)}`,
      {
        cause,
        context: { path },
      },
    );
  }
  const parsed = SWEEP_FILE_SCHEMA.safeParse(data ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? "top level" : issue.path.join(".");
    throw new TokbenchError(
      "SWEEP_FILE_INVALID",
      `sweep file ${path}: ${cleanLogLine(where)}: ${cleanLogLine(issue?.message ?? "invalid")}`,
      {
        context: { path, key: where },
      },
    );
  }
  return parsed.data;
}
