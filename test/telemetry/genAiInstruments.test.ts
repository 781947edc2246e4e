import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as semconv from "@opentelemetry/semantic-conventions/incubating";
import {
  ATTR,
  OPERATION_DURATION,
  TIME_PER_OUTPUT_CHUNK,
  TIME_PER_OUTPUT_TOKEN,
  TIME_TO_FIRST_CHUNK,
  TIME_TO_FIRST_TOKEN,
  TOKEN_USAGE,
} from "../../src/telemetry/genAiInstruments.js";
import { prometheusBaseName } from "../../src/telemetry/prometheusName.js";
import { runAttributes } from "../../src/telemetry/runAttributes.js";

describe("genAiInstruments", () => {
  it("uses the names of the OpenTelemetry semantic conventions' incubating entry", () => {
    assert.equal(OPERATION_DURATION.name, semconv.METRIC_GEN_AI_CLIENT_OPERATION_DURATION);
    assert.equal(TOKEN_USAGE.name, semconv.METRIC_GEN_AI_CLIENT_TOKEN_USAGE);
    assert.equal(TIME_TO_FIRST_CHUNK.name, semconv.METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK);
    assert.equal(TIME_PER_OUTPUT_CHUNK.name, semconv.METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK);
    assert.equal(TIME_TO_FIRST_TOKEN.name, semconv.METRIC_GEN_AI_SERVER_TIME_TO_FIRST_TOKEN);
    assert.equal(TIME_PER_OUTPUT_TOKEN.name, semconv.METRIC_GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN);
    assert.equal(ATTR.OPERATION_NAME, semconv.ATTR_GEN_AI_OPERATION_NAME);
    assert.equal(ATTR.PROVIDER_NAME, semconv.ATTR_GEN_AI_PROVIDER_NAME);
    assert.equal(ATTR.REQUEST_MODEL, semconv.ATTR_GEN_AI_REQUEST_MODEL);
    assert.equal(ATTR.TOKEN_TYPE, semconv.ATTR_GEN_AI_TOKEN_TYPE);
    assert.equal(ATTR.SERVER_ADDRESS, semconv.ATTR_SERVER_ADDRESS);
    assert.equal(ATTR.SERVER_PORT, semconv.ATTR_SERVER_PORT);
    assert.equal(ATTR.ERROR_TYPE, semconv.ATTR_ERROR_TYPE);
    assert.equal(semconv.GEN_AI_TOKEN_TYPE_VALUE_INPUT, "input");
    assert.equal(semconv.GEN_AI_OPERATION_NAME_VALUE_CHAT, "chat");
    assert.equal(semconv.GEN_AI_OPERATION_NAME_VALUE_TEXT_COMPLETION, "text_completion");
    assert.equal(semconv.GEN_AI_PROVIDER_NAME_VALUE_OPENAI, "openai");
  });

  it("histogram buckets are strictly increasing", () => {
    for (const def of [
      OPERATION_DURATION,
      TOKEN_USAGE,
      TIME_TO_FIRST_CHUNK,
      TIME_TO_FIRST_TOKEN,
      TIME_PER_OUTPUT_TOKEN,
    ]) {
      const buckets = def.buckets ?? [];
      assert.ok(buckets.length > 0, def.name);
      for (let i = 1; i < buckets.length; i++) assert.ok((buckets[i] as number) > (buckets[i - 1] as number));
    }
  });
});

describe("prometheusBaseName", () => {
  it("appends the unit's word as Prometheus' OTLP ingestion does; annotations add nothing", () => {
    assert.equal(
      prometheusBaseName("gen_ai.server.time_to_first_token", "s"),
      "gen_ai.server.time_to_first_token_seconds",
    );
    assert.equal(prometheusBaseName("gen_ai.client.token.usage", "{token}"), "gen_ai.client.token.usage");
    assert.equal(prometheusBaseName("tokbench.requests", "{request}"), "tokbench.requests");
    assert.equal(prometheusBaseName("x.size", "By"), "x.size_bytes");
    assert.equal(prometheusBaseName("x.wait_seconds", "s"), "x.wait_seconds");
  });
});

describe("runAttributes", () => {
  it("a server: API flavour, model, host and port, never the URL's credentials or path", () => {
    assert.deepEqual(
      runAttributes({ target: "openai-chat", model: "llama-3", url: "http://u:pw@10.0.0.5:8080/v1?key=x" }),
      {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "llama-3",
        "server.address": "10.0.0.5",
        "server.port": 8080,
      },
    );
    assert.deepEqual(
      runAttributes({ target: "openai-completions", model: "m", url: "https://api.example/v1" }),
      {
        "gen_ai.operation.name": "text_completion",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "m",
        "server.address": "api.example",
        "server.port": 443,
      },
    );
    assert.equal(
      runAttributes({ target: "ollama", model: "q", url: "http://[::1]:11434" })["server.address"],
      "::1",
    );
    assert.equal(
      runAttributes({ target: "ollama", model: "q", url: "http://h" })["gen_ai.provider.name"],
      "ollama",
    );
  });

  it("the embedded engine: llama.cpp, text completion, the model file's name, no server", () => {
    assert.deepEqual(runAttributes({ target: "embedded", model: "/home/me/models/tiny.gguf" }), {
      "gen_ai.operation.name": "text_completion",
      "gen_ai.provider.name": "llama.cpp",
      "gen_ai.request.model": "tiny.gguf",
    });
  });
});
