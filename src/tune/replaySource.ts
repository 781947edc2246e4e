import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { TokbenchError } from "../errors/TokbenchError.js";
import type { Axis, AxisValue } from "../search/Axis.js";
import { knobAxis } from "../sweep/knobAxes.js";
import {
  type Configuration,
  configurationKey,
  type MeasureFn,
  type Measurement,
  type MeasurementStatus,
  type TrialMeasurement,
} from "./Measurement.js";

const STATUSES: readonly MeasurementStatus[] = ["ok", "oom", "crash", "timeout", "error"];
const FIGURES = [
  "output_tokens_per_s",
  "ttft_p95_ms",
  "itl_p95_ms",
  "requests_per_s",
  "goodput_rps",
] as const;

/** One line of a replay file, checked. */
export interface ReplayRecord {
  knobs: Record<string, AxisValue>;
  /** The workload it ran, when the line says (`tokbench sweep --cells-out` writes it). */
  workload: Record<string, unknown> | null;
  measurement: Measurement;
  /** Whether the line carries figures (a launch that failed has none). */
  measured: boolean;
}

/** Recorded measurements, ready to be served to the tuner. */
export interface ReplaySource {
  /** The knob axes found in the file, each value in the order first seen; memory order as a sweep's. */
  axes: Axis[];
  /** Configurations in the file, in the order first seen. */
  configurations: Configuration[];
  /** The lines of each configuration, by {@link configurationKey}. */
  lines: Map<string, ReplayRecord[]>;
  /** Serves a configuration's lines in order, cycling when more are asked for than were recorded. */
  measure: MeasureFn;
  /** The workload of the lines kept; null when the lines do not say. */
  workload: Record<string, unknown> | null;
}

function invalid(where: string, message: string): TokbenchError {
  return new TokbenchError("REPLAY_INVALID", `${where}: ${message}`, { context: { where } });
}

/** Checks one parsed line of the replay format. */
export function parseReplayRecord(value: unknown, where: string): ReplayRecord {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw invalid(where, "expected a JSON object");
  const line = value as Record<string, unknown>;
  const knobs = line.knobs;
  if (typeof knobs !== "object" || knobs === null || Array.isArray(knobs))
    throw invalid(where, '"knobs" must be an object of knob values');
  for (const [k, v] of Object.entries(knobs)) {
    if (!["number", "string", "boolean"].includes(typeof v))
      throw invalid(where, `knob "${k}" must be a number, a string or a boolean`);
  }
  const status = line.status;
  if (typeof status !== "string" || !(STATUSES as readonly string[]).includes(status))
    throw invalid(where, `"status" must be one of ${STATUSES.join(", ")}`);
  const figures: Record<string, number | null> = {};
  for (const f of FIGURES) {
    const v = line[f];
    if (v === undefined || v === null) figures[f] = null;
    else if (typeof v === "number" && Number.isFinite(v) && v >= 0) figures[f] = v;
    else throw invalid(where, `"${f}" must be a non-negative number or null`);
  }
  const measured = FIGURES.some((f) => figures[f] !== null);
  const feasible = typeof line.feasible === "boolean" ? line.feasible && status === "ok" : status === "ok";
  return {
    knobs: knobs as Record<string, AxisValue>,
    workload:
      typeof line.workload === "object" && line.workload !== null
        ? (line.workload as Record<string, unknown>)
        : null,
    measured,
    measurement: {
      status: status as MeasurementStatus,
      feasible,
      reason: feasible
        ? null
        : typeof line.reason === "string"
          ? line.reason
          : status === "ok"
            ? "failed the gate (as recorded)"
            : `${status} (as recorded)`,
      output_tokens_per_s: figures.output_tokens_per_s ?? null,
      ttft_p95_ms: figures.ttft_p95_ms ?? null,
      itl_p95_ms: figures.itl_p95_ms ?? null,
      requests_per_s: figures.requests_per_s ?? null,
      goodput_rps: figures.goodput_rps ?? null,
      run_id: null,
    },
  };
}

/** Reads a replay file (JSONL, one measurement per line; blank lines and `#` comments ignored). */
export function readReplayFile(path: string): ReplayRecord[] {
  return readHashedReplayFile(path).records;
}

/**
 * {@link readReplayFile}, with `sha256:` + hex SHA-256 of the very bytes parsed. Hashing what was
 * read, rather than reading the file a second time, keeps the recipe's hash right for a pipe or a
 * process substitution (`--replay <(...)`), which can be read only once.
 */
export function readHashedReplayFile(path: string): { records: ReplayRecord[]; sha256: string } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new TokbenchError(
      code === "ENOENT" ? "FILE_NOT_FOUND" : "FILE_UNREADABLE",
      `cannot read replay file ${path}: ${(cause as Error).message}`,
      { cause, context: { path } },
    );
  }
  const text = bytes.toString("utf8");
  const records: ReplayRecord[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw invalid(`${path}:${i + 1}`, "not valid JSON");
    }
    records.push(parseReplayRecord(parsed, `${path}:${i + 1}`));
  });
  if (records.length === 0) throw invalid(path, "no measurement in the file");
  return { records, sha256: `sha256:${createHash("sha256").update(bytes).digest("hex")}` };
}

function workloadKey(w: Record<string, unknown> | null): string {
  return w === null ? "" : configurationKey(w as Configuration);
}

/**
 * The replay source of recorded lines. Lines of several workloads must be narrowed to one by
 * `workload` (the values given, e.g. `{concurrency: 4}`); several lines with the same knobs are
 * replicates, served in their order and cycling. A configuration absent from the file is not
 * runnable (`error`); a line without figures is the configuration's failure (`oom`, `crash`, ...).
 */
export function replaySource(
  records: readonly ReplayRecord[],
  workload: Record<string, unknown> = {},
): ReplaySource {
  const wanted = Object.entries(workload).filter(([, v]) => v !== undefined && v !== null);
  const kept = records.filter((r) => wanted.every(([k, v]) => r.workload === null || r.workload[k] === v));
  const workloads = new Map<string, Record<string, unknown> | null>();
  for (const r of kept) workloads.set(workloadKey(r.workload), r.workload);
  if (kept.length === 0) {
    throw new TokbenchError(
      "REPLAY_INVALID",
      `no line of the replay file has the workload ${JSON.stringify(workload)}`,
    );
  }
  if (workloads.size > 1) {
    const list = [...workloads.values()].map((w) => JSON.stringify(w)).slice(0, 5);
    throw new TokbenchError(
      "REPLAY_INVALID",
      `the replay file has ${workloads.size} workloads (${list.join(", ")}${workloads.size > 5 ? ", ..." : ""}): choose one with --concurrency, --prompt-tokens, --max-tokens or --rate`,
    );
  }
  const lines = new Map<string, ReplayRecord[]>();
  const configurations: Configuration[] = [];
  const values = new Map<string, AxisValue[]>();
  for (const r of kept) {
    const key = configurationKey(r.knobs);
    const list = lines.get(key);
    if (list === undefined) {
      lines.set(key, [r]);
      configurations.push(r.knobs);
    } else list.push(r);
    for (const [k, v] of Object.entries(r.knobs)) {
      const seen = values.get(k) ?? [];
      if (!seen.includes(v)) seen.push(v);
      values.set(k, seen);
    }
  }
  const names = [...values.keys()];
  for (const c of configurations) {
    const missing = names.filter((n) => !(n in c));
    if (missing.length > 0) {
      throw new TokbenchError(
        "REPLAY_INVALID",
        `replay configuration ${JSON.stringify(c)} has no value for ${missing.join(", ")}: every line must name the same knobs`,
      );
    }
  }
  const served = new Map<string, number>();
  const measure: MeasureFn = async (configuration, replicates) => {
    const key = configurationKey(configuration);
    const list = lines.get(key);
    if (list === undefined) {
      return {
        replicates: [],
        failure: { status: "error", reason: "not in the replay file, so not runnable" },
      } satisfies TrialMeasurement;
    }
    const out: Measurement[] = [];
    for (let r = 0; r < replicates; r++) {
      const at = served.get(key) ?? 0;
      served.set(key, at + 1);
      const record = list[at % list.length] as ReplayRecord;
      if (!record.measured && record.measurement.status !== "ok") {
        return {
          replicates: out,
          failure: {
            status: record.measurement.status as Exclude<MeasurementStatus, "ok">,
            reason: record.measurement.reason ?? record.measurement.status,
          },
        };
      }
      out.push(record.measurement);
      // Feasibility is strict: after a replicate that is not feasible, more would change nothing.
      if (!record.measurement.feasible) break;
    }
    return { replicates: out, failure: null };
  };
  return {
    axes: names.map((n) => knobAxis(n, values.get(n) as AxisValue[])),
    configurations,
    lines,
    measure,
    workload: [...workloads.values()][0] ?? null,
  };
}
