import type { MachineInfo } from "../results/MachineInfo.js";
import type { CellResult } from "../results/SweepResult.js";
import type { FitCheck } from "../servers/checkMemoryFit.js";
import type { ConfigurationLauncher } from "../sweep/ConfigurationLauncher.js";
import { knobAxis } from "../sweep/knobAxes.js";
import { planSweep } from "../sweep/planSweep.js";
import { runSweep, type SweepHooks } from "../sweep/runSweep.js";
import type { SweepSpec } from "../sweep/SweepSpec.js";
import type { MeasureFn, Measurement, MeasurementStatus, TrialMeasurement } from "./Measurement.js";

/** Options of {@link liveMeasure}. */
export interface LiveMeasureOptions {
  /** The launch and workload settings (one value per workload axis); its knob axes are replaced per trial. */
  spec: SweepSpec;
  /** Kept open across trials; the tune closes it at the end. */
  launcher: ConfigurationLauncher;
  machine: MachineInfo;
  /** The memory pre-check; null when it cannot be estimated. */
  checkFit(knobs: Readonly<Record<string, unknown>>): Promise<FitCheck | null> | FitCheck | null;
  /** Recorded as the runs' `sweep_id` and `tune_id`. */
  tune_id: string;
  /** Storage of the runs (each replicate is an ordinary run). Defaults to none. */
  hooks?: SweepHooks;
}

/** A launch failure class in the replay format's words. */
export function measurementStatusOf(failure: string | null): Exclude<MeasurementStatus, "ok"> {
  if (failure === "oom") return "oom";
  if (failure === "crash") return "crash";
  if (failure === "ready_timeout") return "timeout";
  return "error";
}

/** A measured cell of the sweep machinery as the tuner's measurements. */
export function cellMeasurement(cell: CellResult): TrialMeasurement {
  if (cell.status === "wont_fit")
    return { replicates: [], failure: { status: "oom", reason: `won't fit: ${cell.reason ?? ""}`.trim() } };
  if (cell.replicates.length === 0) {
    return {
      replicates: [],
      failure: {
        status: measurementStatusOf(cell.failure),
        reason: `${cell.failure === null ? "" : `${cell.failure}: `}${cell.reason ?? "not measured"}`,
      },
    };
  }
  const replicates: Measurement[] = cell.replicates.map((r, i) => {
    const last = i === cell.replicates.length - 1;
    const status: MeasurementStatus =
      last && cell.failure !== null ? measurementStatusOf(cell.failure) : r.errors ? "error" : "ok";
    return {
      status,
      feasible: r.feasible,
      reason: r.reason,
      output_tokens_per_s: r.figures.output_tokens_per_s,
      ttft_p95_ms: r.figures.ttft_ms.p95,
      itl_p95_ms: r.figures.itl_ms.p95,
      requests_per_s: r.figures.requests_per_s,
      goodput_rps: r.figures.goodput_rps,
      run_id: r.run_id,
    };
  });
  return { replicates, failure: null };
}

/**
 * Measures configurations on a live server through the sweep's machinery: each trial is a sweep
 * of one cell (memory pre-check, one launch, warmup, `replicates` runs judged by the feasibility
 * gate, the server stopped), so a tune and a sweep launch, gate and store alike.
 */
export function liveMeasure(options: LiveMeasureOptions): MeasureFn {
  const launcher: ConfigurationLauncher = {
    launch: (knobs, signal) => options.launcher.launch(knobs, signal),
    // The tune closes the real launcher once, at its end.
    close: async () => {},
  };
  return async (configuration, replicates, signal) => {
    const spec: SweepSpec = {
      ...options.spec,
      knob_axes: Object.entries(configuration).map(([name, value]) => knobAxis(name, [value])),
      replicates,
      abort_on_error: false,
    };
    const plan = planSweep(spec);
    const outcome = await runSweep({
      sweep_id: options.tune_id,
      spec,
      plan,
      launcher,
      machine: options.machine,
      checkFit: options.checkFit,
      config: { tune_id: options.tune_id, provider: spec.provider, model: spec.model },
      ...(options.hooks === undefined ? {} : { hooks: options.hooks }),
      ...(signal === undefined ? {} : { signal }),
    });
    const cell = outcome.cells[0];
    if (cell === undefined) return { replicates: [], failure: { status: "error", reason: "interrupted" } };
    return cellMeasurement(cell);
  };
}
