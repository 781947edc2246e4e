import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, chromiumPath } from "../../src/report/chromium.js";

/** Screenshots kept after the run, for people to look at (ignored by git). */
export const ARTIFACTS = fileURLToPath(new URL("../../../test-artifacts/", import.meta.url));

/** What a report page did in headless Chromium. */
export interface OpenedReport {
  /** Console errors and uncaught page errors. */
  problems: string[];
  /** Every URL the page asked for besides itself. */
  requests: string[];
  /** Each chart's canvas: whether it drew, and how many of its pixels are painted. */
  charts: { id: string; drawn: string | null; painted: number }[];
  /** What an injected script would have set, or null. */
  pwned: string | null;
  /** The page's visible text. */
  text: string;
  /** From opening the file to every chart drawn, in ms. */
  renderMs: number;
  /** The values of `evaluate`'s expressions, by name. */
  values: Record<string, unknown>;
}

/**
 * Opens a report file in Debian's headless Chromium, waits until every chart has drawn, evaluates
 * `evaluate` (name -> page expression) and keeps a full-page screenshot in {@link ARTIFACTS}.
 */
export async function openReport(
  file: string,
  screenshot: string,
  evaluate: Record<string, string> = {},
): Promise<OpenedReport> {
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("request", (r) => requests.push(r.url()));
    const url = pathToFileURL(file).href;
    const started = performance.now();
    await page.goto(url);
    await page.waitForFunction(
      "window.tokbenchCharts && window.tokbenchCharts.drawn >= window.tokbenchCharts.expected",
      undefined,
      { timeout: 20_000 },
    );
    const renderMs = performance.now() - started;
    const charts =
      (await page.evaluate(`(() => Array.from(document.querySelectorAll("canvas[data-chart]")).map((c) => {
      const ctx = c.getContext("2d");
      const pixels = ctx.getImageData(0, 0, c.width, c.height).data;
      let painted = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted++;
      return { id: c.getAttribute("data-chart"), drawn: c.getAttribute("data-drawn"), painted };
    }))()`)) as OpenedReport["charts"];
    const values: Record<string, unknown> = {};
    for (const [name, expression] of Object.entries(evaluate)) values[name] = await page.evaluate(expression);
    const pwned = (await page.evaluate("window.__pwned === undefined ? null : String(window.__pwned)")) as
      | string
      | null;
    const text = (await page.evaluate("document.body.innerText")) as string;
    await page.screenshot({ path: join(ARTIFACTS, screenshot), fullPage: true });
    return { problems, requests: requests.filter((r) => r !== url), charts, pwned, text, renderMs, values };
  } finally {
    await browser.close();
  }
}
