import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RunResult } from "../../src/results/RunResult.js";
import { rawServer, sendSseCompletion, startMock } from "../targets/loopbackServers.js";
import { benchArgs, runCli } from "./runCli.js";

const MODELS = '{"object":"list","data":[{"id":"m"}]}';

/** `bench` against `url`, few short requests, nothing stored. */
function bench(url: string, ...extra: string[]) {
  return runCli(benchArgs(url, "-n", "3", "--max-tokens", "4", "--no-save", ...extra));
}

/**
 * A server whose /v1/models answers 200 and whose generations answer `respond`; counts generations.
 * Anything else (/tokenize) is a 404.
 */
async function generationServer(
  respond: (res: import("node:http").ServerResponse, index: number) => void,
): Promise<{ url: string; posts: () => number }> {
  let posts = 0;
  const root = await rawServer((req, res) => {
    if (req.method === "GET") {
      res.writeHead(200, { "content-type": "application/json" }).end(MODELS);
      return;
    }
    if (req.url !== "/v1/chat/completions") {
      res.writeHead(404).end();
      return;
    }
    respond(res, posts++);
  });
  return { url: `${root}/v1`, posts: () => posts };
}

describe("runs in which requests fail say why, and exit non-zero when nothing succeeded", () => {
  it("a base URL without /v1, or a full endpoint URL, shows the first 404 with a hint at the base URL form", async () => {
    const { mock } = await startMock({ ttftMs: 1, itlMs: 1 });
    const cases: [string, string[], RegExp][] = [
      [mock.url, [], /the base URL does not end in \/v1: .* try http:\/\/127\.0\.0\.1:\d+\/v1\)/],
      [
        `${mock.url}/v1/chat/completions`,
        [],
        /the base URL ends in \/chat\/completions: give the API's base URL, e\.g\. http:\/\/127\.0\.0\.1:\d+\/v1;/,
      ],
      [
        `${mock.url}/v1/completions/`,
        ["--api", "completions"],
        /the base URL ends in \/completions: give the API's base URL, e\.g\. http:\/\/127\.0\.0\.1:\d+\/v1;/,
      ],
    ];
    for (const [url, extra, hint] of cases) {
      const run = await bench(url, ...extra);
      assert.equal(run.code, 1, `${url}: ${run.stderr}`);
      assert.match(run.stdout, /requests: 0 succeeded, 3 failed/);
      assert.match(run.stdout, /first error: HTTP 404 from POST http:\/\/127\.0\.0\.1:\d+\/\S+: .*no route/);
      assert.match(run.stdout, hint, url);
      assert.match(run.stdout, /no request succeeded/);
    }
    // The right form measures, exits 0 and shows no error line.
    const ok = await bench(`${mock.url}/v1`);
    assert.equal(ok.code, 0, ok.stderr);
    assert.doesNotMatch(ok.stdout, /first error|no request succeeded/);
  });

  it("a 401 or 403 on a generation aborts the run at once with 'authentication failed', warmup included", async () => {
    for (const status of [401, 403]) {
      for (const warmup of ["0", "1"]) {
        const server = await generationServer((res) => {
          res.writeHead(status, { "content-type": "application/json" });
          res.end(`{"error":{"message":"key revoked (${status})"}}`);
        });
        const run = await runCli(
          benchArgs(server.url, "-n", "40", "--warmup", warmup, "--no-save", "--json"),
        );
        assert.equal(run.code, 1, run.stderr);
        assert.equal(server.posts(), 1, `status ${status}, warmup ${warmup}: one request, not 40`);
        const result = JSON.parse(run.stdout) as RunResult;
        assert.equal(result.status, "aborted");
        assert.match(
          result.status_reason ?? "",
          new RegExp(`^authentication failed: HTTP ${status} from POST .*key revoked \\(${status}\\)`),
        );
        assert.equal(result.summary.requests.total, warmup === "0" ? 1 : 0);
      }
    }
  });

  it("a key refused at the reachability check is TARGET_AUTH_FAILED with the server's message", async () => {
    const { mock } = await startMock({ apiKey: "the-right-key-1234" });
    const run = await bench(`${mock.url}/v1`, "--api-key", "a-wrong-key-5678");
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /^tokbench: authentication failed: GET http:\/\/127\.0\.0\.1:\d+\/v1\/models answered HTTP 401 \(.*invalid api key.*\); check the credentials .*\[TARGET_AUTH_FAILED\]\n$/,
    );
    assert.ok(!run.stderr.includes("a-wrong-key-5678"));
  });

  it("429 and 503 are recorded as REQUEST_RATE_LIMITED with the Retry-After kept, never retried", async () => {
    const cases: [number, Record<string, string>, RegExp][] = [
      [429, { "retry-after": "7" }, /^HTTP 429 \(rate limited, Retry-After: 7\) from POST .*: .*slow down/],
      [503, {}, /^HTTP 503 \(rate limited\) from POST .*: .*slow down/],
      [
        503,
        { "retry-after": "Wed, 21 Oct 2099 07:28:00 GMT" },
        /^HTTP 503 \(rate limited, Retry-After: Wed, 21 Oct 2099 07:28:00 GMT\) from POST/,
      ],
    ];
    for (const [status, headers, message] of cases) {
      const server = await generationServer((res) => {
        res.writeHead(status, { "content-type": "application/json", ...headers });
        res.end('{"error":{"message":"slow down"}}');
      });
      const run = await runCli(benchArgs(server.url, "-n", "3", "--warmup", "0", "--no-save", "--json"));
      assert.equal(run.code, 1, "nothing succeeded");
      assert.equal(server.posts(), 3, "one send per request: no silent retry");
      const result = JSON.parse(run.stdout) as RunResult;
      assert.deepEqual(result.summary.requests.errors_by_code, { REQUEST_RATE_LIMITED: 3 });
      for (const record of result.requests) {
        assert.equal(record.error?.status, status);
        assert.match(record.error?.message ?? "", message);
      }
    }
    // Some limited, some served: the run completes, exits 0, and says what was limited.
    const mixed = await generationServer((res, index) => {
      if (index % 2 === 1) {
        res.writeHead(429, { "retry-after": "1" }).end();
      } else {
        sendSseCompletion(res, { chunks: 4, usage: { prompt_tokens: 5, completion_tokens: 4 } });
      }
    });
    const run = await runCli(
      benchArgs(mixed.url, "-n", "4", "--max-tokens", "4", "--warmup", "0", "--no-save"),
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /requests: 2 succeeded, 2 failed/);
    assert.match(run.stdout, /2 × REQUEST_RATE_LIMITED/);
    assert.match(run.stdout, /first error: HTTP 429 \(rate limited, Retry-After: 1\) from POST/);
  });

  it("the first error's server text reaches the terminal with its control characters escaped", async () => {
    const server = await generationServer((res) => {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end("boom \u001b]0;pwned\u0007 \u001b[2J done");
    });
    const run = await bench(server.url, "--warmup", "0");
    assert.equal(run.code, 1);
    assert.ok(!run.stdout.includes("\u001b") && !run.stdout.includes("\u0007"), "no raw control byte");
    assert.match(run.stdout, /first error: HTTP 500 from POST .*: boom \\x1b\]0;pwned\\x07 \\x1b\[2J done/);
  });

  it("a run whose requests all ended well but generated no token measured nothing: it says so and exits 1", async () => {
    const scripts: [string, (res: import("node:http").ServerResponse) => void][] = [
      ["a finish at once", (res) => sendSseCompletion(res, { chunks: 0 })],
      [
        "[DONE] alone",
        (res) => res.writeHead(200, { "content-type": "text/event-stream" }).end("data: [DONE]\n\n"),
      ],
      [
        "the text in a field no API has",
        (res) => {
          res.writeHead(200, { "content-type": "text/event-stream" });
          res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { output: " w0 w1" } }] })}\n\n`);
          res.write(
            `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\n`,
          );
          res.end("data: [DONE]\n\n");
        },
      ],
    ];
    for (const [what, respond] of scripts) {
      const { url } = await generationServer((res) => respond(res));
      const text = await bench(url, "--warmup", "0");
      assert.equal(text.code, 1, `${what}: ${text.stdout}${text.stderr}`);
      assert.match(text.stdout, /requests: 3 succeeded, 0 failed/, what);
      assert.match(text.stdout, /no request generated a token: nothing was measured/, what);
      const json = await bench(url, "--warmup", "0", "--json");
      assert.equal(json.code, 1, `${what} --json: ${json.stderr}`);
      assert.equal((JSON.parse(json.stdout) as RunResult).summary.total_output_tokens, 0, what);
    }
    // One token is a measurement: exit 0, and no such line.
    const { url } = await generationServer((res) => sendSseCompletion(res, { chunks: 1 }));
    const one = await bench(url, "--warmup", "0");
    assert.equal(one.code, 0, one.stderr);
    assert.doesNotMatch(one.stdout, /no request generated a token/);
  });
});
