import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { telemetryOptionsFromArgs } from "../../src/cli/commands/bench/telemetryConsumer.js";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";
import { redactText } from "../../src/secrets/redact.js";
import {
  DEFAULT_EXPORT_INTERVAL_MS,
  DEFAULT_EXPORT_TIMEOUT_MS,
  resolveOtlpOptions,
} from "../../src/telemetry/TelemetryOptions.js";

describe("resolveOtlpOptions", () => {
  it("is null when neither the flag nor a variable asks for an export", () => {
    assert.equal(resolveOtlpOptions(undefined, {}), null);
    assert.equal(resolveOtlpOptions(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: "  " }), null);
  });

  it("--otlp-endpoint is a collector's base URL; a URL that already ends in /v1/metrics is kept", () => {
    assert.equal(resolveOtlpOptions("http://collector:4318", {})?.url, "http://collector:4318/v1/metrics");
    assert.equal(resolveOtlpOptions("http://collector:4318/", {})?.url, "http://collector:4318/v1/metrics");
    assert.equal(
      resolveOtlpOptions("https://otlp.example/otlp", {})?.url,
      "https://otlp.example/otlp/v1/metrics",
    );
    assert.equal(resolveOtlpOptions("http://c:4318/v1/metrics", {})?.url, "http://c:4318/v1/metrics");
    assert.equal(resolveOtlpOptions("http://c:4318", {})?.source, "--otlp-endpoint");
  });

  it("reads the standard variables: the signal's endpoint as given, the general one with /v1/metrics", () => {
    const general = resolveOtlpOptions(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/base" });
    assert.equal(general?.url, "http://c:4318/base/v1/metrics");
    assert.equal(general?.source, "OTEL_EXPORTER_OTLP_ENDPOINT");
    const specific = resolveOtlpOptions(undefined, {
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318",
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://m:9090/api/v1/otlp/v1/metrics",
    });
    assert.equal(specific?.url, "http://m:9090/api/v1/otlp/v1/metrics");
    // The flag wins over the variables.
    const flag = resolveOtlpOptions("http://f:4318", { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://m:1/x" });
    assert.equal(flag?.url, "http://f:4318/v1/metrics");
  });

  it("the variables alone do nothing when OpenTelemetry is disabled or metrics go to no OTLP exporter", () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" };
    assert.equal(resolveOtlpOptions(undefined, { ...endpoint, OTEL_SDK_DISABLED: "true" }), null);
    assert.equal(resolveOtlpOptions(undefined, { ...endpoint, OTEL_METRICS_EXPORTER: "none" }), null);
    assert.notEqual(
      resolveOtlpOptions(undefined, { ...endpoint, OTEL_METRICS_EXPORTER: "prometheus,otlp" }),
      null,
    );
    // The flag is an explicit request.
    assert.notEqual(resolveOtlpOptions("http://c:4318", { OTEL_SDK_DISABLED: "true" }), null);
  });

  it("protocol http/protobuf by default, http/json on request, gRPC refused in one line", () => {
    assert.equal(resolveOtlpOptions("http://c:4318", {})?.protocol, "http/protobuf");
    assert.equal(
      resolveOtlpOptions("http://c:4318", { OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" })?.protocol,
      "http/json",
    );
    assert.equal(
      resolveOtlpOptions("http://c:4318", {
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "http/json",
      })?.protocol,
      "http/json",
    );
    assert.throws(
      () => resolveOtlpOptions("http://c:4318", { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }),
      (e: unknown) =>
        isTokbenchError(e, "INVALID_ARGUMENT") &&
        /OTEL_EXPORTER_OTLP_PROTOCOL="grpc": tokbench exports OTLP over HTTP only/.test(e.message),
    );
  });

  it("interval and timeout: tokbench's defaults, the variables, refused when not a positive integer", () => {
    const defaults = resolveOtlpOptions("http://c:4318", {});
    assert.equal(defaults?.interval_ms, DEFAULT_EXPORT_INTERVAL_MS);
    assert.equal(defaults?.timeout_ms, DEFAULT_EXPORT_TIMEOUT_MS);
    const set = resolveOtlpOptions("http://c:4318", {
      OTEL_METRIC_EXPORT_INTERVAL: "30000",
      OTEL_EXPORTER_OTLP_TIMEOUT: "2000",
      OTEL_METRIC_EXPORT_TIMEOUT: "9000",
    });
    assert.deepEqual([set?.interval_ms, set?.timeout_ms], [30000, 2000]);
    // A timeout beyond the interval is cut to it (the SDK's reader refuses it otherwise).
    const cut = resolveOtlpOptions("http://c:4318", { OTEL_METRIC_EXPORT_INTERVAL: "500" });
    assert.equal(cut?.timeout_ms, 500);
    for (const bad of ["0", "-5", "1.5", "10s"]) {
      assert.throws(
        () => resolveOtlpOptions("http://c:4318", { OTEL_METRIC_EXPORT_INTERVAL: bad }),
        (e: unknown) => isTokbenchError(e, "INVALID_ARGUMENT") && e.message.includes(JSON.stringify(bad)),
      );
    }
  });

  it("header values and a URL's credentials are secrets, raw and decoded; a bad URL is quoted without them", () => {
    const options = resolveOtlpOptions("http://user:s3cr3t-pw@c:4318", {
      OTEL_EXPORTER_OTLP_HEADERS: "api-key=k-12345678,x-tenant=team%20a",
      OTEL_EXPORTER_OTLP_METRICS_HEADERS: "Authorization=Bearer%20tok-abcdefgh",
    });
    const secrets = options?.secrets ?? [];
    for (const s of [
      "s3cr3t-pw",
      "k-12345678",
      "team%20a",
      "team a",
      "Bearer tok-abcdefgh",
      "tok-abcdefgh",
    ]) {
      assert.ok(secrets.includes(s), `${s} is a secret`);
    }
    assert.equal(
      redactText("401 for tok-abcdefgh at http://user:s3cr3t-pw@c:4318/v1/metrics", secrets),
      "401 for *** at http://[redacted]@c:4318/v1/metrics",
    );
    assert.throws(
      () => resolveOtlpOptions("ftp://user:hunter22@c/", {}),
      (e: unknown) =>
        isTokbenchError(e, "URL_INVALID") &&
        !e.message.includes("hunter22") &&
        e.message.includes("[redacted]@"),
    );
    assert.throws(
      () => resolveOtlpOptions("collector:4318", {}),
      (e: unknown) => isTokbenchError(e, "URL_INVALID"),
    );
  });
});

describe("telemetryOptionsFromArgs (bench flags)", () => {
  it("--prometheus-port alone serves on 127.0.0.1; --prometheus-host changes the interface", () => {
    assert.deepEqual(telemetryOptionsFromArgs({ "prometheus-port": "9464" }, {}), {
      otlp: null,
      prometheus: { host: "127.0.0.1", port: 9464 },
    });
    assert.deepEqual(
      telemetryOptionsFromArgs({ "prometheus-port": "0", "prometheus-host": "0.0.0.0" }, {})?.prometheus,
      { host: "0.0.0.0", port: 0 },
    );
    assert.equal(telemetryOptionsFromArgs({}, {}), null);
  });

  it("refuses a port out of range, a host without a port, an empty host", () => {
    for (const args of [
      { "prometheus-port": "65536" },
      { "prometheus-port": "-1" },
      { "prometheus-port": "http" },
      { "prometheus-host": "0.0.0.0" },
      { "prometheus-port": "9464", "prometheus-host": " " },
    ]) {
      assert.throws(
        () => telemetryOptionsFromArgs(args, {}),
        (e: unknown) => isTokbenchError(e, "INVALID_ARGUMENT"),
      );
    }
  });
});
