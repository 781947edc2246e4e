import type { ResourcePoint } from "../results/ResourceTimeline.js";

/** Points kept at most; beyond, neighbours are merged pairwise (halving the resolution). */
export const MAX_TIMELINE_POINTS = 4096;

const weighted = (a: number | null, wa: number, b: number | null, wb: number): number | null =>
  a === null ? b : b === null ? a : (a * wa + b * wb) / (wa + wb);

/**
 * Collects the sampler's time series in bounded memory: at most {@link MAX_TIMELINE_POINTS} points
 * however long the run, by merging neighbouring points two by two whenever the list is full (a
 * run of a day at 250 ms keeps one point per ~21 s). Merging keeps means time-weighted and levels
 * (RSS, GPU memory, cumulative disk bytes) at the later point's value.
 */
export class ResourceTimelineBuilder {
  private points: ResourcePoint[] = [];

  /** Adds one point; its span must follow the previous point's. */
  add(point: ResourcePoint): void {
    this.points.push(point);
    if (this.points.length >= MAX_TIMELINE_POINTS) this.halve();
  }

  /** The series so far, oldest first. */
  toArray(): ResourcePoint[] {
    return this.points.map((p) => ({ ...p }));
  }

  private halve(): void {
    const merged: ResourcePoint[] = [];
    for (let i = 0; i < this.points.length; i += 2) {
      const a = this.points[i] as ResourcePoint;
      const b = this.points[i + 1];
      if (b === undefined) {
        merged.push(a);
        continue;
      }
      merged.push({
        offset_ms: a.offset_ms,
        span_ms: a.span_ms + b.span_ms,
        rss_bytes: b.rss_bytes ?? a.rss_bytes,
        cpu_percent: weighted(a.cpu_percent, a.span_ms, b.cpu_percent, b.span_ms),
        gpu_memory_bytes: b.gpu_memory_bytes ?? a.gpu_memory_bytes,
        gpu_utilization_percent: weighted(
          a.gpu_utilization_percent,
          a.span_ms,
          b.gpu_utilization_percent,
          b.span_ms,
        ),
        disk_read_bytes: b.disk_read_bytes ?? a.disk_read_bytes,
        disk_write_bytes: b.disk_write_bytes ?? a.disk_write_bytes,
      });
    }
    this.points = merged;
  }
}
