import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { TokbenchError } from "../errors/TokbenchError.js";
import { REDACTED, REDACTED_TEXT, redactText } from "../secrets/redact.js";
import { sanitizeText } from "../text/sanitizeText.js";

/** The stored configuration of a run, read without trust (JSON from the database). */
type Config = Record<string, unknown>;

const record = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function refuse(runId: string, why: string, context: Record<string, unknown> = {}): TokbenchError {
  return new TokbenchError("BASELINE_NOT_RERUNNABLE", `baseline ${runId} cannot be re-run: ${why}`, {
    context: { run_id: runId, ...context },
  });
}

/**
 * A knob list as `bench` takes it (`1,2,4`); nothing when every value is the default (null, e.g. a
 * context sized to the tests). A list mixing both has no flag that says it: refused.
 */
function knobFlag(
  runId: string,
  flag: string,
  values: unknown[],
  render: (v: unknown) => string | null,
): string[] {
  const rendered = values.map(render);
  if (rendered.every((v) => v === null)) return [];
  if (rendered.some((v) => v === null))
    throw refuse(runId, `its --${flag} list (${JSON.stringify(values)}) has no command-line form`);
  return [`--${flag}`, rendered.join(",")];
}

/** The load and workload flags that measure `config.load` and `config.workload` again. */
function loadArgs(runId: string, config: Config): string[] {
  const load = record(config.load);
  const workload = record(config.workload);
  if (Object.keys(load).length === 0) return [];
  const args: string[] = [];
  const n = (flag: string, v: unknown): void => {
    if (typeof v === "number" && Number.isFinite(v)) args.push(`--${flag}`, String(v));
  };
  n("requests", load.requests);
  n("duration", load.duration_s);
  // A rate without a cap is stored as a concurrency of null (JSON has no infinity): no flag.
  n("concurrency", load.concurrency);
  n("rate", load.rate);
  if (load.rate !== null && load.rate !== undefined && typeof load.arrival === "string")
    args.push("--arrival", load.arrival);
  n("warmup", load.warmup);
  n("max-errors", load.max_errors);
  n("seed", load.seed);
  if (load.busy_poll === true) args.push("--busy-poll");
  n("prompt-tokens", workload.prompt_tokens);
  n("max-tokens", workload.max_tokens);
  if (typeof workload.prompt_file === "string") {
    if (!existsSync(workload.prompt_file))
      throw refuse(runId, `its prompt file ${workload.prompt_file} is gone`, { path: workload.prompt_file });
    args.push("--prompt-file", workload.prompt_file);
  }
  if (workload.force_output_length === false) args.push("--no-force-output");
  if (workload.unique_prefix === false) args.push("--no-unique-prefix");
  return args;
}

/** Whether a stored value still holds a secret tokbench replaced when it stored the run. */
function redacted(value: unknown): boolean {
  const text = JSON.stringify(value) ?? "";
  return text.includes(REDACTED) || text.includes(REDACTED_TEXT);
}

/**
 * The `tokbench bench` arguments that measure a stored run's configuration again: the same
 * target and model, the same tests, knobs and repetitions, the same load and workload (seed
 * included). Only what the run stored is repeated; what it could not store (secrets, the headers'
 * values) makes the run not re-runnable rather than re-run differently.
 * @throws TokbenchError `BASELINE_NOT_RERUNNABLE`: the model file, prompt file or tokenizer is
 *   gone, the configuration held a secret or a header, or the run observed rather than measured.
 */
export function benchArgsForRerun(runId: string, config: Config): string[] {
  if (config.target === "embedded") return embeddedArgs(runId, config);
  if (typeof config.url === "string") return httpArgs(runId, config);
  throw refuse(
    runId,
    `its configuration names no target tokbench can measure again (target ${String(config.target)})`,
  );
}

function embeddedArgs(runId: string, config: Config): string[] {
  if (config.observation !== undefined && config.observation !== null)
    throw refuse(runId, "it observed the engine (--experts, --layers) instead of measuring its speed");
  const args: string[] = [];
  if (config.model_default !== true) {
    const model = config.model;
    if (typeof model !== "string") throw refuse(runId, "its configuration names no model file");
    if (!existsSync(model)) throw refuse(runId, `its model file ${model} is gone`, { path: model });
    args.push("--model", model);
  }
  const tests = record(config.tests);
  const ints = (v: unknown): string | null => (typeof v === "number" ? String(v) : null);
  args.push(...knobFlag(runId, "pp", list(tests.pp), ints), ...knobFlag(runId, "tg", list(tests.tg), ints));
  const pg = list(tests.pg).filter((p): p is [number, number] => Array.isArray(p) && p.length === 2);
  if (pg.length > 0) args.push("--pg", pg.map((p) => p.join(",")).join(";"));
  args.push(...knobFlag(runId, "depth", list(tests.depth), ints));
  if (typeof config.repetitions === "number" && list(tests.pp).length + list(tests.tg).length + pg.length > 0)
    args.push("--repetitions", String(config.repetitions));
  const knobs = record(config.knobs);
  args.push(
    ...knobFlag(runId, "threads", list(knobs.threads), ints),
    ...knobFlag(runId, "batch-size", list(knobs.batch_size), ints),
    ...knobFlag(runId, "ubatch-size", list(knobs.ubatch_size), ints),
    ...knobFlag(runId, "ctx-size", list(knobs.ctx_size), ints),
    ...knobFlag(runId, "gpu-layers", list(knobs.gpu_layers), (v) => {
      const g = record(v);
      return typeof g.layers === "number"
        ? String(g.layers)
        : typeof g.percent === "number"
          ? `${g.percent}%`
          : null;
    }),
    ...knobFlag(runId, "flash-attn", list(knobs.flash_attn), (v) =>
      v === true ? "1" : v === false ? "0" : v === "auto" ? "auto" : null,
    ),
    ...knobFlag(runId, "cache-type-k", list(knobs.type_k), (v) => (typeof v === "string" ? v : null)),
    ...knobFlag(runId, "cache-type-v", list(knobs.type_v), (v) => (typeof v === "string" ? v : null)),
    ...knobFlag(runId, "parallel", list(knobs.parallel), ints),
  );
  // The backend it ran on, not `auto`: a machine that gained a GPU must not change what is compared.
  const backend = record(config.engine).backend;
  if (backend === "cpu" || backend === "cuda" || backend === "vulkan" || backend === "metal")
    args.push("--engine-gpu", backend);
  args.push(...loadArgs(runId, config));
  return args;
}

function httpArgs(runId: string, config: Config): string[] {
  const url = config.url as string;
  if (redacted(url)) throw refuse(runId, "its URL held credentials, which tokbench does not keep");
  if (list(config.header_names).length > 0)
    throw refuse(
      runId,
      `it sent headers (${list(config.header_names).join(", ")}) whose values tokbench does not keep`,
    );
  if (redacted(config.extra_body))
    throw refuse(runId, "its --extra-body held a secret, which tokbench does not keep");
  if (typeof config.model !== "string") throw refuse(runId, "its configuration names no model");
  const args = ["--url", url, "--model", config.model];
  if (typeof config.api === "string") args.push("--api", config.api);
  if (typeof config.tokenizer === "string") {
    if (!existsSync(config.tokenizer))
      throw refuse(runId, `its tokenizer file ${config.tokenizer} is gone`, { path: config.tokenizer });
    args.push("--tokenizer", config.tokenizer);
  }
  if (typeof config.timeout_s === "number") args.push("--timeout", String(config.timeout_s));
  if (config.include_usage === false) args.push("--no-include-usage");
  if (config.force_fields === false) args.push("--no-force-fields");
  const extra = record(config.extra_body);
  if (Object.keys(extra).length > 0) args.push("--extra-body", JSON.stringify(extra));
  args.push(...loadArgs(runId, config));
  return args;
}

/** The CLI's own entry point, for the child that measures. */
const MAIN = fileURLToPath(new URL("./main.js", import.meta.url));

/**
 * Measures a stored run's configuration again with `tokbench bench` in a child process (the
 * embedded engine may re-execute itself with its tuned build's environment, which only a process of
 * its own can), storing the new run in the same database with the tag `rerun-of:<first 8 characters of its id>`. The child's
 * stderr (header, progress, notes) passes through; its result is read from its JSON.
 * Returns the new run's id.
 * @throws TokbenchError `BASELINE_NOT_RERUNNABLE`: the configuration cannot be measured again, or
 *   the re-run failed (the server did not answer, nothing succeeded); the child's own one-line
 *   error is quoted.
 */
export async function rerunBaseline(
  runId: string,
  config: Config,
  db: string | undefined,
  stderr: NodeJS.WritableStream = process.stderr,
): Promise<string> {
  const args = [
    MAIN,
    "bench",
    ...benchArgsForRerun(runId, config),
    "--json",
    "--no-progress",
    "--tag",
    `rerun-of:${runId.slice(0, 8)}`,
    ...(db === undefined ? [] : ["--db", db]),
  ];
  // A PostgreSQL --db may carry its password: the line is redacted as every error is.
  stderr.write(
    `tokbench regress: re-running baseline ${runId}: tokbench ${sanitizeText(redactText(args.slice(1).join(" ")))}\n`,
  );
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  // The result's head names the run: only the first kilobytes are kept, the records are not.
  let head = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    if (head.length < 16_384) head += chunk;
  });
  let tail = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr.write(chunk);
    tail = (tail + chunk.toString("utf8")).slice(-4096);
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (c, s) => resolve([c, s]));
  });
  const newId = /"run_id": "([^"]+)"/.exec(head)?.[1] ?? null;
  if (code === 0 && newId !== null) return newId;
  const last =
    tail
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.startsWith("tokbench:"))
      .pop() ?? `exit ${code ?? signal}`;
  throw refuse(
    runId,
    `the re-run failed${newId === null ? "" : ` (run ${newId} stored as it ended)`}: ${last.replace(/^tokbench:\s*/, "")}`,
    { exit_code: code, signal },
  );
}
