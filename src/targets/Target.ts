import type { RequestObservation } from "../records/RequestObservation.js";

/** One request of a workload, as the load generator hands it to a target. */
export interface WorkloadRequest {
  /** Chat messages (chat API) or a single prompt (completions API); targets use whichever they need. */
  messages: { role: "system" | "user" | "assistant"; content: string }[];
  /** The prompt as plain text (the concatenated messages for completions-style APIs). */
  prompt: string;
  /** Prompt length in tokens as the workload built it; null when unknown. */
  prompt_tokens: number | null;
  /** Whether `prompt_tokens` is exact (counted with the server's or model's tokenizer). */
  prompt_tokens_exact: boolean;
  /**
   * Position (in prompt tokens, not counting any chat template) from which this prompt shares
   * nothing with other requests: the start of its unique prefix. A server's cache may legitimately
   * hold the template and the tokens before it, but no more. Null or absent when unknown. Defaults to null.
   */
  unique_from_token?: number | null;
  /** Tokens to generate. */
  max_tokens: number;
  /** Ask the server to generate exactly `max_tokens` (`ignore_eos`, `min_tokens`) where it can. */
  force_output_length: boolean;
}

/** Options of a single send. */
export interface SendOptions {
  /** Planned send time on the run clock, recorded as-is in the observation. */
  planned_at_ms: number;
  /** Aborts the request (run stopped); the observation then carries a cut-stream error. */
  signal?: AbortSignal;
}

/**
 * Something that serves generation requests and can be measured: an OpenAI-compatible server, an
 * Ollama server, or the embedded engine. A target never throws for a request that failed: it
 * returns an observation carrying the error, so failures are data.
 */
export interface Target {
  /** Short name for output, e.g. `openai-chat`, `ollama`, `embedded`. */
  readonly kind: string;
  /** Sends one request and observes its stream. */
  send(request: WorkloadRequest, options: SendOptions): Promise<RequestObservation>;
  /**
   * Counts tokens with the target's own tokenizer (llama.cpp/vLLM `/tokenize`, the embedded model),
   * or returns null when the target has none.
   */
  countTokens(text: string): Promise<number | null>;
  /**
   * Checks, before a run, that the target answers at all, so an unreachable server or a wrong URL
   * is one clear `TARGET_UNREACHABLE` error rather than a run of failed requests. Optional.
   */
  assertReachable?(): Promise<void>;
  /** Releases connections and resources. */
  close(): Promise<void>;
}
