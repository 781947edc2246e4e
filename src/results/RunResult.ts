import type { MachineInfo } from "./MachineInfo.js";
import type { ExpertUsage, LayerTiming, ObservationInfo } from "./Observation.js";
import type { RequestLog } from "./RequestLog.js";
import type { ResourcePoint } from "./ResourceTimeline.js";
import type { ResourceUsage } from "./ResourceUsage.js";
import type { RunDistributions } from "./RunDistributions.js";
import type { RunSummary } from "./RunSummary.js";

/** Version of the public result format. Bumped on any incompatible change. */
export const RESULT_SCHEMA_VERSION = 1;

/** How a run ended. `interrupted`: stopped by SIGINT; `aborted`: stopped by `--max-errors` or a fatal error. */
export type RunStatus = "completed" | "interrupted" | "aborted";

/**
 * The one plain result of a run. The terminal table, `--json`, the database and reports all read
 * this object; none of them computes a figure of its own.
 */
export interface RunResult {
  schema_version: typeof RESULT_SCHEMA_VERSION;
  tool: { name: "tokbench"; version: string };
  run_id: string;
  status: RunStatus;
  /** Why the run ended early, when it did. */
  status_reason: string | null;
  started_at: string;
  ended_at: string;
  /** The configuration, with every secret removed. */
  config: Record<string, unknown>;
  machine: MachineInfo;
  summary: RunSummary;
  /**
   * Every measured request; serialised as the array of its records. In memory (`RequestTable`) by
   * default; the CLI keeps them in the database or a spill file instead, so memory stays bounded.
   */
  requests: RequestLog;
  /** llama-bench-style test rows (embedded engine); empty for HTTP targets. */
  tests: Record<string, unknown>[];
  resources: ResourceUsage | null;
  /**
   * Set only by observation runs (`--experts`, `--layers`): what was
   * observed. Such runs are no speed measurement (`speed_figures: false`) and no baseline.
   */
  observation?: ObservationInfo;
  /** Mixture-of-experts routing counts (`--experts` on a MoE model). */
  expert_usage?: ExpertUsage;
  /** Per-layer timing per test and phase (`--layers`). */
  layer_timing?: LayerTiming[];
  /**
   * The whole latency and rate distributions (HDR histograms), for reports and comparisons made
   * later. Not part of the `--json` format. Absent or null when not collected.
   */
  distributions?: RunDistributions | null;
  /** The resource sampler's time series. Not part of the `--json` format. Absent or null when not sampled. */
  resource_timeline?: ResourcePoint[] | null;
}
