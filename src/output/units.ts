/*
 * tokbench's one convention for units in text meant for people (terminal tables, messages):
 * memory and file sizes in binary units (B, KiB, MiB, GiB, TiB, as `ls -h` and llama.cpp print
 * them), bandwidth in decimal GB/s (as memory vendors and STREAM quote it), parameter counts with
 * K/M/B suffixes (as model names do), and `±` only when there were two or more samples to spread.
 * A leaf module with no imports: error messages of the library use it too, so one size never reads
 * two ways. JSON output keeps raw numbers with the unit in the field name.
 */

const BINARY_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const;

/** Three significant figures at most, never more than two decimals: `2.82`, `26.5`, `265`. */
function threeFigures(v: number): string {
  const abs = Math.abs(v);
  if (abs >= 100) return Math.round(v).toString();
  if (abs >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/**
 * A size in bytes with binary units: `144 B`, `2.00 KiB`, `2.82 MiB`, `265 MiB`, `4.51 GiB`.
 * `-` for an unknown (null, NaN) size.
 */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return "-";
  let v = bytes;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < BINARY_UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  // A value that rounds up to 1024 reads better in the next unit: 1023.9 KiB is 1.00 MiB.
  if (u > 0 && Math.abs(v) >= 1023.5 && u < BINARY_UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(v)} B` : `${threeFigures(v)} ${BINARY_UNITS[u]}`;
}

/** A bandwidth in decimal gigabytes per second: `7.0 GB/s`, `0.85 GB/s`, `0.0022 GB/s`, `205 GB/s`. */
export function formatBandwidth(bytesPerSecond: number | null | undefined): string {
  if (bytesPerSecond === null || bytesPerSecond === undefined || !Number.isFinite(bytesPerSecond)) return "-";
  const gb = bytesPerSecond / 1e9;
  // Two significant figures below 1 GB/s, never a "0.00" that hides a real, small figure.
  const text =
    gb >= 100 ? Math.round(gb).toString() : gb >= 1 ? gb.toFixed(1) : gb === 0 ? "0" : gb.toPrecision(2);
  return `${text} GB/s`;
}

/**
 * A parameter count the way model names give it: `5.25M`, `494M`, `1.24B`, `30.5B` (`812` and
 * `12.0K` for toy sizes). `-` when unknown.
 */
export function formatParameters(count: number | null | undefined): string {
  if (count === null || count === undefined || !Number.isFinite(count) || count < 0) return "-";
  const scales: [number, string][] = [
    [1e12, "T"],
    [1e9, "B"],
    [1e6, "M"],
    [1e3, "K"],
  ];
  for (const [scale, suffix] of scales) {
    // 999.6M reads as 1.00B, not 1000M.
    if (count >= scale * 0.9995) return `${threeFigures(count / scale)}${suffix}`;
  }
  return Math.round(count).toString();
}

/**
 * A mean with its spread, `±` only when `samples` >= 2 (one sample has no spread to show; an
 * `± 0.00` would claim a precision nobody measured). `digits` decimals.
 */
export function formatMeanSpread(
  mean: number | null | undefined,
  spread: number | null | undefined,
  samples: number,
  digits = 2,
): string {
  if (mean === null || mean === undefined || !Number.isFinite(mean)) return "-";
  const m = mean.toFixed(digits);
  if (samples < 2 || spread === null || spread === undefined || !Number.isFinite(spread)) return m;
  return `${m} ± ${spread.toFixed(digits)}`;
}

/** A whole count with thousands separators: `4,096`. `-` when unknown. */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "-";
  return Math.round(n).toLocaleString("en-US");
}

/** A duration for progress and status lines: `850 ms`, `4.2 s`, `3 min 05 s`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "-";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s).toString()} s`;
  const min = Math.floor(s / 60);
  const rest = Math.round(s - min * 60);
  return `${min} min ${rest.toString().padStart(2, "0")} s`;
}
