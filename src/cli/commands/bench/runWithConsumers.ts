import cliProgress from "cli-progress";
import type { RunStartInfo } from "../../../benchmark/RunStartInfo.js";
import type { LoadHooks } from "../../../load/runLoad.js";
import { renderRunSummary } from "../../../output/renderRunSummary.js";
import type { RunResult } from "../../../results/RunResult.js";
import { RunStore } from "../../../storage/RunStore.js";
import { sanitizeText, terminalSafeJson } from "../../../text/sanitizeText.js";
import { TOKBENCH_VERSION } from "../../../toolVersion.js";

/** What the CLI attaches to a run: storage, progress, interruption. */
export interface RunConsumers {
  /** Storage's hook: call once the run has an id. */
  onRunStart(run: RunStartInfo): void;
  hooks: LoadHooks;
  signal: AbortSignal;
}

/** Output flags the consumers read. */
export interface ConsumerArgs {
  json: boolean;
  db?: string | undefined;
  save: boolean;
  progress: boolean;
}

/**
 * Runs `run` with the CLI's consumers attached: the SQLite store (the run row first, then each
 * request as it finishes, so a killed run keeps what it finished), a progress bar on stderr,
 * SIGINT handling (first: stop cleanly and keep the partial run; second: exit at once), and at the
 * end the terminal summary or the JSON result. Returns the process exit code: 0 for a completed run
 * in which something succeeded, 130 when interrupted, 1 when aborted or when nothing succeeded.
 */
export async function runWithConsumers(
  args: ConsumerArgs,
  plannedRequests: number | null,
  secrets: readonly string[],
  run: (consumers: RunConsumers) => Promise<RunResult>,
  renderExtra?: (result: RunResult) => string,
): Promise<number> {
  const store = args.save ? RunStore.open(args.db) : null;
  const abort = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write(
        "\ntokbench: stopping (Ctrl-C again to quit at once); finished requests are kept\n",
      );
      abort.abort();
    } else {
      process.exit(130);
    }
  };
  process.on("SIGINT", onSigint);

  const showProgress = args.progress && process.stderr.isTTY === true;
  const bar = showProgress
    ? new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: "{bar} {value}/{total} requests | {failed} failed | {eta_formatted} left",
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  let failed = 0;
  let runId: string | null = null;
  try {
    const result = await run({
      onRunStart(info) {
        runId = info.run_id;
        store?.beginRun({ ...info, tool_version: TOKBENCH_VERSION, secrets });
        bar?.start(plannedRequests ?? 0, 0, { failed: 0 });
      },
      hooks: {
        onRequest(record) {
          if (runId !== null) store?.appendRequest(runId, record);
          if (record.error !== null) failed++;
          bar?.increment(1, { failed });
        },
      },
      signal: abort.signal,
    });
    bar?.stop();
    store?.finishRun(result, { secrets });
    if (args.json) {
      process.stdout.write(`${terminalSafeJson(result, 2)}\n`);
    } else {
      const extra = renderExtra?.(result);
      if (extra) process.stdout.write(`${extra}\n`);
      if (result.requests.length > 0 || result.tests.length === 0) {
        process.stdout.write(`${renderRunSummary(result)}\n`);
      }
    }
    if (store !== null) process.stderr.write(`run ${result.run_id} saved to ${sanitizeText(store.path)}\n`);
    if (result.status === "interrupted") return 130;
    return result.status === "completed" && !nothingSucceeded(result) ? 0 : 1;
  } finally {
    bar?.stop();
    process.off("SIGINT", onSigint);
    store?.close();
  }
}

/**
 * Whether a run tried something and none of it worked: requests were recorded and none succeeded,
 * or tests ran and all failed, with no successful request beside them. Such a run exits non-zero
 * even when it ran to the end.
 */
function nothingSucceeded(result: RunResult): boolean {
  const requests = result.summary.requests;
  const tests = result.tests.filter((row) => row.test !== "load");
  if (requests.succeeded > 0 || tests.some((row) => row.status === "ok")) return false;
  return requests.total > 0 || tests.length > 0;
}
