import { once } from "node:events";
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
> & {
  status: string;
  ended_at: string | null;
  summary: RunResult["summary"] | null;
};

/** Bytes gathered before one write. */
const CHUNK = 64 * 1024;

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
  };
  const text = terminalSafeJson(ordered, 2);
  // Top-level keys are the only ones indented by exactly two spaces.
  const marker = '\n  "requests": []';
  const at = text.indexOf(marker);
  let buffer = `${text.slice(0, at)}\n  "requests": [`;
  const write = async (chunk: string): Promise<void> => {
    if (!out.write(chunk)) await once(out, "drain");
  };
  let first = true;
  for await (const record of requests) {
    buffer += `${first ? "" : ","}\n    ${terminalSafeJson(record, 2).replaceAll("\n", "\n    ")}`;
    first = false;
    if (buffer.length >= CHUNK) {
      await write(buffer);
      buffer = "";
    }
  }
  buffer += first ? "]" : "\n  ]";
  buffer += `${text.slice(at + marker.length)}\n`;
  await write(buffer);
}
