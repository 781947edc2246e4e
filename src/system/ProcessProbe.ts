import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";

/** Cumulative counters of a process at one instant. */
export interface ProbeReading {
  rss_bytes: number;
  /** The operating system's own peak (high-water mark) RSS since the process started; null where not exposed. */
  peak_rss_bytes: number | null;
  /** CPU time (user + system) since the process started, in ms. */
  cpu_time_ms: number;
  /** Bytes the process caused to be read from / written to storage; null where not readable. */
  disk_read_bytes: number | null;
  disk_write_bytes: number | null;
}

/**
 * Reads one process's counters. `read` returns null once the process is gone. Synchronous probes
 * (Linux /proc, self) answer in microseconds; the macOS probe of another process must run `ps`,
 * so its reading comes back as a promise.
 */
export interface ProcessProbe {
  read(): ProbeReading | null | Promise<ProbeReading | null>;
}

/**
 * Linux's USER_HZ, the unit of utime/stime in /proc/PID/stat. It is part of the kernel's ABI and
 * 100 on every architecture Node runs on, so there is no need to spawn `getconf CLK_TCK`.
 */
const LINUX_TICKS_PER_S = 100;

function procIo(pid: number | "self"): { read: number | null; write: number | null } {
  try {
    const text = readFileSync(`/proc/${pid}/io`, "utf8");
    const read = /^read_bytes:\s*(\d+)/m.exec(text)?.[1];
    const write = /^write_bytes:\s*(\d+)/m.exec(text)?.[1];
    return {
      read: read === undefined ? null : Number(read),
      write: write === undefined ? null : Number(write),
    };
  } catch {
    // Another user's process (EACCES), or a kernel without task I/O accounting.
    return { read: null, write: null };
  }
}

function statusKb(text: string, field: string): number | null {
  const match = new RegExp(`^${field}:\\s*(\\d+)\\s*kB`, "m").exec(text)?.[1];
  return match === undefined ? null : Number(match) * 1024;
}

/**
 * The peak RSS of tokbench's own process. On Linux, VmHWM: the high-water mark that
 * `/proc/self/clear_refs` resets when sampling starts. Not getrusage's ru_maxrss there: the kernel
 * folds the high-water mark into it whenever a thread exits (Node's worker and pool threads do),
 * so an old peak from before the reset can come back.
 */
function selfPeakRss(): number {
  if (process.platform === "linux") {
    try {
      const hwm = statusKb(readFileSync("/proc/self/status", "utf8"), "VmHWM");
      if (hwm !== null) return hwm;
    } catch {
      // No /proc: the portable figure below.
    }
  }
  // getrusage's ru_maxrss, in kB on every platform once libuv has normalised it.
  return process.resourceUsage().maxRSS * 1024;
}

/** Samples tokbench's own process through Node's APIs (and /proc/self/io and status on Linux). */
class SelfProbe implements ProcessProbe {
  read(): ProbeReading {
    const cpu = process.cpuUsage();
    const io = process.platform === "linux" ? procIo("self") : { read: null, write: null };
    return {
      rss_bytes: process.memoryUsage.rss(),
      peak_rss_bytes: selfPeakRss(),
      cpu_time_ms: (cpu.user + cpu.system) / 1000,
      disk_read_bytes: io.read,
      disk_write_bytes: io.write,
    };
  }
}

/** Samples any process on Linux from /proc: three small file reads, no process spawned. */
class LinuxProcProbe implements ProcessProbe {
  constructor(private readonly pid: number) {}

  read(): ProbeReading | null {
    let status: string;
    let stat: string;
    try {
      status = readFileSync(`/proc/${this.pid}/status`, "utf8");
      stat = readFileSync(`/proc/${this.pid}/stat`, "utf8");
    } catch {
      return null;
    }
    // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const state = fields[0];
    // A zombie has exited: its counters no longer move and its memory is gone.
    if (state === "Z" || state === "X") return null;
    // Fields 14 and 15 (utime, stime) are at 11 and 12 once the first two are cut off.
    const ticks = Number(fields[11]) + Number(fields[12]);
    const io = procIo(this.pid);
    return {
      rss_bytes: statusKb(status, "VmRSS") ?? 0,
      peak_rss_bytes: statusKb(status, "VmHWM"),
      cpu_time_ms: (ticks * 1000) / LINUX_TICKS_PER_S,
      disk_read_bytes: io.read,
      disk_write_bytes: io.write,
    };
  }
}

/** Parses ps's cumulative CPU time: `[[dd-]hh:]mm:ss[.cc]`. */
export function parsePsTime(text: string): number | null {
  const match = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)$/.exec(text.trim());
  if (match === null) return null;
  const [, days, hours, minutes, seconds] = match;
  return (
    ((Number(days ?? 0) * 24 + Number(hours ?? 0)) * 3600 + Number(minutes) * 60 + Number(seconds)) * 1000
  );
}

/**
 * Samples another process on macOS (and other Unixes without /proc) with `ps -o rss=,time=`.
 * Cumulative CPU time rather than `%cpu`, because ps's `%cpu` is a decaying average, not the
 * utilization over the last interval. Disk counters and the peak RSS are not exposed: null.
 */
class PsProbe implements ProcessProbe {
  constructor(private readonly pid: number) {}

  read(): Promise<ProbeReading | null> {
    return new Promise((resolve) => {
      execFile("ps", ["-o", "rss=,time=", "-p", String(this.pid)], { timeout: 5000 }, (error, stdout) => {
        if (error !== null) return resolve(null);
        const [rss, time] = stdout.trim().split(/\s+/);
        const cpu = time === undefined ? null : parsePsTime(time);
        if (rss === undefined || cpu === null || !Number.isFinite(Number(rss))) return resolve(null);
        resolve({
          rss_bytes: Number(rss) * 1024,
          peak_rss_bytes: null,
          cpu_time_ms: cpu,
          disk_read_bytes: null,
          disk_write_bytes: null,
        });
      });
    });
  }
}

/** The cheapest probe for a process: Node's own counters for self, /proc on Linux, `ps` elsewhere. */
export function createProcessProbe(pid: number | null): ProcessProbe {
  if (pid === null) return new SelfProbe();
  return process.platform === "linux" ? new LinuxProcProbe(pid) : new PsProbe(pid);
}
