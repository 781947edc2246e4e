import { readFile } from "node:fs/promises";
import { z } from "zod";
import { TokbenchError } from "../errors/TokbenchError.js";

/** One prompt from a file: chat messages, plus an output length when the file gives one. */
export interface FilePrompt {
  messages: { role: "system" | "user" | "assistant"; content: string }[];
  max_tokens: number | null;
}

const plainLine = z.object({ prompt: z.string().min(1), max_tokens: z.number().int().positive().optional() });
const messagesLine = z.object({
  messages: z.array(z.object({ role: z.enum(["system", "user", "assistant"]), content: z.string() })).min(1),
  max_tokens: z.number().int().positive().optional(),
});
// ShareGPT: {"conversations": [{"from": "human"|"gpt"|"system", "value": "..."}]}
const shareGptLine = z.object({
  conversations: z.array(z.object({ from: z.string(), value: z.string() })).min(1),
});

const SHAREGPT_ROLES: Record<string, "system" | "user" | "assistant"> = {
  system: "system",
  human: "user",
  user: "user",
  gpt: "assistant",
  assistant: "assistant",
  chatgpt: "assistant",
  bard: "assistant",
};

/**
 * Reads prompts from a JSONL file. Each line is one of: `{"prompt": "..."}`, `{"messages": [...]}`
 * (OpenAI chat format) or a ShareGPT conversation (`{"conversations": [{"from", "value"}]}`), whose
 * turns up to and including the first human turn become the prompt. Optional `max_tokens` per
 * line. Blank lines are skipped; any other bad line stops with its line number.
 */
export async function readPromptFile(path: string): Promise<FilePrompt[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code === "ENOENT" ? "FILE_NOT_FOUND" : "FILE_UNREADABLE";
    throw new TokbenchError(code, `cannot read prompt file ${path}: ${(cause as Error).message}`, {
      context: { path },
      cause,
    });
  }
  const prompts: FilePrompt[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === "") continue;
    const where = `${path}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (cause) {
      throw new TokbenchError(
        "PROMPT_FILE_INVALID",
        `${where}: not valid JSON (${(cause as Error).message})`,
        {
          context: { path, line: i + 1 },
          cause,
        },
      );
    }
    const prompt = parsePromptLine(value);
    if (prompt === null) {
      throw new TokbenchError(
        "PROMPT_FILE_INVALID",
        `${where}: expected {"prompt": "..."}, {"messages": [...]} or a ShareGPT {"conversations": [...]}`,
        { context: { path, line: i + 1 } },
      );
    }
    prompts.push(prompt);
  }
  if (prompts.length === 0) {
    throw new TokbenchError("PROMPT_FILE_INVALID", `${path}: no prompts in file`, { context: { path } });
  }
  return prompts;
}

function parsePromptLine(value: unknown): FilePrompt | null {
  const plain = plainLine.safeParse(value);
  if (plain.success) {
    return {
      messages: [{ role: "user", content: plain.data.prompt }],
      max_tokens: plain.data.max_tokens ?? null,
    };
  }
  const chat = messagesLine.safeParse(value);
  if (chat.success) return { messages: chat.data.messages, max_tokens: chat.data.max_tokens ?? null };
  const share = shareGptLine.safeParse(value);
  if (share.success) {
    const messages: FilePrompt["messages"] = [];
    for (const turn of share.data.conversations) {
      const role = SHAREGPT_ROLES[turn.from.toLowerCase()];
      if (role === undefined) return null;
      messages.push({ role, content: turn.value });
      if (role === "user") break;
    }
    return messages.some((m) => m.role === "user") ? { messages, max_tokens: null } : null;
  }
  return null;
}
