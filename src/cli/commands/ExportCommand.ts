import { createWriteStream, renameSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { finished } from "node:stream/promises";
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { TokbenchError } from "../../errors/TokbenchError.js";
import {
  REQUEST_COLUMNS,
  requestRow,
  SUMMARY_COLUMNS,
  summaryRows,
  TEST_COLUMNS,
  testRow,
} from "../../output/export/exportRows.js";
import { type ExportFormat, writeExport } from "../../output/export/writeExport.js";
import type { RequestRecord } from "../../results/RequestRecord.js";
import { openRunHistory } from "../../storage/openRunHistory.js";
import { withRunArgument } from "../historyOptions.js";
import { FORCE_OPTION, refuseExistingOutput } from "../refuseExistingOutput.js";

const builder = (yargs: Argv) =>
  withRunArgument(yargs)
    .option("format", {
      choices: ["csv", "jsonl", "md"] as const,
      default: "csv" as const,
      description: "Output format",
    })
    .option("what", {
      choices: ["requests", "summary", "tests"] as const,
      default: "requests" as const,
      description: "One row per request, per summary figure, or per llama-bench-style test",
    })
    .option("out", { type: "string", description: "Write to this file instead of stdout" })
    .option("force", FORCE_OPTION)
    .example("$0 export last > requests.csv", "Every request of the last run, for a spreadsheet")
    .example("$0 export 3f2a --what summary --format md", "The summary as a Markdown table")
    .example("$0 export last --format jsonl --out run.jsonl", "Requests as JSON Lines, for a notebook");

type ExportArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>["argv"]>>;

async function* mapRows<T>(
  source: AsyncIterable<T>,
  map: (item: T) => Record<string, string | number | null>,
) {
  for await (const item of source) yield map(item);
}

/** `tokbench export RUN`: requests, summary or tests as CSV, JSON Lines or Markdown, streamed. */
export const exportCommand: CommandModule<object, ExportArgs> = {
  builder: builder as unknown as CommandModule<object, ExportArgs>["builder"],
  async handler(argv) {
    const target = argv.out === undefined ? null : resolve(argv.out);
    if (target !== null) refuseExistingOutput(target, argv.force);
    const store = await openRunHistory(argv.db);
    // A file is written beside its final name and renamed at the end: a failed or stopped export
    // leaves the old file (with --force) or nothing, never half an export under the name.
    const partial = target === null ? null : `${target}.${process.pid}.partial`;
    const out = partial === null ? process.stdout : createWriteStream(partial, { flags: "wx" });
    let complete = false;
    try {
      const history = store.history;
      const runId = await history.resolveRun(argv.run);
      const format = argv.format as ExportFormat;
      if (argv.what === "requests") {
        await writeExport(
          REQUEST_COLUMNS,
          mapRows<RequestRecord>(history.requests(runId), requestRow),
          format,
          out,
        );
      } else {
        const run = await history.readRun(runId);
        if (argv.what === "summary") {
          if (run.summary === null) {
            throw new TokbenchError(
              "INVALID_ARGUMENT",
              `run ${runId} has no summary (${run.status}): export its requests instead`,
            );
          }
          await writeExport(SUMMARY_COLUMNS, summaryRows(run.summary), format, out);
        } else {
          await writeExport(TEST_COLUMNS, run.tests.map(testRow), format, out);
        }
      }
      complete = true;
    } finally {
      await store.close();
      if (out !== process.stdout && partial !== null && target !== null) {
        out.end();
        await finished(out)
          .then(() => {
            if (complete) renameSync(partial, target);
          })
          .catch((error: unknown) => {
            throw new TokbenchError("FILE_UNWRITABLE", `cannot write ${String(argv.out)}: ${String(error)}`, {
              cause: error,
            });
          })
          .finally(() => {
            if (!complete) rmSync(partial, { force: true });
          });
      }
    }
  },
};
