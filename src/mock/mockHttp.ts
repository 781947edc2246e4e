import http from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** The four generation endpoints the mock servers stream. */
export type StreamKind = "chat" | "completions" | "ollama-chat" | "ollama-generate";

/**
 * The mock servers' HTTP server: keep-alive for two minutes, no request timeout, Nagle off (a token
 * chunk leaves at once), and every socket added to `sockets` so that closing can drop them.
 */
export function createMockHttpServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  sockets: Set<Socket>,
): http.Server {
  const server = http.createServer({ keepAliveTimeout: 120_000, requestTimeout: 0, noDelay: true }, handler);
  server.headersTimeout = 120_000;
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  return server;
}

/** Listens on `host:port` (0: any free port); resolves to `http://host:port`, rejects with the listen error. */
export async function listenOrigin(server: http.Server, host: string, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port, backlog: 8192 }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const name = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return `http://${name}:${address.port}`;
}

/** Answers with a JSON body and its exact length. */
export function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The prompt of a request as plain text: chat message contents joined with `"\n"`, else `prompt`. */
export function promptText(body: Record<string, unknown>, kind: StreamKind): string {
  if (kind === "chat" || kind === "ollama-chat") {
    if (!Array.isArray(body.messages)) return "";
    const parts: string[] = [];
    for (const message of body.messages) {
      if (isObject(message) && typeof message.content === "string") parts.push(message.content);
    }
    return parts.join("\n");
  }
  return typeof body.prompt === "string" ? body.prompt : "";
}

/** Reads a request body whole and parses it as a JSON object; null when it is not one. */
export function parseJsonObject(raw: Buffer): Record<string, unknown> | null {
  try {
    const parsed: unknown = JSON.parse(raw.toString("utf8") || "{}");
    return isObject(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

/**
 * The SSE events of one OpenAI-style stream (`chat.completion.chunk` or `text_completion`). The
 * fixed part of a one-choice chunk is serialised once per stream: it is the hot path of a server
 * that writes thousands of chunks a second.
 */
export class OpenAiChunkFormat {
  /** `data: [DONE]`, the end of every OpenAI stream. */
  static readonly DONE = "data: [DONE]\n\n";
  private readonly fields: Record<string, unknown>;
  private head: string | null = null;

  /** `id` is the whole completion id, e.g. `chatcmpl-mock-3`; `created` is in Unix seconds. */
  constructor(chat: boolean, id: string, model: string, created: number) {
    this.fields = {
      id,
      object: chat ? "chat.completion.chunk" : "text_completion",
      created,
      model,
    };
  }

  /** `{id, object, created, model}` of every chunk, a fresh object each call. */
  base(): Record<string, unknown> {
    return { ...this.fields };
  }

  /** One event carrying a single choice. */
  choice(choice: unknown): string {
    if (this.head === null) {
      const base = JSON.stringify({ ...this.fields, choices: [] });
      this.head = `data: ${base.slice(0, -2)}`;
    }
    return `${this.head}${JSON.stringify(choice)}]}\n\n`;
  }

  /** One event with any body. */
  event(value: unknown): string {
    return `data: ${JSON.stringify(value)}\n\n`;
  }
}
