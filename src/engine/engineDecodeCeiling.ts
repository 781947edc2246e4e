import { ggmlTypeByName } from "../gguf/GgmlType.js";
import type { ModelInspection } from "../gguf/inspectModel.js";
import { decodeCeiling } from "../roofline/rooflineMath.js";
import type { EngineGridPoint } from "./EngineGrid.js";
import type { EngineModelInfo } from "./EngineModelInfo.js";
import type { DecodeCeiling } from "./runLlamaBench.js";

const bytesPerElement = (type: string): number => {
  const t = ggmlTypeByName(type);
  return t === undefined ? 2 : t.typeSize / t.blockSize;
};

/**
 * A {@link DecodeCeiling} from the roofline: bandwidth / (active weight bytes + KV bytes × cached
 * tokens), with the weights read per token as `inspect` counts them (one embedding row, only the
 * active MoE experts) and the KV cache in the grid point's K and V types.
 *
 * No ceiling (null) when a token's bytes fit in the CPU's last-level cache: the model then runs
 * from cache, and the memory bound does not limit it.
 */
export function engineDecodeCeiling(
  inspection: ModelInspection,
  bandwidthBytesPerSecond: number,
  cacheBytes: number | null,
): DecodeCeiling {
  const hp = inspection.hyperparameters;
  const layers = hp.block_count ?? 0;
  const kvHeads = hp.head_count_kv ?? hp.head_count ?? 0;
  const headDim = hp.embedding_length !== null && hp.head_count ? hp.embedding_length / hp.head_count : 0;
  const kElements = layers * kvHeads * (hp.key_length ?? headDim);
  const vElements = layers * kvHeads * (hp.value_length ?? headDim);
  return (_model: EngineModelInfo, point: EngineGridPoint & { n_depth: number }) => {
    const kvPerToken = kElements * bytesPerElement(point.type_k) + vElements * bytesPerElement(point.type_v);
    const ceiling = decodeCeiling({
      weightBytesPerToken: inspection.bytes_per_token.total_bytes,
      kvBytesPerToken: kvPerToken,
      contextLength: point.n_depth,
      bandwidthBytesPerSecond,
    });
    if (cacheBytes !== null && ceiling.bytes_per_token <= cacheBytes) return null;
    return ceiling.tokens_per_second;
  };
}
