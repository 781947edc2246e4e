/** Formats a figure for a terminal table: `-` for unknown, 3 significant digits below 100, integers above. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "-";
  const abs = Math.abs(value);
  // Thousands separators by hand: the first toLocaleString call loads ICU's number data (~10 ms),
  // a tenth of what `tokbench runs` may take.
  if (abs >= 100)
    return BigInt(Math.round(value))
      .toString()
      .replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  if (abs === 0) return "0";
  return value.toPrecision(3);
}
