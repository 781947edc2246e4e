import { TokbenchError } from "../errors/TokbenchError.js";
import { redactUrl, urlSecrets } from "../secrets/redact.js";

/** OTLP encodings over HTTP that tokbench sends. */
export type OtlpProtocol = "http/protobuf" | "http/json";

/** Where and how a run's metrics are pushed over OTLP/HTTP. */
export interface OtlpOptions {
  /** The full URL the metrics are POSTed to (ending in `/v1/metrics` unless a signal-specific one was given). */
  url: string;
  /** Where `url` came from, for messages: the flag or the environment variable. */
  source: string;
  /** Encoding. Defaults to `http/protobuf`, the OTLP default. */
  protocol: OtlpProtocol;
  /** Milliseconds between exports while a run goes on. Defaults to 10,000. */
  interval_ms: number;
  /** Longest one export may take, the final one at the end of the run included. Defaults to 5,000. */
  timeout_ms: number;
  /** Literal secrets that may be quoted in messages: header values and the URL's credentials. */
  secrets: string[];
}

/** Where the live run's metrics are served for Prometheus to scrape. */
export interface PrometheusOptions {
  /** Interface to listen on. Defaults to `127.0.0.1`. */
  host: string;
  /** TCP port; 0 takes a free one. */
  port: number;
}

/** The telemetry a run exports; both null when it exports none. */
export interface TelemetryOptions {
  otlp: OtlpOptions | null;
  prometheus: PrometheusOptions | null;
}

/** Milliseconds between OTLP exports during a run when `OTEL_METRIC_EXPORT_INTERVAL` is not set. */
export const DEFAULT_EXPORT_INTERVAL_MS = 10_000;

/**
 * Longest an OTLP export may take when no timeout variable is set. Shorter than the OpenTelemetry
 * default (30 s) because the last export is waited for at the end of the run, before tokbench exits.
 */
export const DEFAULT_EXPORT_TIMEOUT_MS = 5_000;

/** The signal path the OTLP/HTTP specification appends to a base endpoint. */
const METRICS_PATH = "v1/metrics";

/**
 * The OTLP settings of a run, from `--otlp-endpoint` and the standard OpenTelemetry environment
 * variables, or null when nothing asks for an export:
 * - the URL: `--otlp-endpoint` (a collector's base URL, `/v1/metrics` appended unless it ends so
 *   already), else `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` (used as given), else
 *   `OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/metrics` appended); the variables are ignored when
 *   `OTEL_SDK_DISABLED=true` or `OTEL_METRICS_EXPORTER` does not name `otlp`;
 * - `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf`
 *   (default) or `http/json`; `grpc` is refused;
 * - `OTEL_METRIC_EXPORT_INTERVAL` (ms, default 10,000) and the timeout from
 *   `OTEL_EXPORTER_OTLP_METRICS_TIMEOUT`, `OTEL_EXPORTER_OTLP_TIMEOUT` or
 *   `OTEL_METRIC_EXPORT_TIMEOUT` (ms, default 5,000);
 * - `OTEL_EXPORTER_OTLP_HEADERS` / `OTEL_EXPORTER_OTLP_METRICS_HEADERS` (`key=value,...`) are sent by
 *   the exporter itself; their values are collected here as secrets, never to be printed.
 *
 * Throws `URL_INVALID` for an endpoint that is not an http(s) URL and `INVALID_ARGUMENT` for a
 * protocol or number tokbench cannot use; messages never quote a header or a URL's credentials.
 */
export function resolveOtlpOptions(
  endpointFlag: string | undefined,
  env: NodeJS.ProcessEnv,
): OtlpOptions | null {
  let url: string;
  let source: string;
  if (endpointFlag !== undefined) {
    source = "--otlp-endpoint";
    url = withMetricsPath(checkHttpUrl(endpointFlag, source), true);
  } else {
    const exporters = (env.OTEL_METRICS_EXPORTER ?? "otlp").split(",").map((s) => s.trim());
    if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true" || !exporters.includes("otlp")) return null;
    const specific = nonEmpty(env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT);
    const general = nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
    if (specific !== null) {
      source = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
      url = checkHttpUrl(specific, source);
    } else if (general !== null) {
      source = "OTEL_EXPORTER_OTLP_ENDPOINT";
      url = withMetricsPath(checkHttpUrl(general, source), false);
    } else {
      return null;
    }
  }
  const protocolName = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL";
  const protocolVar = nonEmpty(env[protocolName]) !== null ? protocolName : "OTEL_EXPORTER_OTLP_PROTOCOL";
  const protocol = (nonEmpty(env[protocolVar]) ?? "http/protobuf").trim();
  if (protocol !== "http/protobuf" && protocol !== "http/json") {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `${protocolVar}=${JSON.stringify(protocol)}: tokbench exports OTLP over HTTP only (http/protobuf or http/json, usually port 4318)`,
      { context: { variable: protocolVar } },
    );
  }
  const interval = envMilliseconds(env, ["OTEL_METRIC_EXPORT_INTERVAL"]) ?? DEFAULT_EXPORT_INTERVAL_MS;
  const timeout =
    envMilliseconds(env, [
      "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
      "OTEL_EXPORTER_OTLP_TIMEOUT",
      "OTEL_METRIC_EXPORT_TIMEOUT",
    ]) ?? DEFAULT_EXPORT_TIMEOUT_MS;
  const secrets = new Set(urlSecrets(url));
  for (const name of ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_METRICS_HEADERS"]) {
    for (const value of headerValues(env[name])) secrets.add(value);
  }
  return {
    url,
    source,
    protocol,
    interval_ms: interval,
    // The SDK's periodic reader refuses a timeout longer than its interval.
    timeout_ms: Math.min(timeout, interval),
    secrets: [...secrets].filter((s) => s !== ""),
  };
}

function nonEmpty(value: string | undefined): string | null {
  return value === undefined || value.trim() === "" ? null : value.trim();
}

/** `url` when it is an absolute http(s) URL; else `URL_INVALID`, quoting it with its secrets removed. */
function checkHttpUrl(url: string, source: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TokbenchError("URL_INVALID", `${source} is not a URL: ${redactUrl(url)}`, {
      context: { source },
    });
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new TokbenchError(
      "URL_INVALID",
      `${source} must be an http:// or https:// URL (OTLP/HTTP), got ${redactUrl(url)}`,
      { context: { source } },
    );
  }
  return url;
}

/**
 * A base endpoint with the metrics signal path appended, as the OTLP specification does for
 * `OTEL_EXPORTER_OTLP_ENDPOINT`. With `keepFull`, a URL whose path already ends in `/v1/metrics`
 * (what users paste from a collector's docs) is kept as it is.
 */
function withMetricsPath(url: string, keepFull: boolean): string {
  const parsed = new URL(url);
  if (keepFull && parsed.pathname.replace(/\/+$/, "").endsWith(`/${METRICS_PATH}`)) return url;
  parsed.pathname = `${parsed.pathname.replace(/\/+$/, "")}/${METRICS_PATH}`;
  return parsed.href;
}

/** The first of `names` set in `env`, as a positive number of milliseconds; `INVALID_ARGUMENT` otherwise. */
function envMilliseconds(env: NodeJS.ProcessEnv, names: readonly string[]): number | null {
  for (const name of names) {
    const text = nonEmpty(env[name]);
    if (text === null) continue;
    const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(n) || n <= 0) {
      throw new TokbenchError(
        "INVALID_ARGUMENT",
        `${name} must be a positive whole number of milliseconds (got ${JSON.stringify(text)})`,
        { context: { variable: name } },
      );
    }
    return n;
  }
  return null;
}

/**
 * The values of an OTLP headers variable (`key1=value1,key2=value2`, values percent-encoded), raw
 * and decoded, and the credential of a `Bearer`/`Basic` value alone: what a message could quote.
 */
function headerValues(text: string | undefined): string[] {
  if (text === undefined) return [];
  const values: string[] = [];
  for (const pair of text.split(",")) {
    const equals = pair.indexOf("=");
    if (equals === -1) continue;
    const raw = pair.slice(equals + 1).trim();
    values.push(raw);
    try {
      values.push(decodeURIComponent(raw));
    } catch {
      // Kept raw only: the exporter cannot decode it either.
    }
  }
  // The credential alone, as a server would echo it: `Bearer sk-...` -> `sk-...`.
  for (const value of [...values]) {
    const scheme = /^\s*(?:bearer|basic)\s+(\S+)\s*$/i.exec(value);
    if (scheme?.[1] !== undefined) values.push(scheme[1]);
  }
  return values;
}
