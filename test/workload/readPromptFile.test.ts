import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";
import { readPromptFile } from "../../src/workload/readPromptFile.js";

async function file(content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "tokbench-prompts-"));
  const path = join(dir, "p.jsonl");
  await writeFile(path, content);
  return path;
}

describe("readPromptFile", () => {
  it("reads plain prompts, chat messages and ShareGPT conversations", async () => {
    const path = await file(
      [
        JSON.stringify({ prompt: "hello", max_tokens: 7 }),
        "",
        JSON.stringify({
          messages: [
            { role: "system", content: "be brief" },
            { role: "user", content: "hi" },
          ],
        }),
        JSON.stringify({
          conversations: [
            { from: "human", value: "question" },
            { from: "gpt", value: "answer" },
          ],
        }),
      ].join("\n"),
    );
    const prompts = await readPromptFile(path);
    assert.equal(prompts.length, 3);
    assert.deepEqual(prompts[0], { messages: [{ role: "user", content: "hello" }], max_tokens: 7 });
    assert.equal(prompts[1]?.messages.length, 2);
    assert.deepEqual(prompts[2]?.messages, [{ role: "user", content: "question" }]);
  });
  it("names the line of a bad entry", async () => {
    const path = await file(`${JSON.stringify({ prompt: "ok" })}\n{"nope": 1}\n`);
    await assert.rejects(
      readPromptFile(path),
      (e) => isTokbenchError(e, "PROMPT_FILE_INVALID") && e.message.includes(":2:"),
    );
    const broken = await file("{not json\n");
    await assert.rejects(
      readPromptFile(broken),
      (e) => isTokbenchError(e, "PROMPT_FILE_INVALID") && e.message.includes(":1:"),
    );
  });
  it("reports a missing file clearly", async () => {
    await assert.rejects(readPromptFile("/nonexistent/prompts.jsonl"), (e) =>
      isTokbenchError(e, "FILE_NOT_FOUND"),
    );
  });
});
