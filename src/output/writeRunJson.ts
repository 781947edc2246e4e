import { once } from "node:events";
import { closeSync, openSync, writeSync } from "node:fs";
import type { Writable } from "node:stream";
import type { RequestRecord } from "../results/RequestRecord.js";
import type { RunResult } from "../results/RunResult.js";
import { terminalSafeJson } from "../text/sanitizeText.js";

/** The fields of the `--json` result format, in their order, without `requests`. */
export type RunJsonHead = Pick<
  RunResult,
  | "schema_version"
  | "tool"
  | "run_id"
  | "status_reason"
  | "started_at"
  | "config"
  | "machine"
  | "tests"
  | "resources"
  | "observation"
  | "expert_usage"
  | "layer_timing"
> & {
  status: string;
  ended_at: string | null;
  summary: RunResult["summary"] | null;
};

/** Bytes gathered before one write. */
const CHUNK = 64 * 1024;

/** The result's text before and after the records, and how one record is written between them. */
function runJsonParts(head: RunJsonHead): { open: string; close: (empty: boolean) => string } {
  const ordered = {
    schema_version: head.schema_version,
    tool: head.tool,
    run_id: head.run_id,
    status: head.status,
    status_reason: head.status_reason,
    started_at: head.started_at,
    ended_at: head.ended_at,
    config: head.config,
    machine: head.machine,
    summary: head.summary,
    requests: [],
    tests: head.tests,
    resources: head.resources,
    // Observation runs only (`--experts`, `--layers`); JSON leaves out what is undefined.
    observation: head.observation,
    expert_usage: head.expert_usage,
    layer_timing: head.layer_timing,
  };
  const text = terminalSafeJson(ordered, 2);
  // Top-level keys are the only ones indented by exactly two spaces.
  const marker = '\n  "requests": []';
  const at = text.indexOf(marker);
  return {
    open: `${text.slice(0, at)}\n  "requests": [`,
    close: (empty) => `${empty ? "]" : "\n  ]"}${text.slice(at + marker.length)}\n`,
  };
}

function recordJson(record: RequestRecord, first: boolean): string {
  return `${first ? "" : ","}\n    ${terminalSafeJson(record, 2).replaceAll("\n", "\n    ")}`;
}

/**
 * Writes a run as the `--json` result (exactly `terminalSafeJson(result, 2)` of the format's
 * fields, newline-terminated), with the requests streamed one record at a time from wherever they
 * are kept, and waiting for `out` to drain, so a million-request result never exists whole in
 * memory. `bench --json` and `show --json` both print through here, which is what makes them equal.
 */
export async function writeRunJson(
  head: RunJsonHead,
  requests: Iterable<RequestRecord> | AsyncIterable<RequestRecord>,
  out: Writable,
): Promise<void> {
  const parts = runJsonParts(head);
  let buffer = parts.open;
  const write = async (chunk: string): Promise<void> => {
    if (!out.write(chunk)) await once(out, "drain");
  };
  let first = true;
  for await (const record of requests) {
    buffer += recordJson(record, first);
    first = false;
    if (buffer.length >= CHUNK) {
      await write(buffer);
      buffer = "";
    }
  }
  await write(buffer + parts.close(first));
}

/**
 * {@link writeRunJson} into a new file, synchronously: for a process about to exit (a second
 * Ctrl-C) that must leave the whole result somewhere before it goes. Overwrites `path`.
 * @throws the file system's error when the file cannot be written (the caller tries elsewhere).
 */
export function writeRunJsonFileSync(
  head: RunJsonHead,
  requests: Iterable<RequestRecord>,
  path: string,
): void {
  const fd = openSync(path, "w");
  try {
    const parts = runJsonParts(head);
    let buffer = parts.open;
    let first = true;
    for (const record of requests) {
      buffer += recordJson(record, first);
      first = false;
      if (buffer.length >= CHUNK) {
        writeSync(fd, buffer);
        buffer = "";
      }
    }
    writeSync(fd, buffer + parts.close(first));
  } finally {
    closeSync(fd);
  }
}
