import type { RunStartInfo } from "../../../benchmark/RunStartInfo.js";
import { TokbenchError } from "../../../errors/TokbenchError.js";
import type { LoadHooks } from "../../../load/runLoad.js";
import type { RunTelemetry } from "../../../telemetry/RunTelemetry.js";
import { resolveOtlpOptions, type TelemetryOptions } from "../../../telemetry/TelemetryOptions.js";
import { sanitizeText } from "../../../text/sanitizeText.js";
import { checkNumberFlag } from "../../parseNumberFlag.js";

/** The telemetry flags of `bench` (see commonOptions). */
export interface TelemetryArgs {
  "otlp-endpoint"?: string | undefined;
  "prometheus-port"?: unknown;
  "prometheus-host"?: string | undefined;
}

/** Interface `--prometheus-port` listens on without `--prometheus-host`: this machine only. */
export const DEFAULT_PROMETHEUS_HOST = "127.0.0.1";

/**
 * The run's telemetry from its flags and the OpenTelemetry environment variables (see
 * `resolveOtlpOptions`), or null when none is asked for. Throws `INVALID_ARGUMENT` / `URL_INVALID`
 * for values tokbench cannot use; cheap and free of the SDK, so the bench command calls it before
 * touching a server or a model.
 */
export function telemetryOptionsFromArgs(
  args: TelemetryArgs,
  env: NodeJS.ProcessEnv,
): TelemetryOptions | null {
  const otlp = resolveOtlpOptions(args["otlp-endpoint"], env);
  const host = args["prometheus-host"];
  if (host !== undefined && args["prometheus-port"] === undefined) {
    throw new TokbenchError("INVALID_ARGUMENT", "--prometheus-host needs --prometheus-port");
  }
  if (host !== undefined && host.trim() === "") {
    throw new TokbenchError("INVALID_ARGUMENT", "--prometheus-host must name an interface (e.g. 0.0.0.0)");
  }
  const prometheus =
    args["prometheus-port"] === undefined
      ? null
      : {
          host: host?.trim() ?? DEFAULT_PROMETHEUS_HOST,
          port: checkNumberFlag("prometheus-port", args["prometheus-port"], {
            min: 0,
            max: 65535,
            integer: true,
          }),
        };
  return otlp === null && prometheus === null ? null : { otlp, prometheus };
}

/**
 * Starts the run's telemetry when the flags or environment ask for it (loading the OpenTelemetry
 * SDK only then) and says on stderr where the metrics go. Returns null when nothing is asked.
 */
export async function startTelemetry(args: TelemetryArgs): Promise<RunTelemetry | null> {
  const options = telemetryOptionsFromArgs(args, process.env);
  if (options === null) return null;
  const { startRunTelemetry } = await import("../../../telemetry/RunTelemetry.js");
  const telemetry = await startRunTelemetry(options);
  if (telemetry.prometheusUrl !== null) {
    say(`Prometheus metrics at ${sanitizeText(telemetry.prometheusUrl)} while the run lasts`);
  }
  if (telemetry.otlpUrl !== null && options.otlp !== null) {
    say(
      `exporting metrics to ${sanitizeText(telemetry.otlpUrl)} (OTLP ${options.otlp.protocol}, every ${options.otlp.interval_ms / 1000} s and at the end)`,
    );
  }
  return telemetry;
}

/** What a run's consumers look like, as far as telemetry is concerned. */
interface ConsumersLike {
  onRunStart(run: RunStartInfo): void;
  hooks: LoadHooks;
}

/**
 * `run` with the telemetry's hooks called after the consumers' own (run start, each finished
 * request, requests in flight); `run` itself when `telemetry` is null.
 */
export function withTelemetry<T extends ConsumersLike, R>(
  telemetry: RunTelemetry | null,
  run: (consumers: T) => Promise<R>,
): (consumers: T) => Promise<R> {
  if (telemetry === null) return run;
  return (consumers) => {
    const { onRunStart, hooks } = consumers;
    return run({
      ...consumers,
      onRunStart(info: RunStartInfo) {
        onRunStart.call(consumers, info);
        telemetry.onRunStart(info);
      },
      hooks: {
        ...hooks,
        onRequest(record, metrics) {
          hooks.onRequest?.(record, metrics);
          telemetry.onRequest(record, metrics);
        },
        onInFlight(requests) {
          hooks.onInFlight?.(requests);
          telemetry.onInFlight(requests);
        },
      } satisfies LoadHooks,
    });
  };
}

/**
 * Finishes the run's telemetry (the last OTLP export) and says once on stderr how the export went:
 * a failing collector is a warning, never a failed run.
 */
export async function finishTelemetry(telemetry: RunTelemetry | null): Promise<void> {
  if (telemetry === null) return;
  const report = await telemetry.finish();
  if (report === null) return;
  const url = sanitizeText(report.url);
  if (report.failed === 0 && !report.timed_out) {
    say(`metrics exported to ${url} (${plural(report.exports, "export")})`);
    return;
  }
  const why = [
    report.failed > 0
      ? `${report.failed} of ${plural(report.exports, "export")} failed: ${sanitizeText(report.first_error ?? "")}`
      : null,
    report.timed_out ? "the last export did not finish in time" : null,
  ]
    .filter((part) => part !== null)
    .join("; ");
  say(`warning: metrics export to ${url} incomplete (${why}); the run and its results are unaffected`);
}

function say(line: string): void {
  try {
    process.stderr.write(`tokbench: ${line}\n`);
  } catch {
    // The terminal may be gone (SIGHUP); the export itself is what matters.
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
