/** GGUF metadata value types, with the numeric ids stored in the file (gguf.h `enum gguf_type`). */
export const GGUF_VALUE_TYPE_IDS = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;

/** Name of a GGUF metadata value type. */
export type GgufValueType = keyof typeof GGUF_VALUE_TYPE_IDS;

/** Name of a GGUF value type that can be an array element (anything but `array` itself here). */
export type GgufScalarType = Exclude<GgufValueType, "array">;

/**
 * A scalar value. 64-bit integers are numbers when they fit in a double exactly, bigints otherwise.
 */
export type GgufScalar = number | bigint | boolean | string;

/** The values of an array: a plain array, or a typed array for large numeric arrays (token scores). */
export type GgufArrayValues = readonly GgufScalar[] | Float32Array | Int32Array | Uint32Array | Uint8Array;

/** One metadata key/value pair. */
export type GgufKv =
  | { readonly key: string; readonly type: GgufScalarType; readonly value: GgufScalar }
  | {
      readonly key: string;
      readonly type: "array";
      readonly elementType: GgufScalarType;
      readonly value: GgufArrayValues;
    };

/** The type name of a numeric GGUF value type id, or undefined for an unknown id. */
export function ggufValueTypeName(id: number): GgufValueType | undefined {
  for (const [name, value] of Object.entries(GGUF_VALUE_TYPE_IDS)) {
    if (value === id) return name as GgufValueType;
  }
  return undefined;
}

/** Byte size of a fixed-size GGUF scalar type; undefined for strings and arrays. */
export function ggufScalarSize(type: GgufValueType): number | undefined {
  switch (type) {
    case "uint8":
    case "int8":
    case "bool":
      return 1;
    case "uint16":
    case "int16":
      return 2;
    case "uint32":
    case "int32":
    case "float32":
      return 4;
    case "uint64":
    case "int64":
    case "float64":
      return 8;
    default:
      return undefined;
  }
}
