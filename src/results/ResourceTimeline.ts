/**
 * One point of the resource sampler's time series: what the sampled process used over
 * `[offset_ms, offset_ms + span_ms)` since sampling started. RSS and GPU figures are the latest
 * sample in the span, CPU and GPU utilization the span's time-weighted mean, disk bytes the totals
 * read and written since sampling started. Each is null when not measured.
 */
export interface ResourcePoint {
  offset_ms: number;
  span_ms: number;
  rss_bytes: number | null;
  cpu_percent: number | null;
  gpu_memory_bytes: number | null;
  gpu_utilization_percent: number | null;
  disk_read_bytes: number | null;
  disk_write_bytes: number | null;
}
