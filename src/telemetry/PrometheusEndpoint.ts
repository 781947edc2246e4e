import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { type MetricProducer, MetricReader, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { TokbenchError } from "../errors/TokbenchError.js";
import { prometheusBaseName } from "./prometheusName.js";
import type { AttributeRecord } from "./runAttributes.js";
import type { PrometheusOptions } from "./TelemetryOptions.js";
import { withRunAttributes } from "./withRunAttributes.js";

/** The path Prometheus scrapes, as every exporter serves it. */
export const METRICS_PATH = "/metrics";

/** Content type of the Prometheus text exposition format. */
const TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8";

/** A metric reader that only collects when scraped; nothing to flush or shut down. */
class ScrapeReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/**
 * Serves a run's metrics in the Prometheus text format while it runs (`GET /metrics`). The server
 * is bound before the run starts, so a port that cannot be had fails the command before anything
 * is measured; until the run's meter exists it answers an empty exposition. Metrics are collected
 * only when scraped, from the same SDK instruments the OTLP export reads, and serialised by the
 * OpenTelemetry Prometheus exporter's serializer after renaming each metric as Prometheus' own OTLP
 * ingestion does ({@link prometheusBaseName}). Scrapes run on the event loop but cost only what
 * serialising a dozen metrics costs, between requests' socket reads.
 */
export class PrometheusEndpoint {
  /** The reader to register with the run's meter provider. */
  readonly reader: ScrapeReader;
  private readonly serializer = new PrometheusSerializer("", false);
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  /** The run's attributes, once the run has started; until then scrapes get an empty exposition. */
  private runAttributes: AttributeRecord | null = null;

  private constructor(producers: MetricProducer[]) {
    this.reader = new ScrapeReader({ metricProducers: producers });
    this.server = http.createServer((request, response) => this.handle(request, response));
    this.server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
  }

  /**
   * Binds `host:port`. Throws `METRICS_PORT_UNAVAILABLE` when the port is taken, not allowed, or the
   * host is not an address of this machine. `producers` are metrics from outside the SDK's
   * instruments (see ManyValueHistogram), collected with them on every scrape.
   */
  static async start(
    options: PrometheusOptions,
    producers: MetricProducer[] = [],
  ): Promise<PrometheusEndpoint> {
    const endpoint = new PrometheusEndpoint(producers);
    await new Promise<void>((resolve, reject) => {
      const onError = (cause: NodeJS.ErrnoException): void => {
        const why =
          cause.code === "EADDRINUSE"
            ? "the port is in use"
            : cause.code === "EACCES"
              ? "permission denied"
              : cause.code === "EADDRNOTAVAIL" || cause.code === "ENOTFOUND"
                ? "not an address of this machine"
                : (cause.code ?? cause.message);
        reject(
          new TokbenchError(
            "METRICS_PORT_UNAVAILABLE",
            `cannot serve Prometheus metrics on ${hostPort(options.host, options.port)}: ${why}`,
            { context: { host: options.host, port: options.port }, cause },
          ),
        );
      };
      endpoint.server.once("error", onError);
      endpoint.server.listen({ host: options.host, port: options.port }, () => {
        endpoint.server.off("error", onError);
        resolve();
      });
    });
    return endpoint;
  }

  /** `http://host:port/metrics`, with the port actually bound. */
  get url(): string {
    const address = this.server.address() as AddressInfo;
    return `http://${hostPort(address.address, address.port)}${METRICS_PATH}`;
  }

  /**
   * Call once the reader is registered with the run's meter provider: scrapes then return its
   * metrics, each data point with the run's attributes.
   */
  markBound(runAttributes: AttributeRecord): void {
    this.runAttributes = runAttributes;
  }

  /** Stops serving and closes open connections (a scraper's keep-alive would hold the process). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const path = (request.url ?? "/").split("?")[0];
    if (path !== METRICS_PATH) {
      response.writeHead(404, { "content-type": "text/plain" }).end(`not found: scrape ${METRICS_PATH}\n`);
      return;
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    const run = this.runAttributes;
    if (run === null) {
      response.writeHead(200, { "content-type": TEXT_FORMAT }).end("# the run has not started yet\n");
      return;
    }
    this.reader.collect().then(
      ({ resourceMetrics }) => {
        response
          .writeHead(200, { "content-type": TEXT_FORMAT })
          .end(this.serializer.serialize(renamed(withRunAttributes(resourceMetrics, run))));
      },
      () => {
        // Collected after the run's meter was shut down: nothing more to serve.
        response.writeHead(503, { "content-type": "text/plain" }).end("# the run has ended\n");
      },
    );
  }
}

/** `resourceMetrics` with each metric under its Prometheus name (the data points are shared, not copied). */
function renamed(resourceMetrics: ResourceMetrics): ResourceMetrics {
  return {
    ...resourceMetrics,
    scopeMetrics: resourceMetrics.scopeMetrics.map((scope) => ({
      ...scope,
      metrics: scope.metrics.map((metric) => ({
        ...metric,
        descriptor: {
          ...metric.descriptor,
          name: prometheusBaseName(metric.descriptor.name, metric.descriptor.unit),
        },
      })),
    })),
  };
}

/** `host:port`, with an IPv6 address in brackets. */
function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
