import type { Argv } from "yargs";

/**
 * The flags of server targets (`--url`), as yargs option definitions. Every one of them is refused
 * without `--url` (checkTargetFlags), so none has a yargs default: a value is there only when the
 * user typed it, and the defaults are applied where the flag is read.
 */
export const HTTP_OPTIONS = {
  url: {
    type: "string",
    group: "Server:",
    description:
      "Base URL of an OpenAI-compatible API, ending in /v1 (Ollama: the server root, with --api ollama). A user:password@ in it is sent as HTTP Basic authentication",
  },
  api: {
    choices: ["chat", "completions", "ollama"],
    group: "Server:",
    description:
      "Endpoint: /v1/chat/completions, /v1/completions, or Ollama's native /api/chat (default: chat)",
  },
  "api-key": {
    type: "string",
    group: "Server:",
    description: "API key sent as a bearer token (else --api-key-file, else $OPENAI_API_KEY); never stored",
  },
  "api-key-file": {
    type: "string",
    group: "Server:",
    description: "File whose first line is the API key",
  },
  header: {
    type: "string",
    array: true,
    group: "Server:",
    description: 'Extra request header "Name: value" (repeatable)',
  },
  timeout: {
    requiresArg: true,
    group: "Server:",
    description: "Per-request limit in seconds, from send to end of stream; 0: none (default: 600)",
  },
  "include-usage": {
    type: "boolean",
    group: "Server:",
    description:
      "Request stream_options.include_usage (--no-include-usage for strict servers; default: on; not with --api ollama)",
  },
  "force-fields": {
    type: "boolean",
    group: "Server:",
    description:
      "Send ignore_eos/min_tokens to force the output length (--no-force-fields for strict servers; default: on; not with --api ollama)",
  },
  "extra-body": {
    type: "string",
    group: "Server:",
    description: "JSON object merged into every request body, e.g. '{\"temperature\":0}'",
  },
  tokenizer: {
    type: "string",
    group: "Server:",
    description: "GGUF file whose vocabulary counts prompt tokens locally (for servers without /tokenize)",
  },
  pid: {
    requiresArg: true,
    group: "Server:",
    description: "Sample this server process's memory, CPU and disk during the run",
  },
  "busy-poll": {
    type: "boolean",
    group: "Load:",
    description:
      "Keep the event loop polling while requests are in flight: finer chunk timestamps for a server on another machine, at the cost of a full core (never with a local server)",
  },
} as const;

/** The HTTP flags that only OpenAI-compatible APIs have: refused with `--api ollama`. */
export const OPENAI_ONLY_OPTIONS: readonly (keyof typeof HTTP_OPTIONS)[] = ["include-usage", "force-fields"];

/** Adds the flags of HTTP targets (`--url`) to the bench command. */
export function withHttpOptions<T>(yargs: Argv<T>) {
  return yargs.options(HTTP_OPTIONS);
}
