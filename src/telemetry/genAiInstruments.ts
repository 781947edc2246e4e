/**
 * The instruments tokbench exports (OTLP and Prometheus), as data: the OpenTelemetry GenAI semantic
 * conventions' names, units and recommended histogram buckets, and tokbench's own few. Which
 * tokbench figure feeds each one is in docs/metrics.md ("Exported metrics") and in
 * `RequestRecorder`. No SDK import here: the CLI reads these names without loading OpenTelemetry.
 *
 * The conventions (GenAI metrics, status Development) define `gen_ai.client.*` instruments for the
 * client side of a call and `gen_ai.server.*` ones for a model server reporting on itself. tokbench
 * is a client, so it exports both kinds: the client ones as the conventions define them, and the
 * server ones measured from the client (the server's own view is not known to tokbench), because a
 * model server's dashboards are built on them and the figures are then comparable side by side.
 */

/** Kinds of instrument tokbench creates. */
export type InstrumentKind = "histogram" | "counter" | "gauge";

/** One exported instrument. */
export interface InstrumentDefinition {
  name: string;
  kind: InstrumentKind;
  /** UCUM unit as the conventions write it (`s`, `{token}`). */
  unit: string;
  description: string;
  /** Explicit histogram bucket boundaries (the conventions' recommendation); histograms only. */
  buckets?: readonly number[];
}

/** Buckets the conventions recommend for every duration measured by the client, in seconds. */
const CLIENT_DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
] as const;

/** `gen_ai.client.operation.duration`: a request from send to the end of its stream. */
export const OPERATION_DURATION: InstrumentDefinition = {
  name: "gen_ai.client.operation.duration",
  kind: "histogram",
  unit: "s",
  description: "GenAI operation duration.",
  buckets: CLIENT_DURATION_BUCKETS,
};

/** `gen_ai.client.token.usage`: input and output tokens of a request (`gen_ai.token.type`). */
export const TOKEN_USAGE: InstrumentDefinition = {
  name: "gen_ai.client.token.usage",
  kind: "histogram",
  unit: "{token}",
  description: "Number of input and output tokens used.",
  buckets: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864],
};

/** `gen_ai.client.operation.time_to_first_chunk`: send to the first token-bearing chunk. */
export const TIME_TO_FIRST_CHUNK: InstrumentDefinition = {
  name: "gen_ai.client.operation.time_to_first_chunk",
  kind: "histogram",
  unit: "s",
  description:
    "Time to receive the first chunk, measured from when the client issues the generation request to when the first chunk is received in the response stream.",
  buckets: CLIENT_DURATION_BUCKETS,
};

/** `gen_ai.client.operation.time_per_output_chunk`: one sample per gap between token-bearing chunks. */
export const TIME_PER_OUTPUT_CHUNK: InstrumentDefinition = {
  name: "gen_ai.client.operation.time_per_output_chunk",
  kind: "histogram",
  unit: "s",
  description:
    "Time per output chunk, recorded for each chunk received after the first one, measured as the time elapsed from the end of the previous chunk to the end of the current chunk.",
  buckets: CLIENT_DURATION_BUCKETS,
};

/** `gen_ai.server.time_to_first_token`: tokbench's TTFT, seen from the client. */
export const TIME_TO_FIRST_TOKEN: InstrumentDefinition = {
  name: "gen_ai.server.time_to_first_token",
  kind: "histogram",
  unit: "s",
  description: "Time to generate first token for successful responses.",
  buckets: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0],
};

/** `gen_ai.server.time_per_output_token`: tokbench's TPOT, seen from the client. */
export const TIME_PER_OUTPUT_TOKEN: InstrumentDefinition = {
  name: "gen_ai.server.time_per_output_token",
  kind: "histogram",
  unit: "s",
  description: "Time per output token generated after the first token for successful responses.",
  buckets: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5],
};

/** `tokbench.requests`: recorded requests, by `tokbench.request.status` (and `error.type`). */
export const REQUESTS: InstrumentDefinition = {
  name: "tokbench.requests",
  kind: "counter",
  unit: "{request}",
  description: "Requests tokbench recorded, by outcome (succeeded or failed).",
};

/** `tokbench.requests.in_flight`: requests sent and not yet ended, warmup included. */
export const REQUESTS_IN_FLIGHT: InstrumentDefinition = {
  name: "tokbench.requests.in_flight",
  kind: "gauge",
  unit: "{request}",
  description: "Requests tokbench has sent whose stream has not ended yet (warmup included).",
};

/** Every instrument, in the order they are created. */
export const INSTRUMENTS: readonly InstrumentDefinition[] = [
  OPERATION_DURATION,
  TOKEN_USAGE,
  TIME_TO_FIRST_CHUNK,
  TIME_PER_OUTPUT_CHUNK,
  TIME_TO_FIRST_TOKEN,
  TIME_PER_OUTPUT_TOKEN,
  REQUESTS,
  REQUESTS_IN_FLIGHT,
];

/** Attribute keys of the conventions and tokbench's own. */
export const ATTR = {
  OPERATION_NAME: "gen_ai.operation.name",
  PROVIDER_NAME: "gen_ai.provider.name",
  REQUEST_MODEL: "gen_ai.request.model",
  TOKEN_TYPE: "gen_ai.token.type",
  SERVER_ADDRESS: "server.address",
  SERVER_PORT: "server.port",
  ERROR_TYPE: "error.type",
  REQUEST_STATUS: "tokbench.request.status",
} as const;
