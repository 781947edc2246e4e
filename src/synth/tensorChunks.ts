import type { GgmlTypeInfo } from "../gguf/GgmlType.js";
import { rowEncoderFor } from "../gguf/quantizeRow.js";
import type { PlannedTensor } from "./planTensors.js";
import { shapeElements } from "./planTensors.js";

/** Elements generated per chunk: 1 MiB of float32, whatever the tensor size. */
const CHUNK_ELEMENTS = 1 << 18;

/** FNV-1a of the tensor name mixed with the seed, so each tensor's stream is independent of order. */
export function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= Math.imul(seed >>> 0, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h ^= h >>> 13;
  return h === 0 ? 0x6d2b79f5 : h;
}

/**
 * Yields the encoded bytes of a synthetic tensor chunk by chunk: values come from a xorshift32
 * stream seeded by (seed, name), are encoded block by block, and the two chunk buffers are reused,
 * so memory stays at a few MiB for any tensor size.
 */
export function* tensorChunks(
  tensor: PlannedTensor,
  type: GgmlTypeInfo,
  seed: number,
): Generator<Uint8Array> {
  const encode = rowEncoderFor(type.name);
  if (encode === undefined) throw new RangeError(`no encoder for ggml type ${type.name}`);
  const elements = shapeElements(tensor.shape);
  const chunk = Math.min(CHUNK_ELEMENTS, elements);
  const src = new Float32Array(chunk);
  const out = new Uint8Array(Math.ceil(chunk / type.blockSize) * type.typeSize);
  let state = tensorSeed(seed, tensor.name);
  const init = tensor.init;
  if (init.kind === "ones") src.fill(1);
  const factor = init.kind === "uniform" ? init.scale / 2147483648 : 0;
  for (let done = 0; done < elements; done += chunk) {
    const n = Math.min(chunk, elements - done);
    if (init.kind === "uniform") {
      let s = state;
      for (let i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >>> 17;
        s ^= s << 5;
        src[i] = s * factor;
      }
      state = s;
    }
    encode(src, n, out, 0);
    yield out.subarray(0, (n / type.blockSize) * type.typeSize);
  }
}
