import type { ModelShape } from "../../src/synth/ModelShape.js";

/**
 * A dense llama shape big enough that one decode step costs milliseconds (30 MB at Q4_0), so clocks
 * a few microseconds apart compare well; shared by the engine tests.
 */
export const MEDIUM_DENSE_SHAPE: Partial<ModelShape> = {
  embeddingLength: 1024,
  blockCount: 4,
  feedForwardLength: 2816,
  headCount: 16,
  headCountKv: 4,
  headDim: 64,
};
