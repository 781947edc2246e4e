/** What each request asks for. */
export interface WorkloadOptions {
  /** Prompt length in tokens for synthetic prompts (ignored with `prompt_file`). Defaults to 128. */
  prompt_tokens: number;
  /** JSONL file of prompts, used round-robin; null for synthetic prompts. Defaults to null. */
  prompt_file: string | null;
  /** Output tokens per request. Defaults to 128. */
  max_tokens: number;
  /** Ask the server to generate exactly `max_tokens` (`ignore_eos`, `min_tokens`). Defaults to true. */
  force_output_length: boolean;
  /** Unique words at the start of each synthetic prompt, against prefix caching. Defaults to true. */
  unique_prefix: boolean;
  /** Seed of synthetic prompts. Defaults to 0. */
  seed: number;
}
