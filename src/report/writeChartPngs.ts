import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { TokbenchError } from "../errors/TokbenchError.js";
import { CHROMIUM_ARGS, chromiumPath } from "./chromium.js";

/**
 * Opens a report in headless Chromium (driven by playwright-core; nothing is downloaded) and writes
 * each chart as `DIR/<chart>.png`. Returns the files written.
 * @throws TokbenchError `BROWSER_UNAVAILABLE` without Chromium; `FILE_UNWRITABLE` when `dir` cannot be made.
 */
export async function writeChartPngs(htmlPath: string, dir: string, browserPath?: string): Promise<string[]> {
  const executablePath = chromiumPath(browserPath);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new TokbenchError("FILE_UNWRITABLE", `cannot create ${dir}: ${String(error)}`, {
      context: { path: dir },
      cause: error,
    });
  }
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(pathToFileURL(htmlPath).href);
    // A string, evaluated in the page: this file is compiled without the DOM's types.
    await page.waitForFunction(
      "window.tokbenchCharts !== undefined && window.tokbenchCharts.drawn >= window.tokbenchCharts.expected",
    );
    const files: string[] = [];
    for (const element of await page.locator("canvas[data-chart]").all()) {
      const name = (await element.getAttribute("data-chart")) ?? `chart-${files.length}`;
      const file = join(dir, `${name.replace(/[^a-zA-Z0-9_-]/g, "_")}.png`);
      await element.scrollIntoViewIfNeeded();
      await element.screenshot({ path: file });
      files.push(file);
    }
    return files;
  } finally {
    await browser.close();
  }
}
