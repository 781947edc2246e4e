import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { RunResult } from "../../src/results/RunResult.js";
import { RunStore } from "../../src/storage/RunStore.js";
import { rawServer, sendSseCompletion } from "../targets/loopbackServers.js";
import { benchArgs, runCli } from "./runCli.js";

const PASSWORD = "url-PASSWORD-7731";
const QUERY_SECRET = "query-SECRET-5512";
const BODY_SECRET = "body-SECRET-0042";
const NESTED_SECRET = "nested-SECRET-9090";
const HEADER_SECRET = "header-SECRET-3131";
const ALL = [PASSWORD, QUERY_SECRET, BODY_SECRET, NESTED_SECRET, HEADER_SECRET];
const BASIC = `Basic ${Buffer.from(`bench-user:${PASSWORD}`).toString("base64")}`;

/** Every file of the database (main file, WAL) as one text. */
async function databaseBytes(dir: string, name: string): Promise<string> {
  let text = "";
  for (const file of await readdir(dir)) {
    if (file.startsWith(name)) text += (await readFile(join(dir, file))).toString("latin1");
  }
  return text;
}

describe("secrets in the configuration (URL user info and query, --extra-body, --header)", () => {
  let dir: string;
  /** Authorization headers the server received on generation requests. */
  const seenAuth: string[] = [];
  let okUrl: string;
  let echoUrl: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-secrets-"));
    const root = await rawServer((req, res) => {
      if (req.method === "GET") {
        res.writeHead(200, { "content-type": "application/json" }).end('{"data":[]}');
        return;
      }
      seenAuth.push(req.headers.authorization ?? "");
      sendSseCompletion(res, { chunks: 3, usage: { prompt_tokens: 9, completion_tokens: 3 } });
    });
    // A careless server: it refuses every generation and echoes the URL, headers and body it got.
    const echo = await rawServer((req, res, body) => {
      if (req.method === "GET") {
        res.writeHead(200, { "content-type": "application/json" }).end('{"data":[]}');
        return;
      }
      res.writeHead(400, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          error: { message: `bad request ${req.url} ${JSON.stringify(req.headers)} ${body}` },
        }),
      );
    });
    const withSecrets = (origin: string): string =>
      `${origin.replace("http://", `http://bench-user:${PASSWORD}@`)}/v1?api_key=${QUERY_SECRET}&mode=x`;
    okUrl = withSecrets(root);
    echoUrl = withSecrets(echo);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const args = (url: string, db: string): string[] =>
    benchArgs(
      url,
      ...["-n", "2", "--warmup", "0", "--max-tokens", "3", "--no-progress", "--db", db],
      "--extra-body",
      JSON.stringify({ api_key: BODY_SECRET, nested: { token: NESTED_SECRET }, temperature: 0 }),
      "--header",
      `X-Custom-Token: ${HEADER_SECRET}`,
    );

  it("sends the URL's user:password as Basic auth, and no secret reaches --json, the terminal or the database", async () => {
    const db = join(dir, "ok.sqlite");
    const json = await runCli([...args(okUrl, db), "--json"]);
    assert.equal(json.code, 0, json.stderr);
    assert.ok(seenAuth.length >= 2 && seenAuth.every((auth) => auth === BASIC), "Basic auth was sent");
    const result = JSON.parse(json.stdout) as RunResult;
    assert.equal(result.summary.requests.succeeded, 2);
    const config = result.config as { url: string; extra_body: Record<string, unknown> };
    assert.equal(config.url.includes("[redacted]@127.0.0.1"), true, config.url);
    assert.match(config.url, /api_key=\[redacted\]&mode=x$/);
    assert.deepEqual(config.extra_body, {
      api_key: "[redacted]",
      nested: { token: "[redacted]" },
      temperature: 0,
    });
    const text = await runCli(args(okUrl, join(dir, "text.sqlite")));
    assert.equal(text.code, 0, text.stderr);
    const stored = await databaseBytes(dir, "ok.sqlite");
    for (const secret of ALL) {
      for (const [where, output] of [
        ["--json stdout", json.stdout],
        ["stderr", json.stderr],
        ["terminal", text.stdout + text.stderr],
        ["database", stored],
      ] as const) {
        assert.ok(!output.includes(secret), `${secret} found in ${where}`);
      }
    }
  });

  it("keeps every secret out of error messages a server echoes (--json, database)", async () => {
    const db = join(dir, "echo.sqlite");
    const run = await runCli([...args(echoUrl, db), "--json"]);
    assert.notEqual(run.code, 0, "nothing succeeded");
    const result = JSON.parse(run.stdout) as {
      run_id: string;
      requests: { error: { message: string } | null }[];
    };
    const messages = result.requests.map((r) => r.error?.message ?? "");
    assert.equal(messages.length, 2);
    assert.ok(
      messages.every((m) => m.startsWith("HTTP 400 from POST")),
      messages[0],
    );
    const store = RunStore.open(db);
    const storedMessages = store
      .getRun(result.run_id)
      .requests.toArray()
      .map((r) => r.error?.message ?? "");
    store.close();
    const bytes = await databaseBytes(dir, "echo.sqlite");
    for (const secret of [...ALL, BASIC.slice(6)]) {
      assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret), `${secret} printed`);
      assert.ok(!storedMessages.join("\n").includes(secret), `${secret} in a stored error_message`);
      assert.ok(!bytes.includes(secret), `${secret} in the database file`);
    }
  });

  it("a token as the URL's user name, and Azure's ?code= key, stay out of echoed errors too", async () => {
    const token = "user-TOKEN-6060";
    const functionKey = "fn-KEY-4242";
    // A server that decodes the Basic credential it got and names it back, as some proxies do.
    const root = await rawServer((req, res) => {
      if (req.method === "GET") {
        res.writeHead(200, { "content-type": "application/json" }).end('{"data":[]}');
        return;
      }
      const basic = (req.headers.authorization ?? "").replace(/^Basic /, "");
      const user = Buffer.from(basic, "base64").toString().split(":")[0];
      res.writeHead(403, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: `user ${user} may not call ${req.url}` } }));
    });
    const db = join(dir, "token-user.sqlite");
    const url = `${root.replace("http://", `http://${token}@`)}/v1?code=${functionKey}`;
    const run = await runCli([
      ...benchArgs(url, "-n", "2", "--warmup", "0", "--no-progress", "--db", db),
      "--json",
    ]);
    assert.notEqual(run.code, 0, "nothing succeeded");
    const result = JSON.parse(run.stdout) as {
      config: { url: string };
      requests: { error: { message: string } }[];
    };
    assert.match(result.config.url, /^http:\/\/\[redacted\]@127\.0\.0\.1:\d+\/v1\?code=\[redacted\]$/);
    assert.match(
      result.requests[0]?.error.message ?? "",
      /user \*\*\* may not call \/v1\/chat\/completions\?code=\*\*\*/,
    );
    const bytes = await databaseBytes(dir, "token-user.sqlite");
    for (const secret of [token, functionKey]) {
      assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret), `${secret} printed`);
      assert.ok(!bytes.includes(secret), `${secret} in the database file`);
    }
  });

  it("refuses a URL with user:password together with an API key, naming neither secret", async () => {
    const run = await runCli([...args(okUrl, join(dir, "both.sqlite")), "--api-key", "sk-other-key-123"]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /Basic authentication.*API key.*give only one \[INVALID_ARGUMENT\]/);
    assert.equal(run.stderr.trim().split("\n").length, 1);
    for (const secret of [...ALL, "sk-other-key-123"]) assert.ok(!run.stderr.includes(secret));
  });
});
