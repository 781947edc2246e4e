import type { DistributionStats } from "./DistributionStats.js";

/**
 * What a process used during a run, sampled at a fixed interval. Byte counts are totals over the
 * run; CPU utilization is in % of one core (200 % = two cores busy).
 */
export interface ResourceUsage {
  /** Which process: `self` (the embedded engine runs in tokbench's own process) or a pid. */
  process: string;
  sample_interval_ms: number;
  samples: number;
  rss_bytes: DistributionStats;
  peak_rss_bytes: number | null;
  cpu_percent: DistributionStats;
  disk_read_bytes: number | null;
  disk_write_bytes: number | null;
  gpu_memory_bytes: DistributionStats | null;
  /**
   * What `gpu_memory_bytes` measures: `process`, the sampled process's own GPU memory (NVIDIA
   * compute apps); `device`, all memory in use on the GPUs (when per-process figures are not
   * visible, e.g. inside a container); null without GPU samples.
   */
  gpu_memory_scope: "process" | "device" | null;
  gpu_utilization_percent: DistributionStats | null;
}
