import type { Api, Context, Message, Model, SimpleStreamOptions } from "@mariozechner/pi-ai";

/** A message of an OpenAI `/v1/chat/completions` request. */
type ChatMessage = Record<string, unknown>;

/**
 * The streaming `/v1/chat/completions` request for a pi call: system prompt, messages, tools,
 * token limit. Written for llama.cpp's server and other local OpenAI-compatible servers: plain
 * `system` role, `max_tokens`, usage asked for in the stream. Thinking blocks of earlier answers
 * are not sent back (local chat templates drop them anyway).
 */
export function chatBody(
  model: Model<Api>,
  context: Context,
  options?: SimpleStreamOptions,
): Record<string, unknown> {
  const messages: ChatMessage[] = [];
  if (context.systemPrompt !== undefined && context.systemPrompt !== "")
    messages.push({ role: "system", content: context.systemPrompt });
  const images = model.input.includes("image");
  for (const message of context.messages) {
    const converted = chatMessage(message, images);
    if (converted !== null) messages.push(converted);
  }
  const body: Record<string, unknown> = {
    model: model.id,
    messages,
    stream: true,
    stream_options: { include_usage: true },
  };
  // pi's own providers' default: the model's limit, at most 32,000.
  const maxTokens =
    options?.maxTokens ?? (model.maxTokens > 0 ? Math.min(model.maxTokens, 32_000) : undefined);
  if (maxTokens !== undefined) body.max_tokens = maxTokens;
  if (options?.temperature !== undefined) body.temperature = options.temperature;
  if (context.tools !== undefined && context.tools.length > 0) {
    body.tools = context.tools.map((tool) => ({
      type: "function",
      function: { name: tool.name, description: tool.description, parameters: tool.parameters },
    }));
  }
  return body;
}

function chatMessage(message: Message, images: boolean): ChatMessage | null {
  switch (message.role) {
    case "user": {
      if (typeof message.content === "string") return { role: "user", content: message.content };
      const parts: Record<string, unknown>[] = [];
      for (const part of message.content) {
        if (part.type === "text") parts.push({ type: "text", text: part.text });
        else if (images)
          parts.push({ type: "image_url", image_url: { url: `data:${part.mimeType};base64,${part.data}` } });
      }
      return parts.length === 0 ? null : { role: "user", content: parts };
    }
    case "assistant": {
      const text = message.content
        .filter((c) => c.type === "text")
        .map((c) => c.text)
        .join("");
      const calls = message.content.filter((c) => c.type === "toolCall");
      // A failed or aborted answer with nothing in it is not part of the conversation.
      if (text === "" && calls.length === 0) return null;
      const out: ChatMessage = { role: "assistant", content: text === "" ? null : text };
      if (calls.length > 0) {
        out.tool_calls = calls.map((c) => ({
          id: c.id,
          type: "function",
          function: { name: c.name, arguments: JSON.stringify(c.arguments) },
        }));
      }
      return out;
    }
    case "toolResult": {
      const text = message.content.map((c) => (c.type === "text" ? c.text : "(image omitted)")).join("\n");
      return { role: "tool", tool_call_id: message.toolCallId, content: text };
    }
  }
}
