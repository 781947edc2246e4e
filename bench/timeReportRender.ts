import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, chromiumPath } from "../src/report/chromium.js";

/**
 * Opens a report `repeats` times in headless Chromium (one browser, a new page each time) and times
 * each from opening the file to every chart drawn. Throws on a page error: a figure of a broken page
 * means nothing. Returns the times in ms and how many charts drew.
 */
export async function timeReportRender(
  file: string,
  repeats: number,
): Promise<{ ms: number[]; charts: number }> {
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
  const ms: number[] = [];
  let charts = 0;
  try {
    for (let i = 0; i < repeats; i++) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      const start = performance.now();
      await page.goto(pathToFileURL(file).href);
      await page.waitForFunction(
        "window.tokbenchCharts && window.tokbenchCharts.drawn >= window.tokbenchCharts.expected",
        undefined,
        { timeout: 60_000 },
      );
      ms.push(performance.now() - start);
      charts = (await page.evaluate("window.tokbenchCharts.drawn")) as number;
      if (errors.length > 0) throw new Error(errors.join("\n"));
      await page.close();
    }
  } finally {
    await browser.close();
  }
  return { ms, charts };
}
