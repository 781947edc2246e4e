import type {
  ExpertLayerUsage,
  ExpertRank,
  ExpertUsage,
  OverrideTensorAdvice,
} from "../../results/Observation.js";
import type { ObservedDecode } from "./GraphObserver.js";

/** Pairs listed as hot and as cold. */
const RANKED = 10;
/** Share of a layer's selections that `experts_for_80pct` covers. */
const CONCENTRATION_SHARE = 0.8;

/** Routing facts of a MoE model, from its GGUF. */
export interface MoeShape {
  n_layer: number;
  n_expert: number;
  n_expert_used: number;
  /** Layers with a router tensor (`blk.N.ffn_gate_inp.weight`). */
  moe_layers: readonly number[];
}

/**
 * Adds up the router's choices of observed decodes, prompt batches and generation steps apart, and
 * turns them into {@link ExpertUsage}: per-layer counts, hot and cold (layer, expert) pairs, and the
 * llama.cpp tensor placement they suggest.
 */
export class ExpertUsageCounter {
  private readonly shape: MoeShape;
  private readonly prompt: Float64Array;
  private readonly generated: Float64Array;
  private readonly routed: Float64Array;
  private promptTokens = 0;
  private generatedTokens = 0;
  private badIds = 0;

  constructor(shape: MoeShape) {
    this.shape = shape;
    this.prompt = new Float64Array(shape.n_layer * shape.n_expert);
    this.generated = new Float64Array(shape.n_layer * shape.n_expert);
    this.routed = new Float64Array(shape.n_layer);
  }

  /** Counts one observed decode of a prompt batch (`prefill`) or a generation step (`decode`). */
  add(decode: ObservedDecode, phase: "prefill" | "decode"): void {
    if (decode.expert_counts === null || decode.tokens_routed === null) return;
    const into = phase === "prefill" ? this.prompt : this.generated;
    for (let i = 0; i < into.length; i++) into[i] = (into[i] as number) + (decode.expert_counts[i] ?? 0);
    for (let l = 0; l < this.routed.length; l++) {
      this.routed[l] = (this.routed[l] as number) + (decode.tokens_routed[l] ?? 0);
    }
    if (phase === "prefill") this.promptTokens += decode.n_tokens;
    else this.generatedTokens += decode.n_tokens;
    this.badIds += decode.bad_ids;
  }

  /** Expert ids the observer could not count (outside the expert range); 0 in a sound run. */
  get unreadable(): number {
    return this.badIds;
  }

  /** The usage so far. Layers without any routed token (dense layers) are left out. */
  summary(): ExpertUsage {
    const { n_expert: nExpert, n_expert_used: nUsed } = this.shape;
    const layers: ExpertLayerUsage[] = [];
    for (let layer = 0; layer < this.shape.n_layer; layer++) {
      const at = layer * nExpert;
      const prompt = Array.from(this.prompt.subarray(at, at + nExpert));
      const generated = Array.from(this.generated.subarray(at, at + nExpert));
      const counts = prompt.map((p, e) => p + (generated[e] as number));
      const selections = counts.reduce((a, b) => a + b, 0);
      const tokens = this.routed[layer] as number;
      if (tokens === 0 && selections === 0) continue;
      layers.push({
        layer,
        counts,
        prompt_counts: prompt,
        generated_counts: generated,
        tokens,
        selections,
        experts_for_80pct: expertsFor(counts, CONCENTRATION_SHARE),
      });
    }
    const pairs: ExpertRank[] = layers.flatMap((l) =>
      l.counts.map((count, expert) => ({
        layer: l.layer,
        expert,
        count,
        share_pct: l.selections > 0 ? (100 * count) / l.selections : 0,
        vs_uniform: l.selections > 0 ? (count * nExpert) / l.selections : 0,
      })),
    );
    const byCount = (a: ExpertRank, b: ExpertRank): number =>
      a.count - b.count || a.layer - b.layer || a.expert - b.expert;
    const hot = [...pairs].sort((a, b) => byCount(b, a)).slice(0, RANKED);
    const cold = [...pairs].sort(byCount).slice(0, RANKED);
    return {
      n_expert: nExpert,
      n_expert_used: nUsed,
      n_moe_layers: this.shape.moe_layers.length,
      prompt_tokens: this.promptTokens,
      generated_tokens: this.generatedTokens,
      total_selections: layers.reduce((a, l) => a + l.selections, 0),
      layers,
      hot,
      cold,
      override_tensor: overrideAdvice(layers),
    };
  }
}

/** Fewest experts whose counts add up to `share` of the total. */
function expertsFor(counts: readonly number[], share: number): number {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  const sorted = [...counts].sort((a, b) => b - a);
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) {
    sum += sorted[i] as number;
    if (sum >= share * total) return i + 1;
  }
  return sorted.length;
}

/**
 * Which layers' experts to keep on the CPU when the GPU cannot hold them all. llama.cpp places
 * tensors, and a layer's experts are one tensor per projection, so the choice is per layer. Every
 * layer sends each token to n_expert_used experts, so per generated token each layer's experts cost
 * the same wherever they sit; what differs is how concentrated the routing is. A layer whose tokens
 * go to few experts is the cheapest to leave on the CPU: those experts stay in the CPU caches and the
 * page cache, and for prompt batches llama.cpp's scheduler copies only the experts a batch uses to
 * the GPU. So layers are ranked most concentrated first, and the pattern covers the first half.
 */
function overrideAdvice(layers: readonly ExpertLayerUsage[]): OverrideTensorAdvice | null {
  if (layers.length === 0) return null;
  const ranked = [...layers].sort(
    (a, b) => a.experts_for_80pct - b.experts_for_80pct || topShare(b) - topShare(a) || a.layer - b.layer,
  );
  const cpuFirst = ranked.map((l) => l.layer);
  const cpuLayers = cpuFirst.slice(0, Math.max(1, Math.floor(cpuFirst.length / 2))).sort((a, b) => a - b);
  const pattern = `blk\\.(${cpuLayers.join("|")})\\.ffn_(up|gate|down)_exps\\.weight=CPU`;
  return {
    cpu_first: cpuFirst,
    cpu_layers: cpuLayers,
    pattern,
    argument: `-ngl 99 --override-tensor "${pattern}"`,
    note:
      "llama.cpp keeps each layer's experts in one tensor per projection, so it places whole layers' experts, " +
      "not single experts. These layers route their tokens to the fewest experts: on the CPU their hot experts " +
      "stay cached, and prompt batches copy the fewest experts to the GPU. Take more or fewer layers from " +
      "cpu_first to fit the GPU's memory.",
  };
}

/** Share of a layer's selections taken by its single most chosen expert. */
function topShare(l: ExpertLayerUsage): number {
  return l.selections > 0 ? Math.max(...l.counts) / l.selections : 0;
}
