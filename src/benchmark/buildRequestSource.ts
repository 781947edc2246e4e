import type { Target, WorkloadRequest } from "../targets/Target.js";
import { readPromptFile } from "../workload/readPromptFile.js";
import { SyntheticPromptSource } from "../workload/SyntheticPromptSource.js";
import type { WorkloadOptions } from "./WorkloadOptions.js";

/** Requests by index, ready before the run starts, and whether their prompt lengths are exact. */
export interface RequestSource {
  requestAt(index: number): WorkloadRequest;
  prompt_tokens_exact: boolean;
  /** Human-readable description of the workload for output and storage. */
  description: string;
}

/**
 * Prepares the workload: calibrates synthetic prompts against the target's tokenizer, or reads
 * the prompt file and counts its prompts' tokens once, so nothing is tokenized during the run.
 */
export async function buildRequestSource(workload: WorkloadOptions, target: Target): Promise<RequestSource> {
  if (workload.prompt_file !== null) {
    const prompts = await readPromptFile(workload.prompt_file);
    const counts = await Promise.all(
      prompts.map((p) => target.countTokens(p.messages.map((m) => m.content).join("\n"))),
    );
    const exact = counts.every((c) => c !== null);
    const requests: WorkloadRequest[] = prompts.map((p, i) => {
      const text = p.messages.map((m) => m.content).join("\n");
      return {
        messages: p.messages,
        prompt: text,
        prompt_tokens: counts[i] ?? null,
        prompt_tokens_exact: exact,
        max_tokens: p.max_tokens ?? workload.max_tokens,
        force_output_length: workload.force_output_length,
      };
    });
    return {
      requestAt: (index) =>
        requests[((index % requests.length) + requests.length) % requests.length] as WorkloadRequest,
      prompt_tokens_exact: exact,
      description: `${prompts.length} prompts from ${workload.prompt_file}`,
    };
  }
  const source = await SyntheticPromptSource.create(
    { prompt_tokens: workload.prompt_tokens, unique_prefix: workload.unique_prefix, seed: workload.seed },
    (text) => target.countTokens(text),
  );
  return {
    requestAt(index) {
      // Warmup requests (negative indices) get prefixes of their own, far from the measured ones.
      const p = source.prompt(index < 0 ? 1_000_000 - index : index);
      return {
        messages: [{ role: "user", content: p.text }],
        prompt: p.text,
        prompt_tokens: p.tokens,
        prompt_tokens_exact: p.exact,
        unique_from_token: p.unique_from_token,
        max_tokens: workload.max_tokens,
        force_output_length: workload.force_output_length,
      };
    },
    prompt_tokens_exact: source.exact,
    description: `synthetic prompts of ${workload.prompt_tokens} tokens${source.exact ? "" : " (approximate: no tokenizer)"}`,
  };
}
