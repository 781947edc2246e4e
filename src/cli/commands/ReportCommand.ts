import { resolve } from "node:path";
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { TokbenchError } from "../../errors/TokbenchError.js";
import { openRunHistory } from "../../storage/openRunHistory.js";
import { sanitizeText } from "../../text/sanitizeText.js";
import { writeFileAtomic } from "../../tune/applyRecipe.js";
import { withDbOption } from "../historyOptions.js";
import { FORCE_OPTION, refuseExistingOutput } from "../refuseExistingOutput.js";

const builder = (yargs: Argv) =>
  withDbOption(yargs)
    .positional("runs", {
      type: "string",
      array: true,
      demandOption: true,
      description: "Runs (id, unique prefix or last); several: with their comparison",
    })
    .option("out", { type: "string", default: "report.html", description: "The HTML file to write" })
    .option("force", FORCE_OPTION)
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
    );

type ReportArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>["argv"]>>;

/** `tokbench report RUN [RUN...] --out report.html [--png DIR]`. */
export const reportCommand: CommandModule<object, ReportArgs> = {
  builder: builder as unknown as CommandModule<object, ReportArgs>["builder"],
  async handler(argv) {
    const refs = (argv.runs as string[]) ?? [];
    const out = resolve(argv.out);
    refuseExistingOutput(out, argv.force);
    const [{ renderReportHtml }, { collectReportData }] = await Promise.all([
      import("../../output/html/renderReportHtml.js"),
      import("../../report/collectReportData.js"),
    ]);
    const store = await openRunHistory(argv.db);
    let html: string;
    try {
      const history = store.history;
      const ids: string[] = [];
      for (const ref of refs) ids.push(await history.resolveRun(ref));
      html = renderReportHtml(await collectReportData(history, ids));
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
