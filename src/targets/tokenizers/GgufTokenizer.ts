import { access } from "node:fs/promises";
import type { LlamaModel } from "node-llama-cpp";
import { EngineBinding } from "../../engine/EngineBinding.js";
import { TokbenchError } from "../../errors/TokbenchError.js";

/**
 * A local tokenizer read from a GGUF file's vocabulary (no weights are loaded), for servers that
 * have no `/tokenize` endpoint: with the GGUF of the model the server runs, prompt lengths are exact
 * and output tokens can be counted without trusting the server.
 */
export class GgufTokenizer {
  private constructor(
    private readonly binding: EngineBinding,
    private readonly model: LlamaModel,
  ) {}

  /** Loads the vocabulary of `path`. Throws FILE_NOT_FOUND or ENGINE_LOAD_FAILED. */
  static async open(path: string): Promise<GgufTokenizer> {
    try {
      await access(path);
    } catch (cause) {
      throw new TokbenchError("FILE_NOT_FOUND", `tokenizer file ${path} does not exist`, {
        context: { path },
        cause,
      });
    }
    const binding = await EngineBinding.open({ gpu: false });
    try {
      const model = await binding.llama.loadModel({ modelPath: path, vocabOnly: true });
      return new GgufTokenizer(binding, model);
    } catch (cause) {
      await binding.llama.dispose();
      throw new TokbenchError(
        "ENGINE_LOAD_FAILED",
        `cannot read the vocabulary of ${path}: ${(cause as Error).message}`,
        {
          context: { path },
          cause,
        },
      );
    }
  }

  /** Tokens in `text`, without special tokens (BOS): what the text adds to a prompt. */
  count(text: string): number {
    return this.model.tokenize(text, false).length;
  }

  /** Frees the vocabulary and the binding. */
  async close(): Promise<void> {
    await this.model.dispose();
    await this.binding.llama.dispose();
  }
}
