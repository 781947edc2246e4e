import { randomUUID } from "node:crypto";
import type { LoadOptions } from "../load/LoadOptions.js";
import type { LoadHooks } from "../load/runLoad.js";
import { runLoad } from "../load/runLoad.js";
import type { MachineInfo } from "../results/MachineInfo.js";
import type { RequestLogWriter } from "../results/RequestLog.js";
import type { ResourcePoint } from "../results/ResourceTimeline.js";
import type { ResourceUsage } from "../results/ResourceUsage.js";
import type { RunResult } from "../results/RunResult.js";
import { RESULT_SCHEMA_VERSION } from "../results/RunResult.js";
import { redactSecrets } from "../secrets/redact.js";
import type { Target } from "../targets/Target.js";
import { TOKBENCH_VERSION } from "../toolVersion.js";
import { buildRequestSource } from "./buildRequestSource.js";
import type { RunStartInfo } from "./RunStartInfo.js";
import type { WorkloadOptions } from "./WorkloadOptions.js";

/** Everything a request-shaped benchmark needs. */
export interface BenchmarkInput {
  target: Target;
  workload: WorkloadOptions;
  load: LoadOptions;
  /** The machine the run happens on. */
  machine: MachineInfo;
  /**
   * Configuration to record with the run. It goes through the one redaction (`redactSecrets`, with
   * `secrets`) before any consumer sees it: result, storage, output.
   */
  config: Record<string, unknown>;
  /**
   * Literal secrets (the API key, credential header values, a URL's password, credential values of
   * an extra request body) to remove wherever they appear in the configuration. Defaults to none.
   */
  secrets?: readonly string[];
  /** Physical decode ceiling of one stream (tok/s), when known. */
  decode_ceiling_tps?: number | null;
  /** Called once the run has an id, before the first request: lets storage create the run row. */
  onRunStart?(run: RunStartInfo): void;
  /** Returns the process resource usage at the end of the run, when something sampled it. */
  stopResources?(): ResourceUsage | null;
  /** Returns the sampler's time series, called after `stopResources`. Defaults to none. */
  resourceTimeline?(): ResourcePoint[] | null;
  /** Where the run's records go, given the run id. Defaults to a `RequestTable` in memory. */
  requestLog?(runId: string): RequestLogWriter;
  hooks?: LoadHooks;
  signal?: AbortSignal;
}

/**
 * Runs a request-shaped benchmark end to end and returns the plain result: prepares the workload,
 * runs the load, and assembles the {@link RunResult}. It prints nothing and stores nothing; callers
 * attach those through the hooks.
 */
export async function runBenchmark(input: BenchmarkInput): Promise<RunResult> {
  const source = await buildRequestSource(input.workload, input.target);
  const runId = randomUUID();
  const startedAt = new Date().toISOString();
  const config = redactSecrets(
    { ...input.config, workload_description: source.description },
    input.secrets ?? [],
  );
  input.onRunStart?.({ run_id: runId, started_at: startedAt, config, machine: input.machine });
  const outcome = await runLoad({
    target: input.target,
    requestAt: source.requestAt,
    load: input.load,
    prompt_tokens_exact: source.prompt_tokens_exact,
    decode_ceiling_tps: input.decode_ceiling_tps ?? null,
    ...(input.hooks === undefined ? {} : { hooks: input.hooks }),
    ...(input.signal === undefined ? {} : { signal: input.signal }),
    ...(input.requestLog === undefined ? {} : { requestLog: input.requestLog(runId) }),
  });
  const resources = input.stopResources?.() ?? null;
  return {
    schema_version: RESULT_SCHEMA_VERSION,
    tool: { name: "tokbench", version: TOKBENCH_VERSION },
    run_id: runId,
    status: outcome.status,
    status_reason: outcome.status_reason,
    started_at: startedAt,
    ended_at: new Date().toISOString(),
    config,
    machine: input.machine,
    summary: outcome.summary,
    requests: outcome.requests,
    tests: [],
    resources,
    distributions: outcome.distributions,
    resource_timeline: input.resourceTimeline?.() ?? null,
  };
}
