/** llama.cpp architectures tokbench can synthesize. */
export const SYNTH_ARCHITECTURES = ["llama", "qwen2", "qwen3", "qwen3moe"] as const;

/** A synthesizable llama.cpp architecture name (`general.architecture`). */
export type SynthArchitecture = (typeof SYNTH_ARCHITECTURES)[number];

/**
 * The shape of a decoder-only transformer, in the terms of a Hugging Face `config.json`.
 * Every size the weights depend on is here, so the tensor list (and the parameter count) follows.
 */
export interface ModelShape {
  /** llama.cpp architecture. */
  readonly architecture: SynthArchitecture;
  /** Vocabulary size (`vocab_size`). */
  readonly vocabSize: number;
  /** Hidden size (`hidden_size`). */
  readonly embeddingLength: number;
  /** Number of transformer blocks (`num_hidden_layers`). */
  readonly blockCount: number;
  /** Dense FFN inner size (`intermediate_size`); for all-MoE models it is metadata only. */
  readonly feedForwardLength: number;
  /** Attention heads (`num_attention_heads`). */
  readonly headCount: number;
  /** Key/value heads (`num_key_value_heads`); smaller than headCount for grouped-query attention. */
  readonly headCountKv: number;
  /** Per-head dimension (`head_dim`); hidden size / heads unless the config says otherwise. */
  readonly headDim: number;
  /** Training context length (`max_position_embeddings`). */
  readonly contextLength: number;
  /** RMSNorm epsilon (`rms_norm_eps`). */
  readonly rmsNormEps: number;
  /** RoPE base frequency (`rope_theta`). */
  readonly ropeFreqBase: number;
  /** True when the output projection reuses the token embedding (`tie_word_embeddings`). */
  readonly tiedEmbeddings: boolean;
  /** True when q, k and v projections have biases (Qwen2). */
  readonly qkvBias: boolean;
  /** True when queries and keys get a per-head RMSNorm (Qwen3). */
  readonly qkNorm: boolean;
  /** Experts per MoE layer (`num_experts`); 0 for dense models. */
  readonly expertCount: number;
  /** Experts routed per token (`num_experts_per_tok`); 0 for dense models. */
  readonly expertUsedCount: number;
  /** Inner size of one expert (`moe_intermediate_size`); 0 for dense models. */
  readonly expertFeedForwardLength: number;
}
