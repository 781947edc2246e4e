/** The typed arrays tokbench keeps columns of numbers in. */
export type NumberColumn = Float64Array | Int32Array | Uint16Array | Uint8Array;

/** A copy of `column` with room for `capacity` values; the values past the old length are 0. */
export function growTypedArray<T extends NumberColumn>(column: T, capacity: number): T {
  const grown = new (column.constructor as new (length: number) => T)(capacity);
  grown.set(column);
  return grown;
}
