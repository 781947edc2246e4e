import { TokbenchError } from "../errors/TokbenchError.js";
import { type Axis, type AxisValue, makeAxis } from "../search/Axis.js";
import { cartesianProduct, pointKey } from "../search/cartesianProduct.js";
import { lightestFirst } from "../search/loadOrder.js";
import type { CellWorkload, SweepSpec } from "./SweepSpec.js";

/** Names of the workload axes, as they appear in a cell's point. */
export const WORKLOAD_AXES = ["concurrency", "rate", "prompt_tokens", "max_tokens"] as const;

/** One cell of the plan: a server configuration and a workload. */
export interface PlannedCell {
  /** Position in the run order (0-based). */
  index: number;
  /** Stable identity: the same knobs and workload give the same key (used to resume). */
  key: string;
  /** Index of its configuration. */
  configuration: number;
  knobs: Record<string, AxisValue>;
  workload: CellWorkload;
  /** Knob and workload values by axis name, for the heavier-than order. */
  point: Record<string, AxisValue>;
}

/** One server configuration: one launch, then its cells lightest first. */
export interface PlannedConfiguration {
  index: number;
  knobs: Record<string, AxisValue>;
  cells: PlannedCell[];
}

/** What a sweep will do, before it does it. */
export interface SweepPlan {
  knob_axes: Axis[];
  workload_axes: Axis[];
  /** Knob axes then workload axes. */
  axes: Axis[];
  /** Lightest first, so a configuration that runs out of memory comes before the heavier ones it rules out. */
  configurations: PlannedConfiguration[];
  /** Every cell, in run order. */
  cells: PlannedCell[];
  /** Server launches (one per configuration; the embedded engine loads instead). */
  launches: number;
  /** Requests sent, warmups included, over all replicates. */
  requests: number;
  /** A rough duration, from the assumptions it names. */
  estimate: DurationEstimate;
}

/** The dry run's guess at the duration. */
export interface DurationEstimate {
  seconds: number;
  /** What the guess assumes, in one line. */
  assumptions: string;
}

/** Assumed speeds of the estimate: nothing has been measured at plan time. */
const ASSUMED = { launch_s: 5, prefill_tps: 500, decode_tps: 30 };

function workloadAxes(spec: SweepSpec): Axis[] {
  const w = spec.workload;
  const axes: Axis[] = [];
  const concurrency = w.concurrency.length > 0 ? w.concurrency : w.rate.length > 0 ? [] : [1];
  if (concurrency.length > 0) axes.push(makeAxis("concurrency", concurrency));
  if (w.rate.length > 0) axes.push(makeAxis("rate", w.rate));
  axes.push(makeAxis("prompt_tokens", w.prompt_tokens));
  axes.push(makeAxis("max_tokens", w.max_tokens));
  return axes;
}

function cellWorkload(point: Record<string, AxisValue>): CellWorkload {
  const workload: CellWorkload = {
    concurrency: point.concurrency === undefined ? null : (point.concurrency as number),
    prompt_tokens: point.prompt_tokens as number,
    max_tokens: point.max_tokens as number,
  };
  if (point.rate !== undefined) workload.rate = point.rate as number;
  return workload;
}

/**
 * Plans a sweep: the server configurations (the product of the knob axes) lightest first, and in
 * each the workload cells (the product of the workload axes) lightest first, so that every cell
 * runs after the cells it is heavier than. Pure: no file, no process, no clock.
 */
export function planSweep(spec: SweepSpec): SweepPlan {
  for (const axis of spec.knob_axes) {
    if ((WORKLOAD_AXES as readonly string[]).includes(axis.name)) {
      throw new TokbenchError(
        "INVALID_ARGUMENT",
        `knob "${axis.name}" is a workload axis: give it with --${axis.name.replace("_", "-")}`,
      );
    }
    if (axis.values.length === 0)
      throw new TokbenchError("INVALID_ARGUMENT", `knob "${axis.name}" has no values`);
  }
  const wAxes = workloadAxes(spec);
  const knobPoints = lightestFirst(spec.knob_axes, cartesianProduct(spec.knob_axes));
  const workloadPoints = lightestFirst(wAxes, cartesianProduct(wAxes));
  const axes = [...spec.knob_axes, ...wAxes];
  const configurations: PlannedConfiguration[] = [];
  const cells: PlannedCell[] = [];
  for (const knobs of knobPoints) {
    const configuration: PlannedConfiguration = { index: configurations.length, knobs, cells: [] };
    for (const w of workloadPoints) {
      const point = { ...knobs, ...w };
      const cell: PlannedCell = {
        index: cells.length,
        key: pointKey(axes, point),
        configuration: configuration.index,
        knobs,
        workload: cellWorkload(w),
        point,
      };
      configuration.cells.push(cell);
      cells.push(cell);
    }
    configurations.push(configuration);
  }
  const perReplicate = spec.requests + spec.warmup;
  return {
    knob_axes: spec.knob_axes,
    workload_axes: wAxes,
    axes,
    configurations,
    cells,
    launches: configurations.length,
    requests: cells.length * perReplicate * spec.replicates,
    estimate: estimateDuration(spec, configurations.length, workloadPoints.map(cellWorkload)),
  };
}

/**
 * A rough duration: a launch per configuration and, per cell and replicate, the warmup one at a
 * time and the measured requests in rounds of `concurrency` (or at `rate`), each request taking
 * its prompt at an assumed prefill rate and its output at an assumed decode rate.
 */
function estimateDuration(
  spec: SweepSpec,
  configurations: number,
  workloads: CellWorkload[],
): DurationEstimate {
  const requestS = (w: CellWorkload) =>
    w.prompt_tokens / ASSUMED.prefill_tps + w.max_tokens / ASSUMED.decode_tps;
  let perConfiguration = 0;
  for (const w of workloads) {
    const warmup = spec.warmup * requestS(w);
    const measured =
      w.rate !== undefined
        ? spec.requests / w.rate + requestS(w)
        : Math.ceil(spec.requests / Math.max(1, w.concurrency ?? 1)) * requestS(w);
    perConfiguration += spec.replicates * (warmup + measured);
  }
  const launch = spec.provider === "embedded" ? 1 : ASSUMED.launch_s;
  return {
    seconds: configurations * (launch + perConfiguration),
    assumptions: `${launch} s per launch, ${ASSUMED.prefill_tps} tok/s prefill and ${ASSUMED.decode_tps} tok/s decode per request, no slowdown under load`,
  };
}
