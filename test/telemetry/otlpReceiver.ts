import http from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** One request the receiver got. */
export interface ReceivedExport {
  path: string;
  contentType: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** How the receiver answers: like a collector, never (a hung collector), or with an error status. */
export type ReceiverBehaviour = "accept" | "hang" | { status: number; echoAuthorization?: boolean };

/** A loopback OTLP/HTTP receiver for tests: keeps every request it gets. */
export interface OtlpReceiver {
  /** `http://127.0.0.1:PORT` (no path: the base URL an OTLP endpoint flag takes). */
  url: string;
  received: ReceivedExport[];
  close(): Promise<void>;
}

export async function startOtlpReceiver(behaviour: ReceiverBehaviour = "accept"): Promise<OtlpReceiver> {
  const received: ReceivedExport[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({
        path: req.url ?? "",
        contentType: req.headers["content-type"] ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks),
      });
      if (behaviour === "hang") return;
      if (behaviour === "accept") {
        // An empty ExportMetricsServiceResponse in the request's encoding: full success.
        const json = (req.headers["content-type"] ?? "").includes("json");
        res.writeHead(200, { "content-type": json ? "application/json" : "application/x-protobuf" });
        res.end(json ? "{}" : Buffer.alloc(0));
        return;
      }
      res.writeHead(behaviour.status, { "content-type": "text/plain" });
      res.end(behaviour.echoAuthorization ? `denied: ${req.headers.authorization ?? ""}` : "error");
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** OTLP/JSON types, as far as the tests read them. */
export interface JsonAnyValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
}
export interface JsonKeyValue {
  key: string;
  value: JsonAnyValue;
}
export interface JsonHistogramPoint {
  attributes: JsonKeyValue[];
  count: number | string;
  sum: number;
  min?: number;
  max?: number;
  bucketCounts: (number | string)[];
  explicitBounds: number[];
}
export interface JsonNumberPoint {
  attributes: JsonKeyValue[];
  asInt?: number | string;
  asDouble?: number;
}
export interface JsonMetric {
  name: string;
  unit: string;
  description: string;
  histogram?: { dataPoints: JsonHistogramPoint[]; aggregationTemporality: number };
  sum?: { dataPoints: JsonNumberPoint[]; isMonotonic?: boolean; aggregationTemporality: number };
  gauge?: { dataPoints: JsonNumberPoint[] };
}
export interface JsonExport {
  resourceMetrics: {
    resource: { attributes: JsonKeyValue[] };
    scopeMetrics: { scope: { name: string; version?: string }; metrics: JsonMetric[] }[];
  }[];
}

/** An OTLP attribute list as a plain record. */
export function attributesOf(list: JsonKeyValue[]): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const { key, value } of list) {
    out[key] =
      value.stringValue ??
      (value.intValue !== undefined ? Number(value.intValue) : (value.doubleValue ?? NaN));
  }
  return out;
}

/** Every metric of an OTLP/JSON export, by name. */
export function metricsByName(payload: JsonExport): Map<string, JsonMetric> {
  const out = new Map<string, JsonMetric>();
  for (const rm of payload.resourceMetrics) {
    for (const sm of rm.scopeMetrics) for (const metric of sm.metrics) out.set(metric.name, metric);
  }
  return out;
}

/**
 * A field of a protobuf message, read by wire type only. The OTLP request is checked against the
 * field numbers of opentelemetry-proto's metrics.proto (no generated code ships with the exporter:
 * it writes the wire format by hand, so the test reads it independently).
 */
export interface ProtoField {
  field: number;
  wire: number;
  /** Varint value (wire 0). */
  varint?: bigint;
  /** Length-delimited bytes (wire 2). */
  bytes?: Buffer;
  /** Fixed 64-bit bytes (wire 1). */
  fixed64?: Buffer;
}

/** The fields of one protobuf message, in order. Throws on a malformed buffer. */
export function readProto(buffer: Buffer): ProtoField[] {
  const fields: ProtoField[] = [];
  let at = 0;
  const varint = (): bigint => {
    let value = 0n;
    let shift = 0n;
    for (;;) {
      if (at >= buffer.length) throw new Error("truncated varint");
      const byte = buffer[at++] as number;
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value;
      shift += 7n;
    }
  };
  while (at < buffer.length) {
    const key = Number(varint());
    const field = key >> 3;
    const wire = key & 7;
    if (wire === 0) fields.push({ field, wire, varint: varint() });
    else if (wire === 1) {
      fields.push({ field, wire, fixed64: buffer.subarray(at, at + 8) });
      at += 8;
    } else if (wire === 2) {
      const length = Number(varint());
      if (at + length > buffer.length) throw new Error("truncated field");
      fields.push({ field, wire, bytes: buffer.subarray(at, at + length) });
      at += length;
    } else if (wire === 5) at += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return fields;
}

/** Name, unit and (for histograms) the total count of each metric in an OTLP protobuf request. */
export function protoMetricSummaries(
  body: Buffer,
): Map<string, { unit: string; histogramCount: number | null }> {
  const out = new Map<string, { unit: string; histogramCount: number | null }>();
  const sub = (fields: ProtoField[], n: number): Buffer[] =>
    fields.filter((f) => f.field === n && f.bytes !== undefined).map((f) => f.bytes as Buffer);
  // ExportMetricsServiceRequest.resource_metrics = 1; ResourceMetrics.scope_metrics = 2;
  // ScopeMetrics.metrics = 2; Metric.name = 1, unit = 3, histogram = 9;
  // Histogram.data_points = 1; HistogramDataPoint.count = 4 (fixed64).
  for (const resourceMetrics of sub(readProto(body), 1)) {
    for (const scopeMetrics of sub(readProto(resourceMetrics), 2)) {
      for (const metric of sub(readProto(scopeMetrics), 2)) {
        const fields = readProto(metric);
        const text = (n: number): string => sub(fields, n)[0]?.toString("utf8") ?? "";
        const histogram = sub(fields, 9)[0];
        let count: number | null = null;
        if (histogram !== undefined) {
          count = 0;
          for (const point of sub(readProto(histogram), 1)) {
            const c = readProto(point).find((f) => f.field === 4 && f.fixed64 !== undefined);
            count += c === undefined ? 0 : Number(c.fixed64?.readBigUInt64LE(0));
          }
        }
        out.set(text(1), { unit: text(3), histogramCount: count });
      }
    }
  }
  return out;
}
