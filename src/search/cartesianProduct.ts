import type { Axis, AxisValue, Point } from "./Axis.js";

/**
 * Every combination of one value per axis, the first axis outermost (its value changes slowest),
 * as llama-bench nests its loops. An axis without values makes the product empty. Each point is a
 * fresh object with one property per axis, in axis order.
 */
export function cartesianProduct(
  axes: readonly Pick<Axis, "name" | "values">[],
): Record<string, AxisValue>[] {
  let points: Record<string, AxisValue>[] = [{}];
  for (const axis of axes) {
    const next: Record<string, AxisValue>[] = [];
    for (const point of points) for (const value of axis.values) next.push({ ...point, [axis.name]: value });
    points = next;
  }
  return points;
}

/** How many points {@link cartesianProduct} gives, without building them. */
export function productSize(axes: readonly Pick<Axis, "values">[]): number {
  return axes.reduce((n, axis) => n * axis.values.length, 1);
}

/** A stable text key for a point over `axes` (same values, same key), e.g. for maps and resume. */
export function pointKey(axes: readonly Pick<Axis, "name">[], point: Point): string {
  return JSON.stringify(axes.map((axis) => point[axis.name] ?? null));
}
