import cliProgress from "cli-progress";
import { sanitizeText } from "../text/sanitizeText.js";
import { formatBytes } from "./units.js";

/** A progress display a long task reports to; every method is a no-op when nothing is shown. */
export interface ProgressDisplay {
  /** `done` of `total` units are finished. */
  update(done: number, total: number): void;
  /** Removes the bar (a finished task leaves its own one-line result). Safe to call twice. */
  stop(): void;
}

/** What the numbers of a {@link ProgressDisplay} count. */
export type ProgressUnit = "bytes" | "steps" | "percent";

const NOTHING: ProgressDisplay = { update: () => undefined, stop: () => undefined };

/**
 * A bar on stderr for a long task, `label` in front: `synth qwen2.5-0.5b ████░░ 120 MiB/265 MiB`.
 * Nothing at all when stderr is not a terminal (a pipe or a file gets no carriage returns and no
 * escape codes), or when `enabled` is false (`--no-progress`). The label may quote the user's text
 * (a preset name): it goes through the one sanitiser, and its braces are not taken for the bar's
 * placeholders.
 */
export function createProgressBar(label: string, unit: ProgressUnit, enabled = true): ProgressDisplay {
  if (!enabled || process.stderr.isTTY !== true) return NOTHING;
  const amount =
    unit === "bytes" ? "{doneText}/{totalText}" : unit === "percent" ? "{percentage}%" : "{value}/{total}";
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${sanitizeText(label).replace(/[{}]/g, "")} {bar} ${amount} | {eta_formatted} left`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let stopped = false;
  const texts = (done: number, total: number) =>
    unit === "bytes" ? { doneText: formatBytes(done), totalText: formatBytes(total) } : {};
  return {
    update(done, total) {
      if (stopped) return;
      if (!started) {
        started = true;
        bar.start(total, done, texts(done, total));
        return;
      }
      bar.setTotal(total);
      bar.update(done, texts(done, total));
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (started) bar.stop();
    },
  };
}
