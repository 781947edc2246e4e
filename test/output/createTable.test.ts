import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { createTable, TABLE_MAX_WIDTH } from "../../src/output/createTable.js";
import { wrapLines } from "../../src/output/wrapText.js";
import { synthesizeModel } from "../../src/synth/synthesizeModel.js";
import { runCli } from "../cli/runCli.js";

const widths = (text: string): number[] => text.split("\n").map((line) => line.length);

/** The cell text of a rendered table, borders and all spaces removed, lines joined. */
function cellText(table: string): string {
  return table
    .split("\n")
    .flatMap((line) => line.split(/[│┌┐└┘├┤┬┴┼─]/))
    .map((piece) => piece.trim())
    .join("")
    .replace(/\s/g, "");
}

it("wraps text at spaces and splits only words longer than a line, losing nothing", () => {
  assert.deepEqual(wrapLines("a bb ccc", 4), ["a bb", "ccc"]);
  assert.deepEqual(wrapLines("/a/very/long/path.gguf (268 MiB)", 10), [
    "/a/very/lo",
    "ng/path.gg",
    "uf (268",
    "MiB)",
  ]);
  assert.deepEqual(wrapLines("short", 10), ["short"]);
  assert.deepEqual(wrapLines("flag: one two three", 10, { first: "  ", rest: "    " }), [
    "  flag:",
    "    one",
    "    two",
    "    three",
  ]);
});

it("a table wider than 100 columns is narrowed and wrapped, not cut", () => {
  const path = `/${"deep/".repeat(30)}model.gguf`;
  const table = createTable();
  table.push({ file: `${path} (268 MiB, GGUF v3)` }, { architecture: "qwen2" });
  const text = table.toString();
  assert.ok(Math.max(...widths(text)) <= TABLE_MAX_WIDTH, text);
  assert.equal(cellText(text), cellText(`file ${path} (268 MiB, GGUF v3) architecture qwen2`));

  const narrow = createTable({ head: ["a", "b"] });
  narrow.push(["1", "2"]);
  assert.equal(narrow.toString().split("\n")[0], "┌───┬───┐", "a narrow table is left as it is");
});

it("inspect and roofline fit 100 columns with a long model path", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tokbench-width-"));
  try {
    const deep = join(dir, "a-folder-with-a-rather-long-name", "and-another-one-below-it", "models");
    await mkdir(deep, { recursive: true });
    const model = join(deep, "synthetic-qwen2.5-0.5b-q4_0-seed1.gguf");
    await synthesizeModel({ preset: "tiny", type: "q4_0", out: model });
    for (const args of [
      ["inspect", model],
      ["inspect", model, "--tensors"],
      ["roofline", model, "--bandwidth", "10"],
      ["synth", "--list"],
    ]) {
      const run = await runCli(args);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(Math.max(...widths(run.stdout)) <= TABLE_MAX_WIDTH, `${args.join(" ")}:\n${run.stdout}`);
      if (args[0] !== "synth")
        assert.ok(cellText(run.stdout).includes(cellText(model)), "the path is all there");
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
