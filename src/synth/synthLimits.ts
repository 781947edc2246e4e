import { statfs } from "node:fs/promises";
import { getHeapStatistics } from "node:v8";
import { TokbenchError } from "../errors/TokbenchError.js";
import { formatBytes } from "../output/units.js";
import type { ModelShape } from "./ModelShape.js";

/**
 * Ranges of the shape fields synth accepts: each far above every published model (the largest
 * vocabularies are ~256 Ki tokens, the deepest models ~128 layers, the widest 16 Ki hidden), and low
 * enough that the tensor list, the vocabulary and the header stay small in memory. A value beyond
 * them is a typo, not a model: it is refused before anything is allocated.
 */
export const SYNTH_SHAPE_LIMITS: Readonly<Record<SizedField, { min: number; max: number }>> = {
  vocabSize: { min: 260, max: 2 ** 20 },
  embeddingLength: { min: 32, max: 65_536 },
  blockCount: { min: 1, max: 1024 },
  feedForwardLength: { min: 1, max: 2 ** 20 },
  headCount: { min: 1, max: 1024 },
  headCountKv: { min: 1, max: 1024 },
  headDim: { min: 2, max: 1024 },
  contextLength: { min: 1, max: 2 ** 24 },
  expertCount: { min: 0, max: 1024 },
  expertUsedCount: { min: 0, max: 1024 },
  expertFeedForwardLength: { min: 0, max: 2 ** 20 },
};

type SizedField =
  | "vocabSize"
  | "embeddingLength"
  | "blockCount"
  | "feedForwardLength"
  | "headCount"
  | "headCountKv"
  | "headDim"
  | "contextLength"
  | "expertCount"
  | "expertUsedCount"
  | "expertFeedForwardLength";

/** The flag that sets each field on the command line, so messages name what the user typed. */
export const SHAPE_FIELD_FLAGS: Readonly<Record<SizedField, string>> = {
  vocabSize: "vocab",
  embeddingLength: "embd",
  blockCount: "layers",
  feedForwardLength: "ff",
  headCount: "heads",
  headCountKv: "kv-heads",
  headDim: "head-dim",
  contextLength: "ctx",
  expertCount: "experts",
  expertUsedCount: "experts-used",
  expertFeedForwardLength: "expert-ff",
};

/** Largest file synth writes: above every published model at F32 but DeepSeek-class ones. */
export const SYNTH_MAX_FILE_BYTES = 2 ** 40;

/** Free space kept beyond the file itself, so a synth never fills a disk to the last block. */
const DISK_MARGIN_BYTES = 256 * 2 ** 20;

/**
 * Throws SYNTH_INVALID_SHAPE when a sized field is not an integer in {@link SYNTH_SHAPE_LIMITS}.
 * Pure and allocation-free, so it runs before the tensor list is planned.
 */
export function checkShapeRanges(shape: ModelShape): void {
  for (const [field, { min, max }] of Object.entries(SYNTH_SHAPE_LIMITS) as [
    SizedField,
    { min: number; max: number },
  ][]) {
    const v: unknown = shape[field];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      const flag = SHAPE_FIELD_FLAGS[field];
      throw new TokbenchError(
        "SYNTH_INVALID_SHAPE",
        `invalid model shape: ${field} (--${flag}) must be an integer in ${min.toLocaleString("en-US")}..${max.toLocaleString("en-US")}, got ${String(v)}`,
        { context: { field, value: String(v) } },
      );
    }
  }
}

/** What writing a shape costs, computed from the plan before anything is written. */
export interface SynthCost {
  /** Size of the file: header estimate plus aligned tensor data. */
  readonly file_bytes: number;
  /** JavaScript heap the writer needs at its peak: vocabulary, tensor list, header, chunks. */
  readonly heap_bytes: number;
}

/**
 * Estimates the file size and heap of a synth. The header dominates the heap: one JavaScript string
 * per vocabulary piece (~64 bytes with its array slot), the encoded header (~40 bytes a token) and
 * ~1 KiB per tensor for its plan, spec and header entry; chunks are 1 MiB of values plus their
 * encoding, per worker and two in flight.
 */
export function estimateSynthCost(
  vocabSize: number,
  tensorCount: number,
  tensorDataBytes: number,
  threads: number,
): SynthCost {
  const headerBytes = 64 * 1024 + vocabSize * 40 + tensorCount * 128;
  return {
    file_bytes: headerBytes + tensorDataBytes,
    heap_bytes: vocabSize * (64 + 40) + tensorCount * 1024 + (threads + 2) * 3 * 2 ** 20,
  };
}

/**
 * Refuses a synth whose file would exceed {@link SYNTH_MAX_FILE_BYTES} or the free space of the
 * file system that will hold it, or whose writer would not fit in what is left of the JavaScript
 * heap: SYNTH_TOO_LARGE, before a byte is written. `directory` is where the file goes.
 */
export async function checkSynthFits(cost: SynthCost, directory: string): Promise<void> {
  if (cost.file_bytes > SYNTH_MAX_FILE_BYTES) {
    throw new TokbenchError(
      "SYNTH_TOO_LARGE",
      `this shape makes a ${formatBytes(cost.file_bytes)} file, above synth's maximum of ${formatBytes(SYNTH_MAX_FILE_BYTES)}`,
      { context: { file_bytes: cost.file_bytes } },
    );
  }
  let free: number;
  try {
    const fs = await statfs(directory);
    free = fs.bavail * fs.bsize;
  } catch (cause) {
    throw new TokbenchError(
      "FILE_UNWRITABLE",
      `cannot write into ${directory}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`,
      { cause, context: { path: directory } },
    );
  }
  if (cost.file_bytes + DISK_MARGIN_BYTES > free) {
    throw new TokbenchError(
      "SYNTH_TOO_LARGE",
      `this shape makes a ${formatBytes(cost.file_bytes)} file; ${directory} has ${formatBytes(free)} free`,
      { context: { file_bytes: cost.file_bytes, free_bytes: free, path: directory } },
    );
  }
  const heap = getHeapStatistics();
  const heapLeft = heap.heap_size_limit - heap.used_heap_size;
  if (cost.heap_bytes > heapLeft) {
    throw new TokbenchError(
      "SYNTH_TOO_LARGE",
      `writing this shape needs about ${formatBytes(cost.heap_bytes)} of JavaScript heap; ${formatBytes(heapLeft)} is left (node --max-old-space-size raises it)`,
      { context: { heap_bytes: cost.heap_bytes, heap_left_bytes: heapLeft } },
    );
  }
}
