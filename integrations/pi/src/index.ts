import { performance } from "node:perf_hooks";
import type { ExtensionAPI, ExtensionContext } from "@mariozechner/pi-coding-agent";
import { TOKBENCH_API, TokbenchProvider } from "./provider/tokbenchProvider.js";
import { PiCallRecorder, withUsageRequested } from "./record/PiCallRecorder.js";
import { sessionReport, statusText } from "./record/sessionReport.js";

/** Default of `--llm-metrics-max-tps`: no single stream decodes this fast on any hardware we know of. */
export const DEFAULT_MAX_DECODE_TPS = 5000;

const STATUS_KEY = "llm-metrics";

/**
 * tokbench's pi extension: measures every LLM call of the agent with tokbench's metric definitions,
 * writes one NDJSON line per call to `.pi/llm-metrics.log`, shows the last call's TTFT and decode
 * rate in the status line, and `/llm-metrics` shows the session's calls with their p50/p95. It also
 * registers the `tokbench-openai-completions` API, which streams through tokbench's own HTTP client.
 * See README.md.
 */
export default function tokbenchMetrics(pi: ExtensionAPI): void {
  pi.registerFlag("llm-metrics-max-tps", {
    description: `Decode rate (tok/s) above which a call's rate is flagged impossible and not reported (default ${DEFAULT_MAX_DECODE_TPS}; 0 disables)`,
    type: "string",
  });
  pi.registerFlag("llm-metrics-include-usage", {
    description:
      "Ask OpenAI-compatible servers for the usage chunk (stream_options.include_usage) when pi does not",
    type: "boolean",
    default: false,
  });

  let recorder: PiCallRecorder | null = null;
  let logFailed = false;
  const provider = new TokbenchProvider((observation, kinds) =>
    recorder?.attachSocketObservation(observation, kinds),
  );
  pi.registerProvider("tokbench", { api: TOKBENCH_API, streamSimple: provider.streamSimple });

  const ceiling = (): number | null => {
    const flag = pi.getFlag("llm-metrics-max-tps");
    if (typeof flag !== "string" || flag === "") return DEFAULT_MAX_DECODE_TPS;
    const value = Number(flag);
    return Number.isFinite(value) && value > 0 ? value : null;
  };
  const recorderFor = (ctx: ExtensionContext): PiCallRecorder => {
    if (recorder === null) {
      recorder = new PiCallRecorder({
        sessionId: ctx.sessionManager.getSessionId(),
        cwd: ctx.cwd,
        decodeCeilingTps: ceiling(),
        onRecord: (record) => {
          if (ctx.hasUI) ctx.ui.setStatus(STATUS_KEY, statusText(record));
        },
        onLogError: (error, path) => {
          // A log that cannot be written must not break the agent; say so once.
          if (!logFailed && ctx.hasUI)
            ctx.ui.notify(`llm-metrics: cannot write ${path}: ${String(error)}`, "warning");
          logFailed = true;
        },
      });
    }
    return recorder;
  };

  pi.on("session_start", () => {
    recorder = null;
  });
  pi.on("before_provider_request", (event, ctx) => {
    const at = performance.now();
    recorderFor(ctx).beforeProviderRequest(event.payload, ctx.model, at);
    if (pi.getFlag("llm-metrics-include-usage") === true) return withUsageRequested(event.payload);
    return undefined;
  });
  pi.on("after_provider_response", (event) =>
    recorder?.afterProviderResponse(event.status, performance.now()),
  );
  pi.on("message_update", (event) => recorder?.messageUpdate(event.assistantMessageEvent, performance.now()));
  pi.on("message_end", (event) => recorder?.messageEnd(event.message, performance.now()));
  // A call still open when the agent or the session stops never gets its message_end.
  pi.on("agent_end", () => recorder?.abandon());
  pi.on("session_shutdown", () => {
    recorder?.abandon();
    provider.close();
  });

  pi.registerCommand("llm-metrics", {
    description: "LLM calls of this session: TTFT, decode and prefill rates with p50/p95",
    handler: async (_args, ctx) => {
      const lines = sessionReport(recorder?.records ?? []);
      if (recorder?.log != null) lines.push("", `Log: ${recorder.log.path}`);
      if (ctx.hasUI) ctx.ui.notify(lines.join("\n"), "info");
      else process.stdout.write(`${lines.join("\n")}\n`);
    },
  });
}
