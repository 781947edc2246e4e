import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

/** dist/bench, where the compiled benchmark scripts are. */
const BENCH = fileURLToPath(new URL("../../bench/", import.meta.url));
/** bench/ in the checkout: the scripts are listed from their sources, so a stale compiled file of a removed script in dist/ is not taken for one. */
const SOURCES = fileURLToPath(new URL("../../../bench/", import.meta.url));

/**
 * Modules of bench/ that other scripts import or preload (`node --import`): they are no command, so
 * they take no flags. Every other file is a script a person runs.
 */
const LIBRARY = new Set([
  "benchArgs.js",
  "cReferenceReader.js",
  "loadAllCommands.js",
  "monotonicOffsetMs.js",
  "nodeReferenceReader.js",
  "peakRssAtExit.js",
  "startUrlChild.js",
  "syntheticRun.js",
  "timeReportRender.js",
]);

function run(script: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [join(BENCH, script), ...args], {
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("benchmark scripts read their command line like the CLI", () => {
  const scripts = readdirSync(SOURCES)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .map((f) => f.replace(/\.ts$/, ".js"))
    .filter((f) => !LIBRARY.has(f));

  it("--help prints the script's usage and exits 0, without running it", () => {
    assert.ok(scripts.length >= 15, scripts.join(", "));
    for (const script of scripts) {
      const r = run(script, "--help");
      assert.equal(r.code, 0, `${script}: ${r.stderr}`);
      assert.equal(r.stderr, "", script);
      // The opening comment of the file: several lines of prose, no comment markers.
      assert.ok(r.stdout.split("\n").length >= 4, `${script}: ${r.stdout}`);
      assert.doesNotMatch(r.stdout, /^\s*\/?\*/m, script);
    }
  });

  it("an unknown flag, a bad number or an extra argument is one line and exit 2, no stack trace", () => {
    const cases: [string, string[], string][] = [
      ["report.js", ["--bogus"], "report.js: Unknown option '--bogus' (--help lists the flags)\n"],
      ["sseParser.js", ["extra"], 'sseParser.js: unexpected argument "extra" (--help lists the flags)\n'],
      [
        "history.js",
        ["--runs", "many"],
        'history.js: --runs takes a number or a comma-separated list of numbers (got "many") (--help lists the flags)\n',
      ],
      [
        "harness.js",
        ["--streams", "1,,64"],
        'harness.js: --streams takes a number or a comma-separated list of numbers (got "1,,64") (--help lists the flags)\n',
      ],
      ["bandwidth.js", ["--help-me"], "bandwidth.js: Unknown option '--help-me' (--help lists the flags)\n"],
      [
        "bandwidth.js",
        ["two"],
        'bandwidth.js: threads must be a positive integer (got "two") (--help lists the flags)\n',
      ],
      [
        "synthWrite.js",
        ["nope"],
        /^synthWrite\.js: unknown preset "nope" \(known: .*tiny.*\) \(--help lists the flags\)\n$/.source,
      ],
      [
        "report.js",
        ["--requests"],
        "report.js: Option '--requests <value>' argument missing (--help lists the flags)\n",
      ],
    ];
    for (const [script, args, expected] of cases) {
      const r = run(script, ...args);
      assert.equal(r.code, 2, `${script} ${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stdout, "");
      if (expected.startsWith("^")) assert.match(r.stderr, new RegExp(expected));
      else assert.equal(r.stderr, expected);
    }
  });
});
