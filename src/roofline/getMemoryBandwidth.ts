import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, hostname, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import envPaths from "env-paths";
import type { BandwidthMeasurement, MeasureBandwidthOptions } from "./measureMemoryBandwidth.js";
import { measureMemoryBandwidth } from "./measureMemoryBandwidth.js";

/** Options of {@link getMemoryBandwidth}. */
export interface GetMemoryBandwidthOptions extends MeasureBandwidthOptions {
  /** Measure again even when a cached figure exists. Defaults to false. */
  readonly refresh?: boolean;
  /** Directory of the cache file. Defaults to the user cache dir of tokbench (env-paths). */
  readonly cacheDir?: string;
  /** A cached figure older than this is measured again. Defaults to 30 days. */
  readonly maxAgeMs?: number;
  /**
   * The machine's load: runnable threads, averaged (read before and after the probe). Defaults to
   * the 1-minute load average (`os.loadavg()[0]`).
   */
  readonly loadAverage?: () => number;
}

/** A bandwidth figure and whether it came from the cache. */
export interface CachedBandwidth extends BandwidthMeasurement {
  /** True when read from the cache rather than measured now. */
  readonly cached: boolean;
  /** Identity of the machine the figure belongs to. */
  readonly machine: string;
  /**
   * Set when the figure was probed now on a machine with more runnable threads than CPUs: the
   * probe's threads waited for a core, so the figure is likely low (a ceiling too low, an
   * efficiency too high). Such a figure is not cached. Absent otherwise.
   */
  readonly under_load?: { readonly load_average: number; readonly cpus: number };
}

/** What makes two runs "the same machine" for a bandwidth figure. */
export function machineFingerprint(): string {
  const cpu = cpus()[0]?.model ?? "unknown cpu";
  return `${hostname()}|${cpu}|${cpus().length} cpus|${totalmem()} bytes`;
}

/** Default cache directory: `~/.cache/tokbench` on Linux (XDG), the platform equivalent elsewhere. */
export function defaultCacheDir(): string {
  return envPaths("tokbench", { suffix: "" }).cache;
}

/**
 * This machine's memory bandwidth, probed once and cached per machine (the probe takes seconds and
 * the hardware does not change between runs). Figures for another machine fingerprint, or older
 * than `maxAgeMs`, are measured again. A cache that cannot be read or written is just ignored. A
 * figure probed while the load average exceeded the CPU count is not cached.
 */
export async function getMemoryBandwidth(options: GetMemoryBandwidthOptions = {}): Promise<CachedBandwidth> {
  const dir = options.cacheDir ?? defaultCacheDir();
  const file = join(dir, "memory-bandwidth.json");
  const machine = machineFingerprint();
  const maxAge = options.maxAgeMs ?? 30 * 24 * 3600 * 1000;
  if (options.refresh !== true) {
    try {
      const stored = JSON.parse(await readFile(file, "utf8")) as Partial<CachedBandwidth>;
      const age = Date.now() - Date.parse(stored.measured_at ?? "");
      if (
        stored.machine === machine &&
        typeof stored.bytes_per_second === "number" &&
        age >= 0 &&
        age < maxAge
      ) {
        return { ...(stored as CachedBandwidth), cached: true };
      }
    } catch {
      // No cache yet, or an unreadable one: measure.
    }
  }
  const load = options.loadAverage ?? (() => loadavg()[0] ?? 0);
  const loadBefore = load();
  const measured = await measureMemoryBandwidth(options);
  const result: CachedBandwidth = { ...measured, cached: false, machine };
  // On a machine with more runnable threads than CPUs the probe's threads wait for a core, so
  // even its best round is slow: a figure too low, which would then stand as the ceiling (and
  // call real rates impossible) for 30 days. It serves this run only; the next run probes again.
  const loadAverage = Math.max(loadBefore, load());
  if (loadAverage > availableParallelism()) {
    return { ...result, under_load: { load_average: loadAverage, cpus: availableParallelism() } };
  }
  try {
    await mkdir(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(result, null, 2)}\n`);
    await rename(tmp, file);
  } catch {
    // A read-only home must not make the measurement fail.
  }
  return result;
}
