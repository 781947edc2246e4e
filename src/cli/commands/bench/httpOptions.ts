import type { Argv } from "yargs";

/** Adds the flags of HTTP targets (`--url`) to the bench command. */
export function withHttpOptions<T>(yargs: Argv<T>) {
  return yargs
    .option("url", {
      type: "string",
      group: "Server:",
      description:
        "Base URL of an OpenAI-compatible API, ending in /v1 (Ollama: the server root, with --api ollama)",
    })
    .option("api", {
      choices: ["chat", "completions", "ollama"] as const,
      default: "chat" as const,
      group: "Server:",
      description: "Endpoint: /v1/chat/completions, /v1/completions, or Ollama's native /api/chat",
    })
    .option("api-key", {
      type: "string",
      group: "Server:",
      description: "API key sent as a bearer token (else --api-key-file, else $OPENAI_API_KEY); never stored",
    })
    .option("api-key-file", {
      type: "string",
      group: "Server:",
      description: "File whose first line is the API key",
    })
    .option("header", {
      type: "string",
      array: true,
      group: "Server:",
      description: 'Extra request header "Name: value" (repeatable)',
    })
    .option("timeout", {
      type: "number",
      default: 600,
      group: "Server:",
      description: "Per-request limit in seconds, from send to end of stream (0: none)",
    })
    .option("include-usage", {
      type: "boolean",
      default: true,
      group: "Server:",
      description: "Request stream_options.include_usage (--no-include-usage for strict servers)",
    })
    .option("force-fields", {
      type: "boolean",
      default: true,
      group: "Server:",
      description:
        "Send ignore_eos/min_tokens to force the output length (--no-force-fields for strict servers)",
    })
    .option("extra-body", {
      type: "string",
      group: "Server:",
      description: "JSON object merged into every request body, e.g. '{\"temperature\":0}'",
    })
    .option("tokenizer", {
      type: "string",
      group: "Server:",
      description: "GGUF file whose vocabulary counts prompt tokens locally (for servers without /tokenize)",
    })
    .option("pid", {
      type: "number",
      group: "Server:",
      description: "Sample this server process's memory, CPU and disk during the run",
    });
}
