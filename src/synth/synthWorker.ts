/*
 * Worker-thread entry of {@link SynthWorkerPool}: encodes synthetic chunks and posts the bytes back
 * (transferred, not copied). Loaded by URL, never imported.
 */
import { parentPort } from "node:worker_threads";
import type { SynthWorkerReply, SynthWorkerRequest } from "./SynthWorkerPool.js";
import { createChunkScratch, encodeChunk } from "./tensorChunks.js";

const port = parentPort;
if (port !== null) {
  const scratch = createChunkScratch();
  port.on("message", (request: SynthWorkerRequest) => {
    let reply: SynthWorkerReply;
    try {
      // Reuse the buffer the main thread handed back when it is big enough: no allocation per chunk.
      const recycled = request.buffer;
      const buffer =
        recycled !== undefined && recycled.byteLength >= request.job.bytes
          ? recycled
          : new ArrayBuffer(request.job.bytes);
      encodeChunk(request.job, new Uint8Array(buffer, 0, request.job.bytes), scratch);
      reply = { id: request.id, buffer };
      port.postMessage(reply, [buffer]);
    } catch (error) {
      reply = { id: request.id, error: error instanceof Error ? error.message : String(error) };
      port.postMessage(reply);
    }
  });
}
