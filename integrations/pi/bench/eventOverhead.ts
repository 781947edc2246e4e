/**
 * What the extension adds to pi per event: the `message_update` handler's work for one
 * token-bearing delta (stamp, read-turn number, arrival), and the per-call work at `message_end`
 * (tokbench's metric definitions, the record, one appended log line). Measured on the code pi runs
 * (`PiCallRecorder`), with pi's event shapes; each figure is the median of `--repeats` runs, and
 * the same loop calling an empty handler is measured in the same run as the reference.
 *
 *   npm run bench:pi -- --tokens 1000 --calls 50 --repeats 5
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setImmediate as nextTurn } from "node:timers/promises";
import { parseArgs } from "node:util";
import { PiCallRecorder, type PiStreamEvent } from "../src/record/PiCallRecorder.js";

const { values } = parseArgs({
  options: {
    tokens: { type: "string", default: "1000" },
    calls: { type: "string", default: "50" },
    repeats: { type: "string", default: "5" },
  },
});
const TOKENS = Number(values.tokens);
const CALLS = Number(values.calls);
const REPEATS = Number(values.repeats);
const MODEL = { provider: "local", id: "bench", api: "openai-completions" };
const CONTENT = [{ type: "text" }];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** pi's event objects for one call, built before timing. */
const events: PiStreamEvent[] = Array.from({ length: TOKENS }, (_, i) => ({
  type: "text_delta",
  contentIndex: 0,
  delta: i % 3 === 0 ? " the" : "ing",
  partial: { content: CONTENT },
}));
const endMessage = {
  role: "assistant",
  usage: { input: 900, output: TOKENS, cacheRead: 100, cacheWrite: 0 },
  stopReason: "stop",
};

let sink = 0;
const empty = (e: PiStreamEvent, at: number): void => {
  sink += at + (e.delta?.length ?? 0);
};

/** ns per event with every event in one turn (a burst), for the recorder and the empty handler. */
function burst(dir: string): { recorder: number; empty: number; endUs: number } {
  const recorder = new PiCallRecorder({ sessionId: "bench", cwd: dir });
  let handlerMs = 0;
  let emptyMs = 0;
  let endMs = 0;
  for (let c = 0; c < CALLS; c++) {
    recorder.beforeProviderRequest({ model: "bench", max_tokens: TOKENS }, MODEL);
    let t = performance.now();
    for (const e of events) recorder.messageUpdate(e, performance.now());
    handlerMs += performance.now() - t;
    t = performance.now();
    for (const e of events) empty(e, performance.now());
    emptyMs += performance.now() - t;
    t = performance.now();
    recorder.messageEnd(endMessage);
    endMs += performance.now() - t;
  }
  const n = CALLS * TOKENS;
  return { recorder: (handlerMs * 1e6) / n, empty: (emptyMs * 1e6) / n, endUs: (endMs * 1e3) / CALLS };
}

/** ns per event with one event per event-loop turn, as a stream arrives: the read-turn number is scheduled each time. */
async function perTurn(dir: string): Promise<{ recorder: number; empty: number }> {
  const recorder = new PiCallRecorder({ sessionId: "bench", cwd: dir });
  let handlerMs = 0;
  let emptyMs = 0;
  const calls = Math.max(1, Math.floor(CALLS / 10));
  for (let c = 0; c < calls; c++) {
    recorder.beforeProviderRequest({ model: "bench", max_tokens: TOKENS }, MODEL);
    for (const e of events) {
      const t0 = performance.now();
      recorder.messageUpdate(e, t0);
      const t1 = performance.now();
      empty(e, t1);
      const t2 = performance.now();
      handlerMs += t1 - t0;
      emptyMs += t2 - t1;
      await nextTurn();
    }
    recorder.messageEnd(endMessage);
  }
  const n = calls * TOKENS;
  return { recorder: (handlerMs * 1e6) / n, empty: (emptyMs * 1e6) / n };
}

const dir = mkdtempSync(join(tmpdir(), "tokbench-pi-bench-"));
try {
  const bursts: ReturnType<typeof burst>[] = [];
  const turns: Awaited<ReturnType<typeof perTurn>>[] = [];
  burst(dir); // warm-up: JIT
  for (let r = 0; r < REPEATS; r++) {
    bursts.push(burst(dir));
    turns.push(await perTurn(dir));
  }
  const b = (k: "recorder" | "empty" | "endUs") => median(bursts.map((x) => x[k]));
  const u = (k: "recorder" | "empty") => median(turns.map((x) => x[k]));
  console.log(`pi extension overhead (${TOKENS} tokens a call, ${CALLS} calls, median of ${REPEATS})`);
  console.log(
    `  message_update, events in one turn:   ${b("recorder").toFixed(0)} ns/event (empty handler ${b("empty").toFixed(0)} ns)`,
  );
  console.log(
    `  message_update, one event per turn:   ${u("recorder").toFixed(0)} ns/event (empty handler ${u("empty").toFixed(0)} ns)`,
  );
  console.log(`  message_end (metrics, record, log):   ${b("endUs").toFixed(1)} µs/call`);
  const perTokenNs = u("recorder") - u("empty");
  console.log(
    `  added per token at 100 tok/s:          ${((perTokenNs / 1e7) * 100).toFixed(4)} % of the 10 ms between tokens`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (sink === -1) console.log(sink);
