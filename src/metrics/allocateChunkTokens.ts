import type { ObservedChunk } from "../records/RequestObservation.js";

/**
 * Decides how many of `totalTokens` output tokens each token-bearing chunk carried.
 *
 * - When every chunk says its exact count (engine steps, logprobs), those counts are used.
 * - When the total equals the number of chunks, each chunk carried one token: the common case.
 * - When there are more tokens than chunks (servers that batch several tokens per event, for
 *   instance with speculative decoding), each chunk gets at least one token and the rest are shared
 *   in proportion to the chunk's text length, by the largest-remainder method, so the counts are
 *   integers that add up to the total exactly.
 * - When there are fewer tokens than chunks (a token's bytes split over two events), each chunk
 *   counts one: the gap structure is all the client can know.
 */
export function allocateChunkTokens(chunks: readonly ObservedChunk[], totalTokens: number): number[] {
  const n = chunks.length;
  if (n === 0) return [];
  if (chunks.every((c) => c.tokens !== null)) return chunks.map((c) => c.tokens ?? 0);
  if (totalTokens <= n) return chunks.map(() => 1);

  const extra = totalTokens - n;
  const totalChars = chunks.reduce((sum, c) => sum + Math.max(0, c.chars), 0);
  const shares = chunks.map((c) =>
    totalChars > 0 ? (extra * Math.max(0, c.chars)) / totalChars : extra / n,
  );
  const counts = shares.map((s) => 1 + Math.floor(s));
  let left = totalTokens - counts.reduce((a, b) => a + b, 0);
  // Largest remainder first; ties go to the earlier chunk so the result is deterministic.
  const order = shares.map((s, i) => ({ i, r: s - Math.floor(s) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (let k = 0; left > 0; k = (k + 1) % n, left--) {
    const slot = order[k];
    if (slot !== undefined) counts[slot.i] = (counts[slot.i] ?? 0) + 1;
  }
  return counts;
}
