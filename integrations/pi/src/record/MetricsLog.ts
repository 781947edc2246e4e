import { appendFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import type { CallLogRecord } from "./CallLogRecord.js";

/** Where the log goes, relative to the session's working directory. */
export const LOG_PATH = join(".pi", "llm-metrics.log");

/**
 * The NDJSON log of a session's calls: one {@link CallLogRecord} per line, appended.
 *
 * Each line is written synchronously when its call ends, so a line is on disk before pi moves on
 * and no flush can race the process's exit (pi's print mode exits as soon as the prompt is done);
 * writing once per call, never per token, keeps it off the streaming path.
 */
export class MetricsLog {
  /** Absolute path of the log file. */
  readonly path: string;
  private dirReady = false;

  /** @param cwd The session's working directory; the log is `<cwd>/.pi/llm-metrics.log`. */
  constructor(cwd: string) {
    this.path = join(cwd, LOG_PATH);
  }

  /** Appends one record as one line. */
  append(record: CallLogRecord): void {
    if (!this.dirReady) {
      mkdirSync(dirname(this.path), { recursive: true });
      this.dirReady = true;
    }
    appendFileSync(this.path, `${JSON.stringify(record)}\n`);
  }
}
