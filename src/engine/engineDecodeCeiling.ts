import { ggmlTypeById, ggmlTypeByName } from "../gguf/GgmlType.js";
import { decodeCeiling } from "../roofline/rooflineMath.js";
import type { EngineGridPoint } from "./EngineGrid.js";
import type { EngineModelInfo } from "./EngineModelInfo.js";
import type { InspectedModelFile } from "./loadEngineModel.js";
import type { DecodeCeiling } from "./runLlamaBench.js";

/**
 * Weight bytes one decoded token streams: every tensor once, except the token embedding table, of
 * which only one row is read.
 */
export function weightBytesPerToken(file: InspectedModelFile): number {
  let bytes = 0;
  for (const tensor of file.gguf.fullTensorInfo ?? []) {
    const type = ggmlTypeById(Number(tensor.ggmlType));
    if (type === undefined) continue;
    const dims = tensor.dimensions.map(Number);
    const elements = dims.reduce((n, d) => n * d, 1);
    const tensorBytes = (elements / type.blockSize) * type.typeSize;
    const rows = dims.slice(1).reduce((n, d) => n * d, 1);
    bytes += tensor.name === "token_embd.weight" ? tensorBytes / Math.max(1, rows) : tensorBytes;
  }
  return bytes;
}

/**
 * A {@link DecodeCeiling} from the roofline: bandwidth / (weight bytes + KV bytes × cached tokens),
 * with the cache at the test's mean fill (depth + half the generated tokens).
 */
export function engineDecodeCeiling(
  file: InspectedModelFile,
  bandwidthBytesPerSecond: number,
): DecodeCeiling {
  const weights = weightBytesPerToken(file);
  return (model: EngineModelInfo, point: EngineGridPoint & { n_depth: number }) => {
    const headDim = model.n_head > 0 ? model.n_embd / model.n_head : model.n_embd;
    const perElement = (name: string) => {
      const t = ggmlTypeByName(name);
      return t === undefined ? 2 : t.typeSize / t.blockSize;
    };
    const kvPerToken =
      model.n_layer * model.n_head_kv * headDim * (perElement(point.type_k) + perElement(point.type_v));
    return decodeCeiling({
      weightBytesPerToken: weights,
      kvBytesPerToken: kvPerToken,
      contextLength: point.n_depth,
      bandwidthBytesPerSecond,
    }).tokens_per_second;
  };
}
