import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { HttpEndpoint } from "../../src/http/HttpEndpoint.js";
import { OllamaTarget } from "../../src/targets/ollama/OllamaTarget.js";
import { OpenAiTarget } from "../../src/targets/openai/OpenAiTarget.js";

/** Headers of every request the server received, by path. */
const received = new Map<string, http.IncomingHttpHeaders>();
let root = "";
const server = http.createServer((req, res) => {
  received.set(req.url ?? "", req.headers);
  req.resume();
  req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
});
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  root = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const userHeaders: [string, string][] = [
  ["X-Trace", "a"],
  ["x-trace", "b"],
  ["Accept", "application/x-custom"],
  ["X-Api-Key", "hdr-secret-1"],
  ["Authorization", "Basic replaced-by-key"],
];

describe("HttpEndpoint", () => {
  it("joins a repeated header, lets a default one be replaced, and puts the API key last", async () => {
    const endpoint = new HttpEndpoint({
      baseUrl: `${root}/v1`,
      accept: "text/event-stream",
      apiKey: "sk-key-123",
      headers: userHeaders,
    });
    try {
      assert.deepEqual(endpoint.headers, {
        "content-type": "application/json",
        accept: "application/x-custom",
        "user-agent": "tokbench",
        "x-trace": "a, b",
        "x-api-key": "hdr-secret-1",
        authorization: "Bearer sk-key-123",
      });
      const result = await endpoint.stream({
        url: endpoint.url("/probe"),
        body: "{}",
        accept: "application/json",
      });
      assert.equal(result.outcome, "complete");
      const seen = received.get("/probe");
      assert.equal(seen?.["x-trace"], "a, b");
      assert.equal(seen?.accept, "application/json", "the per-exchange accept wins");
      assert.equal(seen?.authorization, "Bearer sk-key-123");
      assert.equal(seen?.["content-length"], "2");
      assert.equal(
        endpoint.headers.accept,
        "application/x-custom",
        "the endpoint's own headers are unchanged",
      );
    } finally {
      endpoint.close();
    }
  });

  it("a header named like an Object property is sent as given, not joined with it", () => {
    const endpoint = new HttpEndpoint({ baseUrl: root, accept: "*/*", headers: [["constructor", "x"]] });
    endpoint.close();
    assert.equal(endpoint.headers.constructor, "x");
  });

  it("lists every secret: key, bearer header, credential header values, URL query credentials", () => {
    const endpoint = new HttpEndpoint({
      baseUrl: "http://127.0.0.1:9/v1?api_key=q-secret-1&x=1",
      accept: "*/*",
      apiKey: "sk-key-123",
      headers: userHeaders,
    });
    endpoint.close();
    assert.deepEqual(
      [...endpoint.secrets].sort(),
      ["Basic replaced-by-key", "Bearer sk-key-123", "hdr-secret-1", "q-secret-1", "sk-key-123"].sort(),
    );
  });

  it("sends a URL's user:password as Basic auth, keeps it out of its URLs, and lists it as a secret", async () => {
    const endpoint = new HttpEndpoint({
      baseUrl: `${root.replace("//", "//user:p%40ss-word@")}/v1`,
      accept: "*/*",
    });
    const basic = Buffer.from("user:p@ss-word").toString("base64");
    try {
      assert.equal(endpoint.headers.authorization, `Basic ${basic}`);
      assert.deepEqual(
        [...endpoint.secrets].sort(),
        [`Basic ${basic}`, basic, "p%40ss-word", "p@ss-word"].sort(),
      );
      assert.equal(endpoint.url("/x/models").href, `${root}/x/models`);
      await endpoint.stream({ url: endpoint.url("/basic"), body: "{}" });
      assert.equal(received.get("/basic")?.authorization, `Basic ${basic}`);
    } finally {
      endpoint.close();
    }
  });

  it("refuses user:password in the URL together with an API key or an Authorization header", () => {
    for (const extra of [
      { apiKey: "sk-key-123" },
      { headers: [["Authorization", "Bearer x"]] as [string, string][] },
    ]) {
      assert.throws(
        () => new HttpEndpoint({ baseUrl: "http://u:pw-secret@127.0.0.1:9/v1", accept: "*/*", ...extra }),
        (error: Error & { code?: string }) =>
          error.code === "INVALID_ARGUMENT" &&
          /give only one/.test(error.message) &&
          !error.message.includes("pw-secret"),
      );
    }
  });

  it("refuses a header value or an API key holding a line break or a control character, quoting neither", () => {
    const cases = [
      { apiKey: "sk-abc\ndef" },
      { apiKey: "sk abc" },
      { headers: [["X-Trace", "a\r\nInjected: 1"]] as [string, string][] },
      { headers: [["X-Trace", "a\u001b[2J"]] as [string, string][] },
    ];
    for (const extra of cases) {
      assert.throws(
        () => new HttpEndpoint({ baseUrl: root, accept: "*/*", ...extra }),
        (error: Error & { code?: string }) =>
          error.code === "INVALID_ARGUMENT" &&
          /control character/.test(error.message) &&
          !/abc|Injected/.test(error.message),
      );
    }
  });

  it("an empty or null API key sends no authorization header", () => {
    for (const apiKey of ["", null, undefined]) {
      const endpoint = new HttpEndpoint({ baseUrl: root, accept: "*/*", apiKey });
      endpoint.close();
      assert.equal(endpoint.headers.authorization, undefined);
      assert.deepEqual(endpoint.secrets, []);
    }
  });

  it("rejects a base URL that is not http(s) with URL_INVALID, naming it as asked", () => {
    const cases: [string, string | undefined, RegExp][] = [
      ["not a url", undefined, /^the target URL is not a valid URL$/],
      ["ftp://127.0.0.1/v1", undefined, /^the target URL must start with http:\/\/ or https:\/\/, got ftp:$/],
      [
        "localhost:11434",
        "the Ollama URL",
        /^the Ollama URL must start with http:\/\/ or https:\/\/ \(did you mean http:\/\/localhost:11434\?\)$/,
      ],
      // The suggestion keeps no secret of the text.
      [
        "bench:pw-SECRET-1@127.0.0.1:8080/v1?api_key=k-SECRET-2",
        undefined,
        /^the target URL must start with http:\/\/ or https:\/\/ \(did you mean http:\/\/\[redacted\]@127\.0\.0\.1:8080\/v1\?api_key=\[redacted\]\?\)$/,
      ],
    ];
    for (const [baseUrl, urlName, message] of cases) {
      assert.throws(
        () => new HttpEndpoint({ baseUrl, urlName, accept: "*/*" }),
        (error: Error & { code?: string }) => {
          assert.equal(error.code, "URL_INVALID");
          assert.match(error.message, message);
          return true;
        },
      );
    }
  });

  it("both HTTP targets send repeated --header values joined", async () => {
    const targets = [
      new OpenAiTarget({ baseUrl: `${root}/v1`, model: "m", headers: userHeaders }),
      new OllamaTarget({ baseUrl: root, model: "m", headers: userHeaders }),
    ];
    for (const target of targets) await target.assertReachable();
    for (const target of targets) await target.close();
    for (const path of ["/v1/models", "/api/version"]) {
      const seen = received.get(path);
      assert.equal(seen?.["x-trace"], "a, b", path);
      assert.equal(seen?.["x-api-key"], "hdr-secret-1", path);
      assert.equal(seen?.authorization, "Basic replaced-by-key", path);
    }
  });
});
