import { basename } from "node:path";
import { ATTR } from "./genAiInstruments.js";

/** Attribute values as OpenTelemetry takes them (a plain record; no SDK type needed here). */
export type AttributeRecord = Record<string, string | number>;

/**
 * `gen_ai.operation.name` and `gen_ai.provider.name` by target kind. The provider is the API
 * flavour tokbench speaks (the conventions' discriminator of the telemetry format), not who made
 * the model: every OpenAI-compatible server is `openai`, told apart by `server.address`,
 * `server.port` and `gen_ai.request.model`. `ollama` and `llama.cpp` have no well-known value in the
 * conventions, which then allow a custom one.
 */
const BY_TARGET: Record<string, { operation: string; provider: string }> = {
  "openai-chat": { operation: "chat", provider: "openai" },
  "openai-completions": { operation: "text_completion", provider: "openai" },
  ollama: { operation: "chat", provider: "ollama" },
  embedded: { operation: "text_completion", provider: "llama.cpp" },
};

/**
 * The attributes every data point of a run carries, from the run's (already redacted)
 * configuration: operation, provider, requested model, and for a server its host and port (no user
 * info, path or query: nothing of a URL that can hold a secret). An embedded run's model is the GGUF
 * file's name, without the directory.
 */
export function runAttributes(config: Record<string, unknown>): AttributeRecord {
  const target = typeof config.target === "string" ? config.target : "";
  const kind = BY_TARGET[target] ?? { operation: "chat", provider: target === "" ? "_OTHER" : target };
  const attributes: AttributeRecord = {
    [ATTR.OPERATION_NAME]: kind.operation,
    [ATTR.PROVIDER_NAME]: kind.provider,
  };
  if (typeof config.model === "string" && config.model !== "") {
    attributes[ATTR.REQUEST_MODEL] = target === "embedded" ? basename(config.model) : config.model;
  }
  if (typeof config.url === "string") {
    const server = serverOf(config.url);
    if (server !== null) {
      attributes[ATTR.SERVER_ADDRESS] = server.address;
      attributes[ATTR.SERVER_PORT] = server.port;
    }
  }
  return attributes;
}

/** Host and port of a URL (the scheme's default port when none is written); null when it does not parse. */
function serverOf(url: string): { address: string; port: number } | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.hostname === "") return null;
  const port = parsed.port !== "" ? Number(parsed.port) : parsed.protocol === "https:" ? 443 : 80;
  // `[::1]` in a URL is the address `::1`.
  const address = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  return { address, port };
}
