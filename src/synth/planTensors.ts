import type { ModelShape } from "./ModelShape.js";

/** How a synthetic tensor's values are drawn. */
export type TensorInit =
  /** All ones: RMSNorm weights, so activations keep their scale. */
  | { readonly kind: "ones" }
  /** Uniform in [-scale, scale]. */
  | { readonly kind: "uniform"; readonly scale: number };

/** One tensor of a model, in GGUF naming and shape order (`shape[0]` is the row length). */
export interface PlannedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  /** True for matrices (2-D and 3-D expert stacks): they take the requested type; vectors stay F32. */
  readonly quantizable: boolean;
  readonly init: TensorInit;
}

/**
 * The tensors llama.cpp expects for `shape`, named as in GGUF (`blk.N.attn_q.weight`), in the order
 * llama.cpp's converter writes them. Pure: computing a 30B model's list writes nothing.
 */
export function planTensors(shape: ModelShape): PlannedTensor[] {
  const e = shape.embeddingLength;
  const qDim = shape.headCount * shape.headDim;
  const kvDim = shape.headCountKv * shape.headDim;
  // Init scale ~ 1/sqrt(fan-in), kept small so random residual streams stay far from f16 overflow.
  const matrix = (name: string, dims: number[]): PlannedTensor => ({
    name,
    shape: dims,
    quantizable: true,
    init: { kind: "uniform", scale: 0.5 / Math.sqrt(dims[0] as number) },
  });
  const norm = (name: string, n: number): PlannedTensor => ({
    name,
    shape: [n],
    quantizable: false,
    init: { kind: "ones" },
  });
  const bias = (name: string, n: number): PlannedTensor => ({
    name,
    shape: [n],
    quantizable: false,
    init: { kind: "uniform", scale: 0.02 },
  });

  const tensors: PlannedTensor[] = [];
  tensors.push({
    name: "token_embd.weight",
    shape: [e, shape.vocabSize],
    quantizable: true,
    init: { kind: "uniform", scale: 0.05 },
  });
  for (let i = 0; i < shape.blockCount; i++) {
    const p = `blk.${i}.`;
    tensors.push(norm(`${p}attn_norm.weight`, e));
    tensors.push(matrix(`${p}attn_q.weight`, [e, qDim]));
    if (shape.qkvBias) tensors.push(bias(`${p}attn_q.bias`, qDim));
    tensors.push(matrix(`${p}attn_k.weight`, [e, kvDim]));
    if (shape.qkvBias) tensors.push(bias(`${p}attn_k.bias`, kvDim));
    tensors.push(matrix(`${p}attn_v.weight`, [e, kvDim]));
    if (shape.qkvBias) tensors.push(bias(`${p}attn_v.bias`, kvDim));
    if (shape.qkNorm) {
      tensors.push(norm(`${p}attn_q_norm.weight`, shape.headDim));
      tensors.push(norm(`${p}attn_k_norm.weight`, shape.headDim));
    }
    tensors.push(matrix(`${p}attn_output.weight`, [qDim, e]));
    tensors.push(norm(`${p}ffn_norm.weight`, e));
    if (shape.expertCount > 0) {
      const f = shape.expertFeedForwardLength;
      const n = shape.expertCount;
      // llama-quantize keeps the router in F32 (it is tiny and precision-sensitive); so do we.
      tensors.push({ ...matrix(`${p}ffn_gate_inp.weight`, [e, n]), quantizable: false });
      tensors.push(matrix(`${p}ffn_gate_exps.weight`, [e, f, n]));
      tensors.push(matrix(`${p}ffn_down_exps.weight`, [f, e, n]));
      tensors.push(matrix(`${p}ffn_up_exps.weight`, [e, f, n]));
    } else {
      const f = shape.feedForwardLength;
      tensors.push(matrix(`${p}ffn_gate.weight`, [e, f]));
      tensors.push(matrix(`${p}ffn_down.weight`, [f, e]));
      tensors.push(matrix(`${p}ffn_up.weight`, [e, f]));
    }
  }
  tensors.push(norm("output_norm.weight", e));
  if (!shape.tiedEmbeddings) tensors.push(matrix("output.weight", [e, shape.vocabSize]));
  return tensors;
}

/** Number of elements of a tensor shape. */
export function shapeElements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Parameter count of a model shape: the sum of its tensors' elements (tied embeddings count once). */
export function countParameters(shape: ModelShape): number {
  return planTensors(shape).reduce((sum, t) => sum + shapeElements(t.shape), 0);
}
