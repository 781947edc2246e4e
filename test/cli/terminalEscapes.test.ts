import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { ggmlTypeByName } from "../../src/gguf/GgmlType.js";
import { GGUF_VALUE_TYPE_IDS } from "../../src/gguf/GgufValue.js";
import { encodeGgufHeader, writeGguf } from "../../src/gguf/GgufWriter.js";
import type { RunResult } from "../../src/results/RunResult.js";
import { rawServer, sendSseCompletion } from "../targets/loopbackServers.js";
import { assertTerminalSafe } from "../text/terminalSafe.js";
import { type CliRun, runCli } from "./runCli.js";

// What a hostile file or server would send: retitle the window (OSC ... BEL), clear the screen
// (CSI 2J), a one-byte C1 CSI, a right-to-left override, DEL, and a newline to fake a line.
const TITLE = "\u001b]0;pwned\u0007";
const CLEAR = "\u001b[2J";
const C1 = "\u009b31m";
const BIDI = "\u202eexe.txt";
const HOSTILE = `${TITLE}${CLEAR}${C1}${BIDI}\u007f\nfake line`;
/** What the sanitiser shows for {@link TITLE}: proof the text did reach the output. */
const TITLE_SHOWN = "\\x1b]0;pwned\\x07";

function assertCliSafe(run: CliRun, what: string): void {
  assertTerminalSafe(run.stdout, `${what}: stdout`);
  assertTerminalSafe(run.stderr, `${what}: stderr`);
}

describe("text from files, servers and users reaches the terminal escaped", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-escapes-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("inspect and roofline: hostile model name, architecture, metadata and tensor names", async () => {
    const f32 = ggmlTypeByName("F32");
    assert.ok(f32 !== undefined);
    const arch = `llama${TITLE}`;
    const path = join(dir, "hostile.gguf");
    const tensors = [
      { name: "token_embd.weight", shape: [8, 16], type: f32 },
      { name: `blk.0.attn_q.weight${CLEAR}${C1}`, shape: [8, 8], type: f32 },
      { name: `blk.0.ffn_up.weight${BIDI}`, shape: [8, 8], type: f32 },
    ];
    await writeGguf(path, {
      metadata: [
        { key: "general.architecture", type: "string", value: arch },
        { key: "general.name", type: "string", value: HOSTILE },
        { key: `${arch}.block_count`, type: "uint32", value: 1 },
        { key: `${arch}.embedding_length`, type: "uint32", value: 8 },
        { key: `${arch}.attention.head_count`, type: "uint32", value: 2 },
      ],
      tensors,
      data: (t) => [new Uint8Array(t.shape.reduce((a, b) => a * b, 1) * 4)],
    });
    const inspect = await runCli(["inspect", path]);
    assert.equal(inspect.code, 0, inspect.stderr);
    assertCliSafe(inspect, "inspect");
    assert.ok(inspect.stdout.includes(TITLE_SHOWN), "the hostile name is shown, escaped");
    assert.ok(inspect.stdout.includes("\\x1b[2J\\u009b31m"), "the hostile tensor name is shown, escaped");
    assert.ok(inspect.stdout.includes("\\u202eexe.txt"));

    const json = await runCli(["inspect", path, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    assertCliSafe(json, "inspect --json");
    const parsed = JSON.parse(json.stdout) as { name: string; tensors: { name: string }[] };
    assert.equal(parsed.name, HOSTILE, "--json keeps the exact value, escaped as JSON");
    assert.equal(parsed.tensors[1]?.name, tensors[1]?.name);

    const roofline = await runCli(["roofline", path, "--bandwidth", "10"]);
    assertCliSafe(roofline, "roofline");
  });

  it("GGUF_CORRUPT and FILE_NOT_FOUND messages quoting a hostile key or path", async () => {
    // A valid header whose only metadata value has an unknown type id: the message names the key.
    const header = encodeGgufHeader([{ key: `general.${HOSTILE}`, type: "uint8", value: 1 }], []);
    const typeAt = 24 + 8 + Buffer.byteLength(`general.${HOSTILE}`);
    assert.equal(header.readUInt32LE(typeAt), GGUF_VALUE_TYPE_IDS.uint8);
    header.writeUInt32LE(99, typeAt);
    const corrupt = join(dir, "corrupt.gguf");
    await writeFile(corrupt, header);
    const run = await runCli(["inspect", corrupt]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /GGUF_CORRUPT/);
    assert.ok(run.stderr.includes(TITLE_SHOWN), run.stderr);
    assertCliSafe(run, "GGUF_CORRUPT");

    const missing = await runCli(["inspect", join(dir, `missing${HOSTILE}.gguf`)]);
    assert.match(missing.stderr, /FILE_NOT_FOUND/);
    assert.ok(missing.stderr.includes(TITLE_SHOWN));
    assertCliSafe(missing, "FILE_NOT_FOUND");

    // yargs quotes an unknown flag the user typed.
    const flag = await runCli(["inspect", corrupt, `--x${TITLE}`]);
    assert.equal(flag.code, 2);
    assertCliSafe(flag, "unknown flag");
  });

  it("a prompt file whose bytes are quoted in the error", async () => {
    const server = await rawServer((_req, res) => res.end("{}"));
    const prompts = join(dir, "prompts.jsonl");
    await writeFile(prompts, `{"prompt": "fine"}\n${HOSTILE} {not json\n`);
    const run = await runCli(
      ["bench", "--url", `${server}/v1`, "--model", "m"].concat(["--prompt-file", prompts, "--no-save"]),
    );
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /PROMPT_FILE_INVALID/);
    assert.ok(run.stderr.includes("\\x1b"), run.stderr);
    assertCliSafe(run, "prompt file error");
  });

  it("server error bodies: not raw on the terminal, in --json or in the database", async () => {
    const server = await rawServer((req, res) => {
      if (req.method === "GET") {
        res.end("{}");
        return;
      }
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(`model crashed ${HOSTILE}`);
    });
    const db = join(dir, "errors.sqlite");
    const args = ["bench", "--url", `${server}/v1`, "--model", `m${TITLE}`, "-n", "2", "-c", "1"];
    const text = await runCli([...args, "--db", db]);
    assertCliSafe(text, "bench with failing server");
    const json = await runCli([...args, "--db", db, "--json"]);
    assertCliSafe(json, "bench --json with failing server");
    const result = JSON.parse(json.stdout) as RunResult & {
      requests: { error: { message: string } | null }[];
    };
    const message = result.requests[0]?.error?.message ?? "";
    assert.ok(message.includes(TITLE_SHOWN), message);

    const sqlite = new Database(db, { readonly: true });
    try {
      const rows = sqlite.prepare("SELECT error_message FROM requests").pluck().all() as string[];
      assert.equal(rows.length, 4);
      for (const stored of rows) {
        assert.ok(stored.includes(TITLE_SHOWN), stored);
        assertTerminalSafe(stored, "stored error_message");
      }
    } finally {
      sqlite.close();
    }
  });

  it("stored runs read back (runs, compare, regress as JSON and Markdown) and the files written are escaped", async () => {
    const server = await rawServer((req, res) => {
      if (req.method === "GET") {
        res.end("{}");
        return;
      }
      sendSseCompletion(res, { chunks: 2, usage: { prompt_tokens: 9, completion_tokens: 2 } });
    });
    const db = join(dir, "history.sqlite");
    const bench = ["bench", "--url", `${server}/v1`, "--model", `m${HOSTILE}`, "--tag", `t${C1}${BIDI}`];
    for (let i = 0; i < 2; i++) {
      const run = await runCli([...bench, "-n", "2", "--warmup", "0", "--max-tokens", "2", "--db", db]);
      assert.equal(run.code, 0, run.stderr);
    }
    const ids = (
      JSON.parse((await runCli(["runs", "--db", db, "--json"])).stdout) as { runs: { run_id: string }[] }
    ).runs.map((r) => r.run_id);
    const [last, first] = ids as [string, string];
    const accepted = await runCli(["accept", first, "--db", db]);
    assert.equal(accepted.code, 0, accepted.stderr);
    // Each with what shows that the hostile text did reach it, escaped (regress md names no model).
    const reads: [string[], string | null][] = [
      // JSON.stringify escapes C0 controls but leaves C1 and the bidirectional overrides raw.
      [["runs", "--db", db, "--json"], "\\u009b"],
      [["compare", first, last, "--db", db, "--format", "json"], "\\u009b"],
      [["compare", first, last, "--db", db, "--format", "md"], "\\u009b"],
      [["regress", "--current", last, "--db", db, "--format", "json"], "\\u009b"],
      [["regress", "--current", last, "--db", db, "--format", "md"], null],
      // The path written is quoted back on stderr.
      [["report", last, "--db", db, "--out", join(dir, `r${HOSTILE}.html`)], TITLE_SHOWN],
    ];
    for (const [args, shown] of reads) {
      const what = args.join(" ");
      const run = await runCli(args);
      assert.ok(run.code === 0 || (args[0] === "regress" && run.code !== 2), `${what}: ${run.stderr}`);
      assertCliSafe(run, what);
      if (shown !== null) assert.ok(`${run.stdout}${run.stderr}`.includes(shown), what);
    }
    // JSON escapes are still the same strings for a program that parses them.
    const listed = JSON.parse((await runCli(["runs", "--db", db, "--json"])).stdout) as {
      runs: { model: string }[];
    };
    assert.equal(listed.runs[0]?.model, `m${HOSTILE}`);
  });
});
