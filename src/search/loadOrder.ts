import type { Axis, Point } from "./Axis.js";

/** How two points of the same space compare by load. */
export type LoadComparison = "lighter" | "equal" | "heavier" | "incomparable";

/** Index of `point`'s value on `axis`; -1 when the value is not one of the axis's values. */
function rankOn(axis: Axis, point: Point): number {
  return axis.values.indexOf(point[axis.name] as never);
}

/**
 * Compares two points under the "heavier than" partial order: `a` is heavier than `b` when it is
 * at least as heavy on every ordered axis, strictly heavier on one, and equal on every unordered
 * axis (a different thread count or flash-attention setting is another configuration, not a
 * lighter or heavier one). Points that differ on an unordered axis, or are heavier on one ordered
 * axis and lighter on another, are `incomparable`.
 */
export function compareLoad(axes: readonly Axis[], a: Point, b: Point): LoadComparison {
  let heavier = false;
  let lighter = false;
  for (const axis of axes) {
    if (axis.order === "none") {
      if (a[axis.name] !== b[axis.name]) return "incomparable";
      continue;
    }
    const ra = rankOn(axis, a);
    const rb = rankOn(axis, b);
    if (ra > rb) heavier = true;
    else if (ra < rb) lighter = true;
    if (heavier && lighter) return "incomparable";
  }
  if (heavier) return "heavier";
  if (lighter) return "lighter";
  return "equal";
}

/** Whether `a` is at least as heavy as `b` on every axis (heavier or equal under {@link compareLoad}). */
export function atLeastAsHeavy(axes: readonly Axis[], a: Point, b: Point): boolean {
  const c = compareLoad(axes, a, b);
  return c === "heavier" || c === "equal";
}

/**
 * Orders points lightest first: by the sum of their ranks on the ordered axes, ties kept in their
 * given order. A point heavier than another has a strictly larger rank sum, so this is a linear
 * extension of the partial order: no point comes before one it is heavier than.
 */
export function lightestFirst<T extends Point>(axes: readonly Axis[], points: readonly T[]): T[] {
  const ordered = axes.filter((axis) => axis.order === "ascending");
  const weight = (p: Point) => ordered.reduce((sum, axis) => sum + rankOn(axis, p), 0);
  return points
    .map((point, index) => ({ point, index, weight: weight(point) }))
    .sort((x, y) => x.weight - y.weight || x.index - y.index)
    .map((entry) => entry.point);
}
