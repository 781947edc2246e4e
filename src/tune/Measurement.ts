import type { Measurement, MeasurementStatus } from "../results/TuneResult.js";
import type { AxisValue } from "../search/Axis.js";

export type { Measurement, MeasurementStatus } from "../results/TuneResult.js";

/** One server configuration the tuner may try: a value per knob, by knob name. */
export type Configuration = Readonly<Record<string, AxisValue>>;

/**
 * What measuring a configuration gave: up to the replicates asked for (fewer when one was not
 * feasible: feasibility is strict, so more would change nothing), or none when the configuration
 * could not run at all.
 */
export interface TrialMeasurement {
  replicates: Measurement[];
  /**
   * Set when the configuration could not be measured: `oom` (out of memory at start, or the memory
   * pre-check), `crash`, `timeout`, `error` (bad arguments, absent from a replay file), with a
   * reason. Null when replicates were measured.
   */
  failure: { status: Exclude<MeasurementStatus, "ok">; reason: string } | null;
}

/** Measures a configuration `replicates` times; replay and live tuning implement it. */
export type MeasureFn = (
  configuration: Configuration,
  replicates: number,
  signal: AbortSignal | undefined,
) => Promise<TrialMeasurement>;

/** A stable key of a configuration (the same values give the same key, whatever the key order). */
export function configurationKey(configuration: Configuration): string {
  return JSON.stringify(
    Object.keys(configuration)
      .sort()
      .map((k) => [k, configuration[k]]),
  );
}
