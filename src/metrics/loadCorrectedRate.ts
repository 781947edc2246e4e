/**
 * The load-corrected rate of a llama-bench-style repetition, and a run's best one: what `regress`
 * judges when a machine's speed moves between runs.
 *
 * Definition. A repetition of `tokens` tokens took `wall_ns` of wall time, during which the process
 * used `cpu_ns` of CPU time (user + system, all threads) with `n_threads` engine threads. Its CPU
 * share is `cpu_ns / (n_threads * wall_ns)`: 1 when every engine thread had a core the whole time,
 * less when some waited for one (another process ran). The load-corrected rate is the rate it would
 * have had without that wait: `tokens / wall * min(1, ...)^-1`, that is
 * `samples_ts * n_threads * wall_ns / cpu_ns` when the share is below 1, and `samples_ts` unchanged
 * otherwise (never faster than measured when the engine had its cores).
 *
 * Only for repetitions computed on the CPU: a GPU run's threads wait on the device by design, so
 * rows with layers offloaded (`n_gpu_layers > 0` on a non-CPU backend) keep their measured rate.
 *
 * A run's level is its best load-corrected repetition: interference only ever slows a repetition
 * down (it cannot make the engine faster than it is), so the fastest repetition is the least
 * disturbed estimate of the engine's speed, as `timeit` takes the minimum time
 * (bench/regressVerdicts.ts measures how much steadier it is than the mean between runs).
 */

/** The fields of a test row this reads (llama-bench names plus tokbench's `engine_cpu_ns`). */
export interface RepetitionSamples {
  samples_ts?: unknown;
  samples_ns?: unknown;
  engine_cpu_ns?: unknown;
  n_threads?: unknown;
  n_gpu_layers?: unknown;
  backends?: unknown;
}

const numbers = (v: unknown): number[] =>
  Array.isArray(v) ? v.filter((x): x is number => typeof x === "number" && Number.isFinite(x)) : [];

/** Whether the row's repetitions ran on the CPU alone (so their CPU time says how long they waited). */
function onCpu(row: RepetitionSamples): boolean {
  const layers = typeof row.n_gpu_layers === "number" ? row.n_gpu_layers : 0;
  return layers === 0 || String(row.backends ?? "").toLowerCase() === "cpu";
}

/**
 * Each repetition's load-corrected rate (see the module comment), in repetition order; the measured
 * rates when the row has no CPU times (stored before they were kept, or a GPU row).
 */
export function loadCorrectedRates(row: RepetitionSamples): number[] {
  const rates = numbers(row.samples_ts);
  const wall = numbers(row.samples_ns);
  const cpu = numbers(row.engine_cpu_ns);
  const threads = typeof row.n_threads === "number" && row.n_threads > 0 ? row.n_threads : 1;
  if (!onCpu(row) || cpu.length !== rates.length || wall.length !== rates.length) return rates;
  return rates.map((rate, i) => {
    const share = (cpu[i] as number) / (threads * (wall[i] as number));
    return share > 0 && share < 1 ? rate / share : rate;
  });
}

/** The run's level: its best load-corrected repetition; null without repetitions. */
export function bestLoadCorrectedRate(row: RepetitionSamples): number | null {
  const rates = loadCorrectedRates(row);
  return rates.length === 0 ? null : Math.max(...rates);
}
