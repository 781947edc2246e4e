import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

// The TypeScript sources, found from the compiled test (dist/test/search -> src).
const SRC = fileURLToPath(new URL("../../../src/", import.meta.url));

/** The rooms that may use search: the search itself, launching, the sweep, the tuner, and the CLI above all. */
const ABOVE = new Set(["cli", "search", "servers", "sweep", "tune"]);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith(".ts")
        ? [join(dir, entry.name)]
        : [],
  );
}

describe("dependency direction", () => {
  it("search, sweep, tune and server launching sit above benchmark: nothing below imports them", () => {
    const files = sources(SRC).filter((f) => !ABOVE.has(relative(SRC, f).split("/")[0] as string));
    assert.ok(files.some((f) => f.includes("/benchmark/")) && files.some((f) => f.includes("/engine/")));
    const offending: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      for (const match of text.matchAll(
        /(?:from|import)\s*\(?\s*"((?:\.\.?\/)+(?:[\w-]+\/)*?)(search|sweep|servers|tune)\//g,
      )) {
        offending.push(`${relative(SRC, file)} imports ${match[2]}/`);
      }
    }
    assert.deepEqual(offending, []);
  });
});
