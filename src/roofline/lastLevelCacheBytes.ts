import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/**
 * Size of the CPU's largest cache (L3, else L2) in bytes, or null when the system does not say.
 * A model whose bytes per token fit in it is served from cache, not memory, so the memory-bandwidth
 * roofline is no ceiling for it.
 */
export function lastLevelCacheBytes(): number | null {
  if (process.platform === "linux") {
    try {
      const dir = "/sys/devices/system/cpu/cpu0/cache";
      let best: number | null = null;
      for (const entry of readdirSync(dir)) {
        if (!entry.startsWith("index")) continue;
        const size = parseCacheSize(readFileSync(`${dir}/${entry}/size`, "utf8"));
        if (size !== null && (best === null || size > best)) best = size;
      }
      return best;
    } catch {
      return null;
    }
  }
  if (process.platform === "darwin") {
    for (const key of ["hw.l3cachesize", "hw.l2cachesize"]) {
      try {
        const n = Number(execFileSync("sysctl", ["-n", key], { encoding: "utf8", timeout: 2000 }).trim());
        if (Number.isFinite(n) && n > 0) return n;
      } catch {}
    }
  }
  return null;
}

/** Parses Linux sysfs cache sizes such as `32768K` or `1M`. */
export function parseCacheSize(text: string): number | null {
  const m = /^(\d+)\s*([KMG]?)/i.exec(text.trim());
  if (m === null) return null;
  const unit = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[
    (m[2] ?? "").toUpperCase() as "" | "K" | "M" | "G"
  ];
  return Number(m[1]) * unit;
}
