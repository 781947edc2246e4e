import {
  type Api,
  type AssistantMessage,
  type AssistantMessageEventStream,
  calculateCost,
  type Model,
  parseStreamingJson,
  type StopReason,
  type TextContent,
  type ThinkingContent,
  type ToolCall,
} from "@mariozechner/pi-ai";
import { readOpenAiChunk } from "tokbench";
import type { ArrivalKind } from "../record/CallTracker.js";
import { isObject } from "../record/isObject.js";

interface OpenToolCall {
  block: ToolCall;
  partialArgs: string;
}

/**
 * Turns the JSON chunks of an OpenAI-compatible stream into pi's assistant-message events, as they
 * come: text, thinking (`reasoning_content`, `reasoning`, `reasoning_text`) and tool-call blocks,
 * the stop reason and the usage. It also notes the kind of every chunk tokbench counts as
 * token-bearing (`readOpenAiChunk`), in order, so a call's output can be split by kind.
 */
export class PiEventWriter {
  readonly output: AssistantMessage;
  /** The kind of each token-bearing chunk, in arrival order. */
  readonly kinds: ArrivalKind[] = [];
  private readonly stream: AssistantMessageEventStream;
  private readonly model: Model<Api>;
  private text: TextContent | null = null;
  private thinking: ThinkingContent | null = null;
  private readonly tools = new Map<number, OpenToolCall>();
  private started = false;

  constructor(model: Model<Api>, stream: AssistantMessageEventStream) {
    this.model = model;
    this.stream = stream;
    this.output = {
      role: "assistant",
      content: [],
      api: model.api,
      provider: model.provider,
      model: model.id,
      usage: {
        input: 0,
        output: 0,
        cacheRead: 0,
        cacheWrite: 0,
        totalTokens: 0,
        cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, total: 0 },
      },
      stopReason: "stop",
      timestamp: Date.now(),
    };
  }

  /** The response started: pi's `start` event. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.stream.push({ type: "start", partial: this.output });
  }

  /** One parsed JSON chunk of the stream. */
  chunk(value: unknown): void {
    this.start();
    const info = readOpenAiChunk(value);
    if (info.text.length > 0 || (info.tokens ?? 0) > 0) this.kinds.push(kindOf(value));
    if (info.usage !== null) {
      const prompt = info.usage.prompt_tokens ?? 0;
      const cached = info.usage.cached_prompt_tokens ?? 0;
      const usage = this.output.usage;
      // pi's `input` leaves out the prompt tokens read from the cache.
      usage.input = Math.max(0, prompt - cached);
      usage.cacheRead = cached;
      usage.output = info.usage.completion_tokens ?? 0;
      usage.totalTokens = usage.input + usage.cacheRead + usage.output;
      calculateCost(this.model, usage);
    }
    if (!isObject(value) || !Array.isArray(value.choices)) return;
    const choice = value.choices[0];
    if (!isObject(choice)) return;
    if (typeof choice.finish_reason === "string") this.output.stopReason = stopReason(choice.finish_reason);
    const delta = isObject(choice.delta) ? choice.delta : isObject(choice.message) ? choice.message : null;
    if (delta === null) return;
    const reasoning = [delta.reasoning_content, delta.reasoning, delta.reasoning_text].find(
      (r): r is string => typeof r === "string" && r.length > 0,
    );
    if (reasoning !== undefined) this.appendThinking(reasoning);
    if (typeof delta.content === "string" && delta.content.length > 0) this.appendText(delta.content);
    if (Array.isArray(delta.tool_calls)) {
      for (const call of delta.tool_calls) if (isObject(call)) this.appendToolCall(call);
    }
  }

  /** Closes every block; the message is then complete. */
  finish(): void {
    this.start();
    for (const [index, block] of this.output.content.entries()) {
      if (block.type === "text")
        this.stream.push({
          type: "text_end",
          contentIndex: index,
          content: block.text,
          partial: this.output,
        });
      else if (block.type === "thinking")
        this.stream.push({
          type: "thinking_end",
          contentIndex: index,
          content: block.thinking,
          partial: this.output,
        });
      else
        this.stream.push({
          type: "toolcall_end",
          contentIndex: index,
          toolCall: block,
          partial: this.output,
        });
    }
  }

  private appendText(delta: string): void {
    if (this.text === null) {
      this.text = { type: "text", text: "" };
      this.output.content.push(this.text);
      this.stream.push({
        type: "text_start",
        contentIndex: this.output.content.length - 1,
        partial: this.output,
      });
    }
    this.text.text += delta;
    const contentIndex = this.output.content.indexOf(this.text);
    this.stream.push({ type: "text_delta", contentIndex, delta, partial: this.output });
  }

  private appendThinking(delta: string): void {
    if (this.thinking === null) {
      this.thinking = { type: "thinking", thinking: "" };
      this.output.content.push(this.thinking);
      this.stream.push({
        type: "thinking_start",
        contentIndex: this.output.content.length - 1,
        partial: this.output,
      });
    }
    this.thinking.thinking += delta;
    const contentIndex = this.output.content.indexOf(this.thinking);
    this.stream.push({ type: "thinking_delta", contentIndex, delta, partial: this.output });
  }

  private appendToolCall(call: Record<string, unknown>): void {
    const index = typeof call.index === "number" ? call.index : this.tools.size;
    const fn = isObject(call.function) ? call.function : {};
    let open = this.tools.get(index);
    if (open === undefined) {
      open = {
        block: {
          type: "toolCall",
          id: typeof call.id === "string" ? call.id : "",
          name: typeof fn.name === "string" ? fn.name : "",
          arguments: {},
        },
        partialArgs: "",
      };
      this.tools.set(index, open);
      this.output.content.push(open.block);
      this.stream.push({
        type: "toolcall_start",
        contentIndex: this.output.content.length - 1,
        partial: this.output,
      });
    } else {
      if (open.block.id === "" && typeof call.id === "string") open.block.id = call.id;
      if (open.block.name === "" && typeof fn.name === "string") open.block.name = fn.name;
    }
    const delta = typeof fn.arguments === "string" ? fn.arguments : "";
    if (delta !== "") {
      open.partialArgs += delta;
      open.block.arguments = parseStreamingJson(open.partialArgs);
    }
    const contentIndex = this.output.content.indexOf(open.block);
    this.stream.push({ type: "toolcall_delta", contentIndex, delta, partial: this.output });
  }
}

/** The kind of a token-bearing chunk: a tool call's, else text, else thinking. */
function kindOf(value: unknown): ArrivalKind {
  const choice = isObject(value) && Array.isArray(value.choices) ? value.choices[0] : undefined;
  const delta = isObject(choice) ? (isObject(choice.delta) ? choice.delta : choice.message) : undefined;
  if (!isObject(delta)) return "text";
  if (Array.isArray(delta.tool_calls) && delta.tool_calls.length > 0) return "tool_call";
  if (typeof delta.content === "string" && delta.content.length > 0) return "text";
  return "thinking";
}

function stopReason(finish: string): StopReason {
  switch (finish) {
    case "length":
      return "length";
    case "tool_calls":
    case "function_call":
      return "toolUse";
    default:
      return "stop";
  }
}
