import { writeFileSync } from "node:fs";
import { TokbenchError } from "../errors/TokbenchError.js";
import type { ResourcePoint } from "../results/ResourceTimeline.js";
import type { ResourceUsage } from "../results/ResourceUsage.js";
import { StatsAccumulator } from "../stats/StatsAccumulator.js";
import { NvidiaSmiMonitor } from "./NvidiaSmiMonitor.js";
import { createProcessProbe, type ProbeReading, type ProcessProbe } from "./ProcessProbe.js";
import { ResourceTimelineBuilder } from "./ResourceTimelineBuilder.js";

/** Options of {@link ResourceSampler}. */
export interface ResourceSamplerOptions {
  /** Process to sample, e.g. a llama-server or vLLM started separately (`--pid`). Defaults to tokbench's own process. */
  pid?: number;
  /** Milliseconds between samples. Defaults to 250. */
  intervalMs?: number;
  /** Sample NVIDIA GPU memory and utilization with `nvidia-smi` when it is installed. Defaults to true. */
  gpu?: boolean;
  /** The `nvidia-smi` executable. Defaults to `nvidia-smi` (looked up in PATH). */
  nvidiaSmi?: string;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it just belongs to another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Samples what one process uses while a benchmark runs: resident memory (and the OS's peak), CPU
 * utilization, disk bytes read and written, and NVIDIA GPU memory and utilization.
 *
 * Built to be cheap enough to run beside the measurement: on Linux one sample is three small
 * /proc reads (no process spawned); tokbench's own process is read through Node's counters; GPUs
 * are followed by two long-running `nvidia-smi` loops rather than one spawn per sample. On macOS,
 * another process is read with one `ps` per sample (no /proc there). The timer is unref'd, so a
 * sampler never keeps the process alive.
 *
 * Definitions: `cpu_percent` samples are CPU time used over each interval divided by the
 * interval's wall time (100 % = one core busy), one per nominal interval, so their mean is the
 * time-weighted mean (see `recordCpu`); `rss_bytes` samples are instantaneous;
 * `peak_rss_bytes` is the operating system's high-water mark since the process started (VmHWM,
 * ru_maxrss) where exposed, so it catches peaks between samples, else the highest sample;
 * disk bytes are the growth of the process's storage I/O counters (Linux /proc/PID/io
 * `read_bytes`/`write_bytes`: bytes that reached the block layer, not page-cache hits) between
 * `start()` and `stop()`, null where not readable (macOS, another user's process).
 */
export class ResourceSampler {
  private readonly pid: number | null;
  private readonly intervalMs: number;
  private readonly probe: ProcessProbe;
  private readonly gpu: NvidiaSmiMonitor | null;
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  private stopped: ResourceUsage | null = null;
  private inFlight = false;
  private exited = false;
  private samples = 0;
  private first: ProbeReading | null = null;
  private last: ProbeReading | null = null;
  /** CPU time and instant the current CPU interval started from. */
  private cpuFrom: { cpu_time_ms: number; at: number } | null = null;
  private peakRss: number | null = null;
  private readonly rss = new StatsAccumulator();
  private readonly cpu = new StatsAccumulator();
  private readonly gpuProcessMemory = new StatsAccumulator();
  private readonly gpuDeviceMemory = new StatsAccumulator();
  private readonly gpuUtilization = new StatsAccumulator();
  private sawProcessGpuMemory = false;
  private readonly timelinePoints = new ResourceTimelineBuilder();
  /** When the first sample was taken, and the end of the last timeline point. */
  private timelineStart: number | null = null;
  private timelineEnd = 0;

  /**
   * @throws TokbenchError `INVALID_ARGUMENT` when `pid` names no running process, or the interval
   *   is not a positive number.
   */
  constructor(options: ResourceSamplerOptions = {}) {
    const interval = options.intervalMs ?? 250;
    if (!Number.isFinite(interval) || interval <= 0) {
      throw new TokbenchError(
        "INVALID_ARGUMENT",
        `sampling interval must be a positive number of ms, got ${interval}`,
      );
    }
    this.intervalMs = interval;
    this.pid = options.pid ?? null;
    if (this.pid !== null) this.assertAlive(this.pid);
    this.probe = createProcessProbe(this.pid);
    this.gpu =
      options.gpu === false
        ? null
        : new NvidiaSmiMonitor(this.pid ?? process.pid, interval, options.nvidiaSmi ?? "nvidia-smi");
  }

  /**
   * Takes the first sample now and then one per interval until {@link stop}.
   * @throws TokbenchError `INVALID_ARGUMENT` when the process has exited since construction.
   */
  start(): void {
    if (this.started) return;
    if (this.pid !== null) this.assertAlive(this.pid);
    this.started = true;
    // The OS's peak RSS counts from the process's start: in tokbench's own process that includes
    // work before the run (the bandwidth probe's buffers, synthesizing the default model). Linux
    // resets it to the current RSS on "5" written to clear_refs; only for our own process, never
    // for a server's (--pid). Elsewhere, or when refused, the peak may include that earlier work.
    if (this.pid === null || this.pid === process.pid) {
      try {
        writeFileSync("/proc/self/clear_refs", "5");
      } catch {
        // Not Linux, or not allowed: keep the lifetime peak.
      }
    }
    this.gpu?.start();
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  /**
   * Stops sampling (taking a last sample first where that costs nothing) and returns the usage.
   * Calling it again returns the same figures. If the process exited during the run, the figures
   * cover its life until then.
   */
  stop(): ResourceUsage {
    if (this.stopped !== null) return this.stopped;
    if (this.started && !this.exited && !this.inFlight) {
      const reading = this.probe.read();
      if (!(reading instanceof Promise)) this.record(reading, performance.now());
    }
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.gpu?.stop();
    const disk = (pick: (reading: ProbeReading) => number | null): number | null => {
      const from = this.first === null ? null : pick(this.first);
      const to = this.last === null ? null : pick(this.last);
      return from === null || to === null ? null : Math.max(0, to - from);
    };
    const gpuSamples = this.gpuDeviceMemory.count;
    this.stopped = {
      process: this.pid === null ? "self" : String(this.pid),
      sample_interval_ms: this.intervalMs,
      samples: this.samples,
      rss_bytes: this.rss.stats(),
      peak_rss_bytes: this.peakRss,
      cpu_percent: this.cpu.stats(),
      disk_read_bytes: disk((reading) => reading.disk_read_bytes),
      disk_write_bytes: disk((reading) => reading.disk_write_bytes),
      gpu_memory_bytes:
        gpuSamples === 0
          ? null
          : this.sawProcessGpuMemory
            ? this.gpuProcessMemory.stats()
            : this.gpuDeviceMemory.stats(),
      gpu_memory_scope: gpuSamples === 0 ? null : this.sawProcessGpuMemory ? "process" : "device",
      gpu_utilization_percent: this.gpuUtilization.count === 0 ? null : this.gpuUtilization.stats(),
    };
    return this.stopped;
  }

  /**
   * The time series of the samples taken so far (bounded: see `ResourceTimelineBuilder`), for
   * pictures of the run; {@link stop} first to include the last sample.
   */
  timeline(): ResourcePoint[] {
    return this.timelinePoints.toArray();
  }

  private assertAlive(pid: number): void {
    if (!Number.isInteger(pid) || pid <= 0 || !processExists(pid)) {
      throw new TokbenchError("INVALID_ARGUMENT", `no running process with pid ${pid} to sample`, {
        context: { pid },
      });
    }
  }

  /**
   * CPU samples sit on the nominal grid, so their plain mean is the time-weighted mean: a reading
   * less than half an interval after the last one waits to be merged with the next, and a
   * stretch of k intervals (the timer held up by a blocked event loop or a loaded machine)
   * counts as k samples of its average. Otherwise a few short busy intervals would outweigh one
   * long idle one.
   */
  private recordCpu(cpuTimeMs: number, at: number): number | null {
    if (this.cpuFrom === null) {
      this.cpuFrom = { cpu_time_ms: cpuTimeMs, at };
      return null;
    }
    const wall = at - this.cpuFrom.at;
    if (wall < this.intervalMs / 2) return null;
    const percent = Math.max(0, ((cpuTimeMs - this.cpuFrom.cpu_time_ms) / wall) * 100);
    this.cpu.addMany(percent, Math.max(1, Math.round(wall / this.intervalMs)));
    this.cpuFrom = { cpu_time_ms: cpuTimeMs, at };
    return percent;
  }

  private sample(): void {
    if (this.inFlight || this.exited || this.stopped !== null) return;
    const reading = this.probe.read();
    if (reading instanceof Promise) {
      this.inFlight = true;
      reading.then((value) => {
        this.inFlight = false;
        if (this.stopped === null) this.record(value, performance.now());
      });
    } else {
      this.record(reading, performance.now());
    }
  }

  private record(reading: ProbeReading | null, at: number): void {
    if (reading === null) {
      // The process is gone; what was measured until now stands.
      this.exited = true;
      if (this.timer !== null) clearInterval(this.timer);
      this.timer = null;
      return;
    }
    this.samples++;
    this.rss.add(reading.rss_bytes);
    this.peakRss = Math.max(this.peakRss ?? 0, reading.rss_bytes, reading.peak_rss_bytes ?? 0);
    const cpuPercent = this.recordCpu(reading.cpu_time_ms, at);
    this.first ??= reading;
    this.last = reading;

    const gpu = this.gpu?.read(at, 4 * this.intervalMs + 1000) ?? null;
    if (gpu !== null) {
      this.gpuDeviceMemory.add(gpu.device_memory_bytes);
      // Once the process has shown up on a GPU, a sample where it is absent means it holds nothing there.
      this.gpuProcessMemory.add(gpu.process_memory_bytes ?? 0);
      if (gpu.process_memory_bytes !== null) this.sawProcessGpuMemory = true;
      if (gpu.utilization_percent !== null) this.gpuUtilization.add(gpu.utilization_percent);
    }
    this.addTimelinePoint(reading, at, cpuPercent, gpu);
  }

  /** One point per sample, spanning from the previous one (a merged CPU reading spans both). */
  private addTimelinePoint(
    reading: ProbeReading,
    at: number,
    cpuPercent: number | null,
    gpu: {
      process_memory_bytes: number | null;
      device_memory_bytes: number;
      utilization_percent: number | null;
    } | null,
  ): void {
    if (this.timelineStart === null) this.timelineStart = at;
    const offset = at - this.timelineStart;
    const since = (pick: (r: ProbeReading) => number | null): number | null => {
      const from = this.first === null ? null : pick(this.first);
      const to = pick(reading);
      return from === null || to === null ? null : Math.max(0, to - from);
    };
    this.timelinePoints.add({
      offset_ms: this.timelineEnd,
      span_ms: Math.max(0, offset - this.timelineEnd),
      rss_bytes: reading.rss_bytes,
      cpu_percent: cpuPercent,
      gpu_memory_bytes:
        gpu === null
          ? null
          : this.sawProcessGpuMemory
            ? (gpu.process_memory_bytes ?? 0)
            : gpu.device_memory_bytes,
      gpu_utilization_percent: gpu?.utilization_percent ?? null,
      disk_read_bytes: since((r) => r.disk_read_bytes),
      disk_write_bytes: since((r) => r.disk_write_bytes),
    });
    this.timelineEnd = offset;
  }
}
