import { resolve } from "node:path";
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { isTokbenchError, TokbenchError } from "../../errors/TokbenchError.js";
import { type OpenedRunHistory, openRunHistory } from "../../storage/openRunHistory.js";
import type { StoredSweep } from "../../storage/SweepStore.js";
import type { StoredTune } from "../../storage/TuneStore.js";
import { sanitizeText } from "../../text/sanitizeText.js";
import { writeFileAtomic } from "../../tune/applyRecipe.js";
import { withDbOption } from "../historyOptions.js";
import { FORCE_OPTION, refuseExistingOutput, refuseFilledFolder } from "../refuseExistingOutput.js";

const builder = (yargs: Argv) =>
  withDbOption(yargs)
    .positional("runs", {
      type: "string",
      array: true,
      demandOption: true,
      description:
        "Runs (id, unique prefix or last), sweeps and tunes (id or unique prefix of 8+ characters); several runs: with their comparison",
    })
    .option("out", { type: "string", default: "report.html", description: "The HTML file to write" })
    .option("force", {
      ...FORCE_OPTION,
      description:
        "Replace the --out file and the --png folder's PNG files when they exist (else refused, untouched)",
    })
    .option("png", {
      type: "string",
      description: "Also write every chart as a PNG into this folder (needs Chromium)",
    })
    .option("browser", {
      type: "string",
      description: "Chromium executable for --png (default: $TOKBENCH_CHROMIUM or /usr/bin/chromium)",
    })
    .example(
      "$0 report last --out report.html",
      "One self-contained page of the last run: open it offline, send it",
    )
    .example(
      "$0 report 3f2a 9b1c --out compare.html --png charts/",
      "Two runs with their comparison, charts as PNG too",
    )
    .example(
      "$0 report 7c41e0d2 a90b33f1 --out search.html",
      "A sweep (heatmap, load curves, Pareto front) and a tune (progress, trials, recipe)",
    );

type ReportArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>["argv"]>>;

type Found =
  | { kind: "run"; id: string }
  | { kind: "sweep"; sweep: StoredSweep }
  | { kind: "tune"; tune: StoredTune };

/** What `ref` names: a run first (as `show` reads it), else a sweep, else a tune. */
async function resolveRef(store: OpenedRunHistory, ref: string): Promise<Found> {
  try {
    return { kind: "run", id: await store.history.resolveRun(ref) };
  } catch (error) {
    if (!isTokbenchError(error) || error.code !== "RUN_NOT_FOUND") throw error;
    // Not a run: a sweep or a tune, read through the history from either store.
    const runError = error;
    const find = async <T>(get: () => Promise<T>): Promise<T | null> => {
      try {
        return await get();
      } catch (e) {
        if (isTokbenchError(e) && (e.code === "SWEEP_NOT_FOUND" || e.code === "TUNE_NOT_FOUND")) return null;
        throw e;
      }
    };
    const sweep = await find(() => store.history.readSweep(ref));
    if (sweep !== null) return { kind: "sweep", sweep };
    const tune = await find(() => store.history.readTune(ref));
    if (tune !== null) return { kind: "tune", tune };
    throw new TokbenchError("RUN_NOT_FOUND", `no run, sweep or tune "${ref}" in ${store.shownLocation}`, {
      context: { ref },
      cause: runError,
    });
  }
}

/** `tokbench report RUN|SWEEP|TUNE [...] --out report.html [--png DIR]`. */
export const reportCommand: CommandModule<object, ReportArgs> = {
  builder: builder as unknown as CommandModule<object, ReportArgs>["builder"],
  async handler(argv) {
    const refs = (argv.runs as string[]) ?? [];
    const out = resolve(argv.out);
    refuseExistingOutput(out, argv.force);
    if (argv.png !== undefined) refuseFilledFolder(resolve(argv.png), ".png", argv.force, "png");
    const [{ renderReportHtml }, { collectReportData }] = await Promise.all([
      import("../../output/html/renderReportHtml.js"),
      import("../../report/collectReportData.js"),
    ]);
    const store = await openRunHistory(argv.db);
    let html: string;
    try {
      const ids: string[] = [];
      const sweeps: StoredSweep[] = [];
      const tunes: StoredTune[] = [];
      for (const ref of refs) {
        const found = await resolveRef(store, ref);
        if (found.kind === "run") ids.push(found.id);
        else if (found.kind === "sweep") sweeps.push(found.sweep);
        else tunes.push(found.tune);
      }
      html = renderReportHtml(await collectReportData(store.history, ids, { sweeps, tunes }));
    } finally {
      await store.close();
    }
    try {
      // Atomic: a reader (a browser reloading it) never sees half a page.
      writeFileAtomic(out, html, 0o644);
    } catch (error) {
      throw new TokbenchError("FILE_UNWRITABLE", `cannot write ${out}: ${String(error)}`, {
        context: { path: out },
        cause: error,
      });
    }
    process.stderr.write(
      `report written to ${sanitizeText(out)} (${(Buffer.byteLength(html) / 1024).toFixed(0)} KiB)\n`,
    );
    if (argv.png !== undefined) {
      const { writeChartPngs } = await import("../../report/writeChartPngs.js");
      const files = await writeChartPngs(out, resolve(argv.png), argv.browser);
      process.stderr.write(`${files.length} charts written to ${sanitizeText(resolve(argv.png))}\n`);
    }
  },
};
