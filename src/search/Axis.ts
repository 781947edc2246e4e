/** One value of an axis: a number (context size, concurrency), a name (a KV type, a model file) or a switch. */
export type AxisValue = number | string | boolean;

/**
 * How an axis's values rank by load (memory and work): `ascending` when a later value in
 * `values` is heavier than an earlier one (context size, parallel slots, concurrency), `none` when
 * values are alternatives that no order ranks (threads, flash attention on or off).
 */
export type AxisOrder = "ascending" | "none";

/** One dimension of a search space. */
export interface Axis {
  /** Name as the user wrote it (`ctx`, `parallel`, `concurrency`). */
  readonly name: string;
  /** The values, lightest first when `order` is `ascending`. */
  readonly values: readonly AxisValue[];
  readonly order: AxisOrder;
}

/** One point of a space: a value of every axis, by axis name. */
export type Point = Readonly<Record<string, AxisValue>>;

/**
 * An axis over `values` in the given order, or sorted lightest first by `rank` when given (numbers
 * ascending, a KV type by its bytes per element, a model file by its size). Without `rank` an
 * all-numeric axis is sorted ascending and anything else is left as given with order `none`.
 */
export function makeAxis(
  name: string,
  values: readonly AxisValue[],
  options: { order?: AxisOrder; rank?: (value: AxisValue) => number } = {},
): Axis {
  const numeric = values.every((v) => typeof v === "number");
  const order = options.order ?? (options.rank !== undefined || numeric ? "ascending" : "none");
  if (order === "none") return { name, values: [...values], order };
  const rank = options.rank ?? ((v: AxisValue) => v as number);
  return { name, values: [...values].sort((a, b) => rank(a) - rank(b)), order };
}
