import assert from "node:assert/strict";
import { describe, it } from "node:test";
import yargs from "yargs";
import { checkTargetFlags } from "../../src/cli/commands/bench/checkTargetFlags.js";
import { withCommonOptions } from "../../src/cli/commands/bench/commonOptions.js";
import { EMBEDDED_OPTIONS, withEmbeddedOptions } from "../../src/cli/commands/bench/embeddedOptions.js";
import { HTTP_OPTIONS, withHttpOptions } from "../../src/cli/commands/bench/httpOptions.js";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";
import { runCli } from "./runCli.js";

/** The bench command's flags parsed as the CLI parses them. */
function parse(args: string[]): Record<string, unknown> {
  return withEmbeddedOptions(withHttpOptions(withCommonOptions(yargs(args))))
    .parserConfiguration({ "parse-numbers": false })
    .strict()
    .parseSync() as Record<string, unknown>;
}

/** The command-line words that give flag `name` some value. */
function giveFlag(name: string, option: object): string[] {
  const spec = option as { type?: string; choices?: readonly string[] };
  if (spec.type === "boolean") return [`--${name}`];
  return [`--${name}`, spec.choices?.[0] ?? "1"];
}

function refuses(argv: Record<string, unknown>, flag: string): void {
  assert.throws(
    () => checkTargetFlags(argv),
    (error: unknown) =>
      isTokbenchError(error, "INVALID_ARGUMENT") &&
      error.message.includes(`--${flag}`) &&
      !error.message.includes("\n"),
    `--${flag}`,
  );
}

describe("flags that do not apply to the target are refused, not ignored", () => {
  it("every embedded-engine flag is refused with --url, by the option definitions themselves", () => {
    const names = Object.keys(EMBEDDED_OPTIONS);
    assert.ok(names.length >= 18 && names.includes("trace") && names.includes("threads"));
    for (const [name, option] of Object.entries(EMBEDDED_OPTIONS)) {
      refuses(parse(["--url", "http://127.0.0.1:9/v1", ...giveFlag(name, option)]), name);
      // Without --url the same flag is the engine's (--trace-level with the --trace it qualifies).
      checkTargetFlags(
        parse([...giveFlag(name, option), ...(name === "trace-level" ? ["--trace", "t"] : [])]),
      );
    }
    refuses(parse(["--url", "http://127.0.0.1:9/v1", "-t", "2"]), "threads");
  });

  it("every server flag is refused without --url, and the OpenAI-only ones with --api ollama", () => {
    for (const [name, option] of Object.entries(HTTP_OPTIONS)) {
      if (name === "url") continue;
      const flag = name === "api" ? ["--api", "chat"] : giveFlag(name, option);
      refuses(parse(flag), name);
      checkTargetFlags(parse(["--url", "http://127.0.0.1:9/v1", ...flag]));
    }
    for (const name of ["include-usage", "force-fields"]) {
      refuses(parse(["--url", "http://127.0.0.1:9", "--api", "ollama", `--no-${name}`]), name);
    }
    // Defaults of flags shared by both targets are no reason to refuse anything.
    checkTargetFlags(parse([]));
    checkTargetFlags(parse(["--url", "http://127.0.0.1:9/v1"]));
  });

  it("the CLI says so in one line, exit 2, before loading any model", async () => {
    const cases: [string[], RegExp][] = [
      [
        [
          "bench",
          "--url",
          "http://127.0.0.1:9/v1",
          "--model",
          "m",
          "--pp",
          "5",
          "--threads",
          "2",
          "--trace",
          "t",
        ],
        /^tokbench: --pp, --threads, --trace do not apply to a --url target: they configure the embedded engine/,
      ],
      [
        ["bench", "--api-key", "sk-abcdef-123"],
        /^tokbench: --api-key applies to server targets only: add --url/,
      ],
      [
        ["bench", "--header", "X-A: b", "--timeout", "5"],
        /^tokbench: --header, --timeout apply to server targets only/,
      ],
      [
        ["bench", "--api", "ollama", "--model", "llama3.2"],
        /^tokbench: --api ollama needs --url, the Ollama server's address/,
      ],
      // Flags that qualify another one, given without it: both were dropped without a word.
      [
        ["bench", "--model", "none.gguf", "--pp", "8", "--trace-level", "minimal"],
        /^tokbench: --trace-level sets how much --trace writes: give --trace FILE too/,
      ],
      [
        ["bench", "--url", "http://127.0.0.1:9/v1", "--model", "m", "--tag", "nightly", "--no-save"],
        /^tokbench: --tag labels the stored run, and --no-save stores none: drop one of them/,
      ],
      [
        ["bench", "--model", "none.gguf", "--tag", "nightly", "--no-save"],
        /^tokbench: --tag labels the stored run, and --no-save stores none/,
      ],
      [
        ["bench", "--url", "http://127.0.0.1:9/v1", "--model", "m", "--db", "runs.db", "--no-save"],
        /^tokbench: --db names where the run is stored, and --no-save stores none: drop one of them/,
      ],
      [
        ["bench", "--model", "none.gguf", "--pp", "8", "--db", "runs.db", "--no-save"],
        /^tokbench: --db names where the run is stored, and --no-save stores none/,
      ],
    ];
    for (const [args, pattern] of cases) {
      const run = await runCli(args);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, pattern);
      assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
      assert.ok(!run.stderr.includes("sk-abcdef-123"));
    }
  });
});
