import assert from "node:assert/strict";
import { test } from "node:test";
import {
  isSecretKey,
  REDACTED,
  redactSecrets,
  redactText,
  redactUrl,
  secretValues,
  urlSecrets,
} from "../../src/secrets/redact.js";

test("credential names are recognised in every spelling; token counts are not credentials", () => {
  const secret = [
    "api_key",
    "apiKey",
    "API_KEY",
    "OPENAI_API_KEY",
    "x-api-key",
    "X-Api-Key",
    "api-key",
    "key",
    "Authorization",
    "proxy-authorization",
    "token",
    "accessToken",
    "access_token",
    "auth_token",
    "hf_token",
    "password",
    "db_password",
    "clientSecret",
    "cookie",
    "auth",
    "private_key",
    "credentials",
    "signature",
    "sig",
    "X-Amz-Signature",
    "x-goog-api-key",
    "code",
    "pass",
  ];
  const kept = [
    "max_tokens",
    "prompt_tokens",
    "output_tokens",
    "tokenizer",
    "token_source",
    "tokens_per_s",
    "model",
    "url",
    "header_names",
    "author",
    "key_count",
    "monkey",
    "temperature",
    "error_code",
    "passthrough",
    "",
  ];
  for (const key of secret) assert.equal(isSecretKey(key), true, key);
  for (const key of kept) assert.equal(isSecretKey(key), false, key);
});

test("redactSecrets redacts at any depth and leaves everything else equal", () => {
  const input = {
    model: "m",
    max_tokens: 32,
    list: [{ deep: { api_key: "k1" } }, "Bearer abc.def", "plain"],
    headers: [["Authorization", "Bearer zzz"], ["X-Trace", "t"], "Cookie: a=b"],
    nulls: { token: null },
  };
  assert.deepEqual(redactSecrets(input, ["plain"]), {
    model: "m",
    max_tokens: 32,
    list: [{ deep: { api_key: REDACTED } }, REDACTED, "***"],
    headers: [["Authorization", REDACTED], ["X-Trace", "t"], `Cookie: ${REDACTED}`],
    nulls: { token: null },
  });
  assert.equal(input.list[1], "Bearer abc.def", "the input is not modified");
});

test("URLs lose their user info and credential query values, and keep everything else as written", () => {
  const cases: [string, string][] = [
    ["http://user:pw@127.0.0.1:8080/v1", `http://${REDACTED}@127.0.0.1:8080/v1`],
    ["http://user@host/v1", `http://${REDACTED}@host/v1`],
    ["http://u:p@ss@host/v1?x=1", `http://${REDACTED}@host/v1?x=1`],
    [
      "http://h/v1?api_key=S1&model=m&token=S2&sig=S3&key=S4#frag",
      `http://h/v1?api_key=${REDACTED}&model=m&token=${REDACTED}&sig=${REDACTED}&key=${REDACTED}#frag`,
    ],
    ["http://h/v1?access%5Ftoken=S5", `http://h/v1?access%5Ftoken=${REDACTED}`],
    ["postgres://me:PGPASS@db.example:5432/bench", `postgres://${REDACTED}@db.example:5432/bench`],
    ["http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"],
    ["not a url", "not a url"],
  ];
  for (const [input, expected] of cases) assert.equal(redactUrl(input), expected, input);
  assert.equal(
    redactUrl(new URL("http://a:b@h/x?password=c")),
    `http://${REDACTED}@h/x?password=${REDACTED}`,
  );
});

test("redactText removes URLs' secrets, Bearer/Basic credentials and known literals inside free text", () => {
  const text =
    'HTTP 401 from POST http://u:pw@h/v1/chat/completions?api_key=QS: invalid key "Bearer sk-live-123" (sent sk-lit-9999)';
  const out = redactText(text, ["sk-lit-9999"]);
  assert.equal(
    out,
    `HTTP 401 from POST http://${REDACTED}@h/v1/chat/completions?api_key=${REDACTED}: invalid key "Bearer ${REDACTED}" (sent ***)`,
  );
  assert.equal(redactText("Bearer authentication required"), "Bearer authentication required");
  assert.equal(redactText("Basic dXNlcjpwYXNz"), `Basic ${REDACTED}`);
  assert.equal(redactText("short abc", ["abc"]), "short abc", "literals under 4 characters are not searched");
});

test("secretValues finds every literal a configuration carries, for text that quotes them", () => {
  const found = secretValues({
    url: "http://user:url-pass@h/v1?api_key=query-secret&model=m",
    extra_body: { api_key: "body-secret", nested: { token: "nested-secret" }, temperature: 0 },
    headers: [["X-Api-Key", "header-secret"]],
    header_lines: ["Authorization: Bearer line-secret"],
    model: "visible-model",
  });
  for (const secret of [
    "url-pass",
    "query-secret",
    "body-secret",
    "nested-secret",
    "header-secret",
    "line-secret",
  ]) {
    assert.ok(found.includes(secret), secret);
  }
  assert.ok(!found.includes("visible-model"));
  assert.deepEqual(urlSecrets("http://h/v1"), []);
});

test("a URL whose user name is the whole credential (https://TOKEN@host): the token is a literal to cut from echoes", () => {
  const literals = urlSecrets("http://tok%2Fen-123@h/v1?code=fn-key-9");
  for (const secret of ["tok%2Fen-123", "tok/en-123", "fn-key-9"])
    assert.ok(literals.includes(secret), secret);
  const echoed = redactText("unknown user tok/en-123 (key fn-key-9)", literals);
  assert.equal(echoed, "unknown user *** (key ***)");
  // Beside a password the user name is an identity, and stays: "bench" is part of "tokbench".
  assert.deepEqual(urlSecrets("http://bench:pw-secret@h/v1"), ["pw-secret"]);
});

test("a PostgreSQL connection string: its password goes, as a URL and as a literal a server or driver echoes", () => {
  const url = "postgresql://bench:p%40ss%2Fw0rd-42@db.example:5432/runs?sslmode=require&password=q-secret-7";
  assert.equal(
    redactUrl(url),
    `postgresql://${REDACTED}@db.example:5432/runs?sslmode=require&password=${REDACTED}`,
  );
  const literals = urlSecrets(url);
  for (const secret of ["p%40ss%2Fw0rd-42", "p@ss/w0rd-42", "q-secret-7"])
    assert.ok(literals.includes(secret), secret);
  const driverText = `connect to ${url} failed: password "p@ss/w0rd-42" rejected; retry with q-secret-7`;
  const out = redactText(driverText, literals);
  for (const secret of ["p@ss/w0rd-42", "w0rd-42", "q-secret-7"]) assert.ok(!out.includes(secret), out);
  assert.match(out, /postgresql:\/\/\[redacted\]@db\.example:5432\/runs/);
});
