import { Worker } from "node:worker_threads";
import { TokbenchError } from "../errors/TokbenchError.js";
import type { SynthChunkJob } from "./tensorChunks.js";

/** Message to a synth worker: a chunk to encode, with an optional buffer to encode it into. */
export interface SynthWorkerRequest {
  readonly id: number;
  readonly job: SynthChunkJob;
  /** A free buffer handed back for reuse (transferred); the worker allocates when absent or small. */
  readonly buffer?: ArrayBuffer;
}

/** A synth worker's answer: the encoded bytes at the start of `buffer`, or why it failed. */
export type SynthWorkerReply =
  | { readonly id: number; readonly buffer: ArrayBuffer }
  | { readonly id: number; readonly error: string };

interface Task {
  readonly request: SynthWorkerRequest;
  readonly resolve: (bytes: Uint8Array) => void;
  readonly reject: (error: Error) => void;
}

/**
 * A fixed set of worker threads encoding synthetic chunks. Chunks are pure functions of their job,
 * so the order of completion never changes the bytes; {@link encodeInOrder} restores file order.
 * Always {@link close} it (in a `finally`): the workers keep the process alive until then.
 */
export class SynthWorkerPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Task[] = [];
  private readonly running = new Map<Worker, Task>();
  private failure: Error | undefined;
  private closing = false;
  private nextId = 0;

  /** Starts `size` workers (at least 1). */
  constructor(size: number) {
    const url = new URL("./synthWorker.js", import.meta.url);
    for (let i = 0; i < Math.max(1, size); i++) {
      let worker: Worker;
      try {
        worker = new Worker(url);
      } catch (error) {
        // No pool to close on the caller's side: end the workers already started here.
        this.closing = true;
        for (const started of this.workers) void started.terminate();
        throw new TokbenchError("INTERNAL", `cannot start synth worker: ${(error as Error).message}`, {
          cause: error,
        });
      }
      worker.on("message", (reply: SynthWorkerReply) => this.onReply(worker, reply));
      worker.on("error", (error) =>
        this.fail(new TokbenchError("INTERNAL", `synth worker crashed: ${error.message}`, { cause: error })),
      );
      worker.on("exit", (code) => {
        if (!this.closing) this.fail(new TokbenchError("INTERNAL", `synth worker exited with code ${code}`));
      });
      this.workers.push(worker);
      this.idle.push(worker);
    }
  }

  /** Number of workers. */
  get size(): number {
    return this.workers.length;
  }

  /** Encodes one chunk on the next free worker; `buffer` (transferred) is reused when big enough. */
  encode(job: SynthChunkJob, buffer?: ArrayBuffer): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      if (this.failure !== undefined) {
        reject(this.failure);
        return;
      }
      const request: SynthWorkerRequest =
        buffer === undefined ? { id: this.nextId++, job } : { id: this.nextId++, job, buffer };
      this.queue.push({ request, resolve, reject });
      this.dispatch();
    });
  }

  /**
   * Encodes `jobs` with at most `window` chunks queued or running ahead of the consumer, yielding
   * their bytes in job order. A yielded chunk is valid until the next one is requested (its buffer
   * then goes back to the workers), so memory stays at about `window + 1` chunks.
   */
  async *encodeInOrder(jobs: Iterable<SynthChunkJob>, window: number): AsyncGenerator<Uint8Array> {
    const pending = jobs[Symbol.iterator]();
    const ahead: Promise<Uint8Array>[] = [];
    const free: ArrayBuffer[] = [];
    const fill = (): void => {
      while (ahead.length < window) {
        const next = pending.next();
        if (next.done === true) return;
        const promise = this.encode(next.value, free.pop());
        // Awaited in order below; this only keeps a failure of a chunk further ahead from being
        // reported as unhandled when an earlier one fails first.
        promise.catch(() => undefined);
        ahead.push(promise);
      }
    };
    fill();
    let previous: Uint8Array | undefined;
    for (;;) {
      if (previous !== undefined) free.push(previous.buffer as ArrayBuffer);
      const promise = ahead.shift();
      if (promise === undefined) return;
      previous = await promise;
      fill();
      yield previous;
    }
  }

  /** Terminates every worker; pending chunks fail. Safe to call more than once. */
  async close(): Promise<void> {
    this.closing = true;
    this.fail(new TokbenchError("INTERNAL", "synth worker pool closed"));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private dispatch(): void {
    for (;;) {
      const worker = this.idle.pop();
      if (worker === undefined) return;
      const task = this.queue.shift();
      if (task === undefined) {
        this.idle.push(worker);
        return;
      }
      this.running.set(worker, task);
      const buffer = task.request.buffer;
      worker.postMessage(task.request, buffer === undefined ? [] : [buffer]);
    }
  }

  private onReply(worker: Worker, reply: SynthWorkerReply): void {
    const task = this.running.get(worker);
    this.running.delete(worker);
    this.idle.push(worker);
    if (task !== undefined) {
      if ("error" in reply) {
        this.fail(new TokbenchError("INTERNAL", `synth worker failed: ${reply.error}`));
        task.reject(this.failure as Error);
      } else {
        task.resolve(new Uint8Array(reply.buffer, 0, task.request.job.bytes));
      }
    }
    this.dispatch();
  }

  /** The first failure wins; every queued and running chunk fails with it. */
  private fail(error: Error): void {
    this.failure ??= error;
    for (const task of this.queue.splice(0)) task.reject(this.failure);
    for (const task of this.running.values()) task.reject(this.failure);
    this.running.clear();
  }
}
