/**
 * The ggml tensor types: numeric id as stored in GGUF, block size in elements, bytes per block.
 * Ids match `enum ggml_type` in ggml.h; ids of types that ggml removed stay reserved and unknown.
 */
export interface GgmlTypeInfo {
  /** Numeric id as stored in a GGUF tensor info. */
  readonly id: number;
  /** Canonical upper-case name as printed by llama.cpp (`Q4_K`, `BF16`). */
  readonly name: string;
  /** Elements per quantization block (1 for plain types). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
}

const TABLE: readonly GgmlTypeInfo[] = [
  { id: 0, name: "F32", blockSize: 1, typeSize: 4 },
  { id: 1, name: "F16", blockSize: 1, typeSize: 2 },
  { id: 2, name: "Q4_0", blockSize: 32, typeSize: 18 },
  { id: 3, name: "Q4_1", blockSize: 32, typeSize: 20 },
  { id: 6, name: "Q5_0", blockSize: 32, typeSize: 22 },
  { id: 7, name: "Q5_1", blockSize: 32, typeSize: 24 },
  { id: 8, name: "Q8_0", blockSize: 32, typeSize: 34 },
  { id: 9, name: "Q8_1", blockSize: 32, typeSize: 36 },
  { id: 10, name: "Q2_K", blockSize: 256, typeSize: 84 },
  { id: 11, name: "Q3_K", blockSize: 256, typeSize: 110 },
  { id: 12, name: "Q4_K", blockSize: 256, typeSize: 144 },
  { id: 13, name: "Q5_K", blockSize: 256, typeSize: 176 },
  { id: 14, name: "Q6_K", blockSize: 256, typeSize: 210 },
  { id: 15, name: "Q8_K", blockSize: 256, typeSize: 292 },
  { id: 16, name: "IQ2_XXS", blockSize: 256, typeSize: 66 },
  { id: 17, name: "IQ2_XS", blockSize: 256, typeSize: 74 },
  { id: 18, name: "IQ3_XXS", blockSize: 256, typeSize: 98 },
  { id: 19, name: "IQ1_S", blockSize: 256, typeSize: 50 },
  { id: 20, name: "IQ4_NL", blockSize: 32, typeSize: 18 },
  { id: 21, name: "IQ3_S", blockSize: 256, typeSize: 110 },
  { id: 22, name: "IQ2_S", blockSize: 256, typeSize: 82 },
  { id: 23, name: "IQ4_XS", blockSize: 256, typeSize: 136 },
  { id: 24, name: "I8", blockSize: 1, typeSize: 1 },
  { id: 25, name: "I16", blockSize: 1, typeSize: 2 },
  { id: 26, name: "I32", blockSize: 1, typeSize: 4 },
  { id: 27, name: "I64", blockSize: 1, typeSize: 8 },
  { id: 28, name: "F64", blockSize: 1, typeSize: 8 },
  { id: 29, name: "IQ1_M", blockSize: 256, typeSize: 56 },
  { id: 30, name: "BF16", blockSize: 1, typeSize: 2 },
  { id: 34, name: "TQ1_0", blockSize: 256, typeSize: 54 },
  { id: 35, name: "TQ2_0", blockSize: 256, typeSize: 66 },
  { id: 39, name: "MXFP4", blockSize: 32, typeSize: 17 },
];

const BY_ID = new Map(TABLE.map((t) => [t.id, t]));
const BY_NAME = new Map(TABLE.map((t) => [t.name, t]));

/** Every ggml type tokbench knows, in id order. */
export function listGgmlTypes(): readonly GgmlTypeInfo[] {
  return TABLE;
}

/** The type with this numeric id, or undefined when the id is unknown (or a removed type). */
export function ggmlTypeById(id: number): GgmlTypeInfo | undefined {
  return BY_ID.get(id);
}

/** The type with this name (case-insensitive: `q4_0`, `Q4_0`), or undefined. */
export function ggmlTypeByName(name: string): GgmlTypeInfo | undefined {
  return BY_NAME.get(name.toUpperCase());
}

/**
 * Bytes taken by `elements` values of `type` laid out in rows of `rowLength` elements.
 * Throws a RangeError when the row length is not a whole number of blocks, since ggml cannot store that.
 */
export function tensorBytes(type: GgmlTypeInfo, elements: number, rowLength: number): number {
  if (rowLength % type.blockSize !== 0) {
    throw new RangeError(
      `row length ${rowLength} is not a multiple of ${type.name} block size ${type.blockSize}`,
    );
  }
  return (elements / type.blockSize) * type.typeSize;
}

/** Bits per weight of a type: 8 × bytes per block / elements per block (Q4_0 → 4.5). */
export function bitsPerWeight(type: GgmlTypeInfo): number {
  return (8 * type.typeSize) / type.blockSize;
}
