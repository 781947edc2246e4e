import assert from "node:assert/strict";
import { test } from "node:test";
import { isSecretKey, REDACTED, stripSecrets } from "../../src/storage/stripSecrets.js";

test("credential key names are recognised in every spelling; token counts are not credentials", () => {
  const secret = [
    "api_key",
    "apiKey",
    "API_KEY",
    "OPENAI_API_KEY",
    "x-api-key",
    "X-Api-Key",
    "api-key",
    "Authorization",
    "proxy-authorization",
    "token",
    "accessToken",
    "auth_token",
    "hf_token",
    "password",
    "db_password",
    "clientSecret",
    "cookie",
    "auth",
    "private_key",
    "credentials",
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
  ];
  for (const key of secret) assert.equal(isSecretKey(key), true, key);
  for (const key of kept) assert.equal(isSecretKey(key), false, key);
});

test("stripSecrets redacts at any depth and leaves everything else equal", () => {
  const input = {
    model: "m",
    max_tokens: 32,
    list: [{ deep: { api_key: "k1" } }, "Bearer abc.def", "plain"],
    headers: [["Authorization", "Bearer zzz"], ["X-Trace", "t"], "Cookie: a=b"],
    nulls: { token: null },
  };
  assert.deepEqual(stripSecrets(input, ["plain"]), {
    model: "m",
    max_tokens: 32,
    list: [{ deep: { api_key: REDACTED } }, REDACTED, "***"],
    headers: [["Authorization", REDACTED], ["X-Trace", "t"], `Cookie: ${REDACTED}`],
    nulls: { token: null },
  });
  assert.equal(input.list[1], "Bearer abc.def", "the input is not modified");
});
