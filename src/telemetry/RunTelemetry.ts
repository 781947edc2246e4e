import { hostname } from "node:os";
import { ExportResultCode } from "@opentelemetry/core";
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from "@opentelemetry/resources";
import {
  MeterProvider,
  type MetricReader,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import type { RunStartInfo } from "../benchmark/RunStartInfo.js";
import type { RequestMetrics } from "../metrics/computeRequestMetrics.js";
import type { RequestRecord } from "../results/RequestRecord.js";
import { redactText, redactUrl } from "../secrets/redact.js";
import { TOKBENCH_VERSION } from "../toolVersion.js";
import { TIME_PER_OUTPUT_CHUNK } from "./genAiInstruments.js";
import { ManyValueHistogram } from "./ManyValueHistogram.js";
import { PrometheusEndpoint } from "./PrometheusEndpoint.js";
import { RequestRecorder } from "./RequestRecorder.js";
import { type AttributeRecord, runAttributes } from "./runAttributes.js";
import type { OtlpOptions, TelemetryOptions } from "./TelemetryOptions.js";
import { withRunAttributes } from "./withRunAttributes.js";

/** How the OTLP export of a run went, for the one line the CLI prints at the end. */
export interface OtlpReport {
  /** The endpoint, with its credentials removed. */
  url: string;
  /** Export attempts (periodic and final). */
  exports: number;
  /** Attempts that failed, after the exporter's own retries. */
  failed: number;
  /** Why the first failed attempt failed, one line, secrets removed; null when none failed. */
  first_error: string | null;
  /** Whether the final export had not finished when tokbench stopped waiting for it. */
  timed_out: boolean;
}

/**
 * The telemetry of one run: created before the run (binding the Prometheus port), fed by the run's
 * consumers, finished after it. A failing or slow collector never fails the run: export errors are
 * counted and reported once by {@link finish}.
 */
export interface RunTelemetry {
  /** Where Prometheus scrapes the live run, when serving. */
  readonly prometheusUrl: string | null;
  /** The OTLP endpoint, credentials removed, when exporting. */
  readonly otlpUrl: string | null;
  /** Call when the run has its id: creates the run's meter (its resource names the run). */
  onRunStart(info: RunStartInfo): void;
  /** `LoadHooks.onRequest`: records a finished request. */
  onRequest(record: RequestRecord, metrics: RequestMetrics): void;
  /** `LoadHooks.onInFlight`: requests in flight now. */
  onInFlight(requests: number): void;
  /**
   * Stops serving Prometheus, then pushes the last OTLP export and waits for it, at most about the
   * export timeout. Never throws.
   */
  finish(): Promise<OtlpReport | null>;
}

/**
 * Starts the telemetry of a run. This module is the only one that loads the OpenTelemetry SDK;
 * the CLI imports it only when a flag or variable asks for telemetry, so other runs pay nothing for
 * it at start-up. Throws `METRICS_PORT_UNAVAILABLE` when the Prometheus port cannot be bound.
 */
export async function startRunTelemetry(options: TelemetryOptions): Promise<RunTelemetry> {
  const perChunk = new ManyValueHistogram(TIME_PER_OUTPUT_CHUNK, SCOPE);
  const prometheus =
    options.prometheus === null ? null : await PrometheusEndpoint.start(options.prometheus, [perChunk]);
  const exporter =
    options.otlp === null ? null : new TallyingExporter(await createOtlpExporter(options.otlp));
  return new Telemetry(options, prometheus, exporter, perChunk);
}

/** The instrumentation scope of every metric tokbench exports. */
const SCOPE = { name: "tokbench", version: TOKBENCH_VERSION };

/** The OTLP/HTTP exporter of the asked encoding; only that one's package is loaded. */
async function createOtlpExporter(otlp: OtlpOptions): Promise<PushMetricExporter> {
  // Headers, certificates, compression and temporality come from the standard variables, read by
  // the exporter itself; the URL and timeout are tokbench's (see resolveOtlpOptions).
  const config = { url: otlp.url, timeoutMillis: otlp.timeout_ms };
  if (otlp.protocol === "http/json") {
    const { OTLPMetricExporter } = await import("@opentelemetry/exporter-metrics-otlp-http");
    return new OTLPMetricExporter(config);
  }
  const { OTLPMetricExporter } = await import("@opentelemetry/exporter-metrics-otlp-proto");
  return new OTLPMetricExporter(config);
}

/**
 * Adds the run's attributes to what it exports (see {@link withRunAttributes}) and counts what the
 * wrapped exporter reports, so that failures can be told once, at the end.
 */
class TallyingExporter implements PushMetricExporter {
  exports = 0;
  failed = 0;
  firstError: unknown = null;
  /** The run's attributes; set when the run starts. */
  runAttributes: AttributeRecord = {};
  readonly selectAggregationTemporality: PushMetricExporter["selectAggregationTemporality"];
  readonly selectAggregation: PushMetricExporter["selectAggregation"];

  constructor(private readonly inner: PushMetricExporter) {
    this.selectAggregationTemporality = inner.selectAggregationTemporality?.bind(inner);
    this.selectAggregation = inner.selectAggregation?.bind(inner);
  }

  export(metrics: ResourceMetrics, resultCallback: Parameters<PushMetricExporter["export"]>[1]): void {
    this.exports++;
    this.inner.export(withRunAttributes(metrics, this.runAttributes), (result) => {
      if (result.code !== ExportResultCode.SUCCESS) {
        this.failed++;
        this.firstError ??= result.error ?? new Error("export failed");
      }
      resultCallback(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

class Telemetry implements RunTelemetry {
  readonly prometheusUrl: string | null;
  readonly otlpUrl: string | null;
  private provider: MeterProvider | null = null;
  private recorder: RequestRecorder | null = null;
  private inFlight = 0;

  constructor(
    private readonly options: TelemetryOptions,
    private readonly prometheus: PrometheusEndpoint | null,
    private readonly exporter: TallyingExporter | null,
    private readonly perChunk: ManyValueHistogram,
  ) {
    this.prometheusUrl = prometheus?.url ?? null;
    this.otlpUrl = options.otlp === null ? null : redactUrl(options.otlp.url);
  }

  onRunStart(info: RunStartInfo): void {
    if (this.provider !== null) return;
    const readers: MetricReader[] = [];
    if (this.exporter !== null && this.options.otlp !== null) {
      readers.push(
        new PeriodicExportingMetricReader({
          exporter: this.exporter,
          exportIntervalMillis: this.options.otlp.interval_ms,
          exportTimeoutMillis: this.options.otlp.timeout_ms,
          metricProducers: [this.perChunk],
        }),
      );
    }
    if (this.prometheus !== null) readers.push(this.prometheus.reader);
    // The run's id is its instance: two machines pushing the same model's figures stay two series.
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (a team's labels) are applied last, so they win.
    const resource = defaultResource()
      .merge(
        resourceFromAttributes({
          "service.name": "tokbench",
          "service.version": TOKBENCH_VERSION,
          "service.instance.id": info.run_id,
          "host.name": hostname(),
        }),
      )
      .merge(detectResources({ detectors: [envDetector] }));
    this.provider = new MeterProvider({ resource, readers });
    const attributes = runAttributes(info.config);
    if (this.exporter !== null) this.exporter.runAttributes = attributes;
    this.recorder = new RequestRecorder(this.provider.getMeter(SCOPE.name, SCOPE.version), this.perChunk);
    this.recorder.inFlight = this.inFlight;
    this.prometheus?.markBound(attributes);
  }

  onRequest(record: RequestRecord, metrics: RequestMetrics): void {
    this.recorder?.record(record, metrics);
  }

  onInFlight(requests: number): void {
    this.inFlight = requests;
    if (this.recorder !== null) this.recorder.inFlight = requests;
  }

  async finish(): Promise<OtlpReport | null> {
    await this.prometheus?.close();
    const provider = this.provider;
    this.provider = null;
    if (provider === null) return this.report(false);
    const otlp = this.options.otlp;
    // The SDK bounds each export by the timeout (its retries included); an export already under way
    // when the run ends is waited for first, so the wait is at most about twice the timeout.
    const limit = otlp === null ? 1000 : 2 * otlp.timeout_ms + 1000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      provider.shutdown().then(
        () => false,
        () => false,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), limit);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    return this.report(timedOut);
  }

  private report(timedOut: boolean): OtlpReport | null {
    if (this.exporter === null || this.options.otlp === null || this.otlpUrl === null) return null;
    const { exports, failed, firstError } = this.exporter;
    return {
      url: this.otlpUrl,
      exports,
      failed,
      first_error: firstError === null ? null : describeExportError(firstError, this.options.otlp.secrets),
      timed_out: timedOut,
    };
  }
}

/**
 * One line saying why an export failed, without server text: the HTTP status, or the system error
 * code (`ECONNREFUSED`), or the exporter's own message, with every secret removed. Whoever prints
 * it sanitises it for the terminal.
 */
function describeExportError(error: unknown, secrets: readonly string[]): string {
  const e = error as { code?: unknown; message?: unknown };
  if (typeof e.code === "number") return `HTTP ${e.code}`;
  const message = typeof e.message === "string" && e.message !== "" ? e.message : String(error);
  const text = typeof e.code === "string" && !message.includes(e.code) ? `${e.code}: ${message}` : message;
  return redactText(text.split("\n")[0] ?? "", secrets);
}
