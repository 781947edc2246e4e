import { performance } from "node:perf_hooks";
import {
  type Api,
  type AssistantMessageEventStream,
  type Context,
  createAssistantMessageEventStream,
  type Model,
  type SimpleStreamOptions,
} from "@mariozechner/pi-ai";
import { OpenAiTarget, type RequestObservation } from "tokbench";
import type { ArrivalKind } from "../record/CallTracker.js";
import { chatBody } from "./chatBody.js";
import { PiEventWriter } from "./PiEventWriter.js";

/** The pi API name of the provider: set `"api": "tokbench-openai-completions"` on a model in models.json. */
export const TOKBENCH_API = "tokbench-openai-completions";

/** Where the provider hands each call's socket-level observation. */
export type ObservationSink = (observation: RequestObservation, kinds: readonly ArrivalKind[]) => void;

/**
 * A pi stream function for OpenAI-compatible local servers (llama.cpp's llama-server first) that
 * sends through tokbench's own HTTP client (`OpenAiTarget.sendBody`): every socket read is
 * timestamped as it comes, llama.cpp's `timings` (with `draft_n` / `draft_n_accepted` under
 * speculative decoding) are kept, and the observation goes to `sink` before pi hears the end of
 * the call, so the call's record is exact rather than what pi's events allow.
 *
 * Connections are kept alive per server, API key and headers; {@link close} drops them.
 */
export class TokbenchProvider {
  private readonly sink: ObservationSink;
  private readonly targets = new Map<string, OpenAiTarget>();

  constructor(sink: ObservationSink) {
    this.sink = sink;
  }

  /** pi's `streamSimple`. */
  readonly streamSimple = (
    model: Model<Api>,
    context: Context,
    options?: SimpleStreamOptions,
  ): AssistantMessageEventStream => {
    const stream = createAssistantMessageEventStream();
    const writer = new PiEventWriter(model, stream);
    void this.run(model, context, options, stream, writer);
    return stream;
  };

  /** Drops every kept-alive connection. */
  close(): void {
    for (const target of this.targets.values()) void target.close();
    this.targets.clear();
  }

  private async run(
    model: Model<Api>,
    context: Context,
    options: SimpleStreamOptions | undefined,
    stream: AssistantMessageEventStream,
    writer: PiEventWriter,
  ): Promise<void> {
    const output = writer.output;
    try {
      let body: unknown = chatBody(model, context, options);
      const plannedAt = performance.now();
      // pi's before_provider_request: extensions (this one included) see, and may replace, the payload.
      const replaced = await options?.onPayload?.(body, model);
      if (replaced !== undefined) body = replaced;
      const observation = await this.target(model, options).sendBody(body as Record<string, unknown>, {
        planned_at_ms: plannedAt,
        signal: options?.signal,
        onResponse: (status, contentType) => {
          void options?.onResponse?.(
            { status, headers: contentType === null ? {} : { "content-type": contentType } },
            model,
          );
          if (status < 400) writer.start();
        },
        onChunk: (value) => writer.chunk(value),
      });
      writer.finish();
      this.sink(observation, writer.kinds);
      if (observation.error !== null) {
        output.stopReason = options?.signal?.aborted === true ? "aborted" : "error";
        output.errorMessage = observation.error.message;
        stream.push({ type: "error", reason: output.stopReason, error: output });
      } else {
        const reason =
          output.stopReason === "length" || output.stopReason === "toolUse" ? output.stopReason : "stop";
        stream.push({ type: "done", reason, message: output });
      }
    } catch (error) {
      output.stopReason = options?.signal?.aborted === true ? "aborted" : "error";
      output.errorMessage = error instanceof Error ? error.message : String(error);
      stream.push({ type: "error", reason: output.stopReason, error: output });
    }
    stream.end();
  }

  private target(model: Model<Api>, options: SimpleStreamOptions | undefined): OpenAiTarget {
    const headers = Object.entries({ ...model.headers, ...options?.headers });
    const key = JSON.stringify([model.baseUrl, options?.apiKey ?? null, headers]);
    let target = this.targets.get(key);
    if (target === undefined) {
      target = new OpenAiTarget({
        baseUrl: model.baseUrl,
        model: model.id,
        apiKey: options?.apiKey ?? null,
        headers,
        timeoutMs: options?.timeoutMs ?? 600_000,
        // Counting tokens after the stream would hold pi's answer back; llama.cpp reports usage.
        tokenizeOutput: false,
      });
      this.targets.set(key, target);
    }
    return target;
  }
}
