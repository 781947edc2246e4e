import type { ModelShape } from "./ModelShape.js";

/** A named model shape, with the published size of the real model it copies. */
export interface ModelPreset {
  /** Name used on the command line (`--preset`). */
  readonly name: string;
  /** Hugging Face repository of the real model, or a note for tokbench-only shapes. */
  readonly realModel: string;
  /** One-line description. */
  readonly description: string;
  /**
   * Parameter count of the real model as published (the safetensors total of its Hugging Face
   * repository, which equals the sum over its config.json shapes). Tests check the synthesized
   * tensor list against it exactly. Null for tokbench's own test shapes.
   */
  readonly publishedParameters: number | null;
  /** The shape. */
  readonly shape: ModelShape;
}

const DENSE = {
  qkvBias: false,
  qkNorm: false,
  expertCount: 0,
  expertUsedCount: 0,
  expertFeedForwardLength: 0,
};

/*
 * Reference counts, from each model's config.json:
 * - Llama-3.2-1B: 128256×2048 embedding (tied) + 16 × (q 2048² + k,v 2048×512 + o 2048² + 3 × 2048×8192
 *   + 2 norms) + final norm = 1,235,814,400.
 * - Llama-3.1-8B: 2 × 128256×4096 (untied) + 32 × (q 4096² + k,v 4096×1024 + o 4096² + 3 × 4096×14336
 *   + 2 norms) + final norm = 8,030,261,248.
 * - Qwen2.5-0.5B: 151936×896 (tied) + 24 × (q 896² + 896 bias, k,v 896×128 + 128 bias each, o 896²,
 *   3 × 896×4864, 2 norms) + final norm = 494,032,768.
 * - Qwen3-30B-A3B: 2 × 151936×2048 (untied) + 48 × (q 2048×4096, k,v 2048×512, o 4096×2048, q/k norms 128,
 *   2 norms, router 2048×128, 128 experts × 3 × 2048×768) + final norm = 30,532,122,624.
 */
const PRESETS: readonly ModelPreset[] = [
  {
    name: "tiny",
    realModel: "(tokbench test model)",
    description: "Llama-architecture toy model of a few MB, for tests and smoke runs",
    publishedParameters: null,
    shape: {
      architecture: "llama",
      vocabSize: 4096,
      embeddingLength: 256,
      blockCount: 4,
      feedForwardLength: 768,
      headCount: 8,
      headCountKv: 4,
      headDim: 32,
      contextLength: 4096,
      rmsNormEps: 1e-5,
      ropeFreqBase: 10000,
      tiedEmbeddings: false,
      ...DENSE,
    },
  },
  {
    name: "tiny-moe",
    realModel: "(tokbench test model)",
    description: "Qwen3-MoE-architecture toy model (8 experts, 2 active), for MoE tests",
    publishedParameters: null,
    shape: {
      architecture: "qwen3moe",
      vocabSize: 4096,
      embeddingLength: 256,
      blockCount: 2,
      feedForwardLength: 768,
      headCount: 8,
      headCountKv: 4,
      headDim: 32,
      contextLength: 4096,
      rmsNormEps: 1e-6,
      ropeFreqBase: 1_000_000,
      tiedEmbeddings: false,
      qkvBias: false,
      qkNorm: true,
      expertCount: 8,
      expertUsedCount: 2,
      expertFeedForwardLength: 128,
    },
  },
  {
    name: "llama-3.2-1b",
    realModel: "meta-llama/Llama-3.2-1B",
    description: "Llama 3.2 1B: 16 layers, GQA 32/8, tied embeddings",
    publishedParameters: 1_235_814_400,
    shape: {
      architecture: "llama",
      vocabSize: 128_256,
      embeddingLength: 2048,
      blockCount: 16,
      feedForwardLength: 8192,
      headCount: 32,
      headCountKv: 8,
      headDim: 64,
      contextLength: 131_072,
      rmsNormEps: 1e-5,
      ropeFreqBase: 500_000,
      tiedEmbeddings: true,
      ...DENSE,
    },
  },
  {
    name: "llama-3.1-8b",
    realModel: "meta-llama/Llama-3.1-8B",
    description: "Llama 3.1 8B: 32 layers, GQA 32/8",
    publishedParameters: 8_030_261_248,
    shape: {
      architecture: "llama",
      vocabSize: 128_256,
      embeddingLength: 4096,
      blockCount: 32,
      feedForwardLength: 14_336,
      headCount: 32,
      headCountKv: 8,
      headDim: 128,
      contextLength: 131_072,
      rmsNormEps: 1e-5,
      ropeFreqBase: 500_000,
      tiedEmbeddings: false,
      ...DENSE,
    },
  },
  {
    name: "qwen2.5-0.5b",
    realModel: "Qwen/Qwen2.5-0.5B",
    description: "Qwen2.5 0.5B: 24 layers, GQA 14/2, qkv biases, tied embeddings",
    publishedParameters: 494_032_768,
    shape: {
      architecture: "qwen2",
      vocabSize: 151_936,
      embeddingLength: 896,
      blockCount: 24,
      feedForwardLength: 4864,
      headCount: 14,
      headCountKv: 2,
      headDim: 64,
      contextLength: 32_768,
      rmsNormEps: 1e-6,
      ropeFreqBase: 1_000_000,
      tiedEmbeddings: true,
      qkvBias: true,
      qkNorm: false,
      expertCount: 0,
      expertUsedCount: 0,
      expertFeedForwardLength: 0,
    },
  },
  {
    name: "qwen3-30b-a3b",
    realModel: "Qwen/Qwen3-30B-A3B",
    description: "Qwen3 30B-A3B mixture of experts: 48 layers, 128 experts, 8 active",
    publishedParameters: 30_532_122_624,
    shape: {
      architecture: "qwen3moe",
      vocabSize: 151_936,
      embeddingLength: 2048,
      blockCount: 48,
      feedForwardLength: 6144,
      headCount: 32,
      headCountKv: 4,
      headDim: 128,
      contextLength: 40_960,
      rmsNormEps: 1e-6,
      ropeFreqBase: 1_000_000,
      tiedEmbeddings: false,
      qkvBias: false,
      qkNorm: true,
      expertCount: 128,
      expertUsedCount: 8,
      expertFeedForwardLength: 768,
    },
  },
];

/** All presets, smallest first. */
export function listPresets(): readonly ModelPreset[] {
  return PRESETS;
}

/** The preset of this name (case-insensitive), or undefined. */
export function findPreset(name: string): ModelPreset | undefined {
  const lower = name.toLowerCase();
  return PRESETS.find((p) => p.name === lower);
}
