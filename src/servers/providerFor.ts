import { TokbenchError } from "../errors/TokbenchError.js";
import { embeddedProvider } from "./providers/embedded.js";
import { llamaServerProvider } from "./providers/llamaServer.js";
import { mlxLmProvider } from "./providers/mlxLm.js";
import { ollamaProvider } from "./providers/ollama.js";
import { sglangProvider } from "./providers/sglang.js";
import { type TemplateOptions, templateProvider } from "./providers/template.js";
import { vllmProvider } from "./providers/vllm.js";
import type { ProviderName, ServerProvider } from "./ServerProvider.js";

/** The provider of a name; `template` needs the command template. */
export function providerFor(
  name: ProviderName,
  template?: { command: string } & TemplateOptions,
): ServerProvider {
  switch (name) {
    case "llama-server":
      return llamaServerProvider;
    case "ollama":
      return ollamaProvider;
    case "vllm":
      return vllmProvider;
    case "sglang":
      return sglangProvider;
    case "mlx-lm":
      return mlxLmProvider;
    case "embedded":
      return embeddedProvider;
    case "template":
      if (template === undefined)
        throw new TokbenchError("INVALID_ARGUMENT", "the template provider needs --server-cmd");
      return templateProvider(template.command, template);
  }
}
