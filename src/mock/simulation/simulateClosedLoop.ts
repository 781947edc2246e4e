import { simMemory, startupOom } from "./memoryModel.js";
import { SimEngine, type SimRequest } from "./SimEngine.js";
import { configurationKey, SimNoise } from "./SimNoise.js";
import { resolveSimulation, type SimulationOptions } from "./SimulationConfig.js";
import { SpeedModel } from "./speedModel.js";
import { VirtualClock } from "./VirtualClock.js";

/** A closed-loop workload: `concurrency` clients, each sending its next request when one ends. */
export interface ClosedLoopWorkload {
  /** Requests in all. */
  requests: number;
  /** Requests in flight. */
  concurrency: number;
  /** Prompt tokens per request (each prompt unique, so no prompt-cache reuse). */
  promptTokens: number;
  /** Output tokens per request (`ignore_eos`). */
  maxTokens: number;
}

/** What a simulated run of a workload gives, in simulated milliseconds. */
export interface ClosedLoopOutcome {
  /** `ok`, or why the server failed: at start (`oom_start`, `bad_args`) or under load (`oom_load`). */
  status: "ok" | "oom_start" | "oom_load" | "bad_args";
  /** Per finished request: arrival to first token. */
  ttft_ms: number[];
  /** Per finished request: mean time between its tokens after the first. */
  tpot_ms: number[];
  /** Requests finished (a context-exceeded request counts as failed, not finished). */
  finished: number;
  failed: number;
  /** From the first request to the last token. */
  duration_ms: number;
  /** Output tokens of finished requests over `duration_ms`, tokens/s. */
  output_tokens_per_s: number;
  /** Iterations of the main loop. */
  iterations: number;
}

/**
 * Runs a workload against the simulation in virtual time: the same engine, speed, memory and noise
 * models as `tokbench mock --simulate`, without HTTP or waiting, so a grid of configurations runs in
 * seconds. Its figures are the simulation's, a test double's, never a measurement of a machine; the
 * simulated server over HTTP adds only the network and its timers' lateness.
 */
export function simulateClosedLoop(
  options: SimulationOptions,
  workload: ClosedLoopWorkload,
): ClosedLoopOutcome {
  const config = resolveSimulation(options);
  const memory = simMemory(config);
  const outcome: ClosedLoopOutcome = {
    status: "ok",
    ttft_ms: [],
    tpot_ms: [],
    finished: 0,
    failed: 0,
    duration_ms: 0,
    output_tokens_per_s: 0,
    iterations: 0,
  };
  if (config.cacheTypeV !== "f16" && !config.flashAttnOn) return { ...outcome, status: "bad_args" };
  if (startupOom(memory) !== null) return { ...outcome, status: "oom_start" };
  const clock = new VirtualClock();
  const engine = new SimEngine(config, {
    speed: new SpeedModel(config),
    noise: new SimNoise(config.seed, config.noise, configurationKey(config)),
    memory,
    clock,
    hooks: {
      log: () => {},
      outOfMemory: () => {
        outcome.status = "oom_load";
      },
    },
  });
  let sent = 0;
  let lastToken = 0;
  let outputTokens = 0;
  const send = (): void => {
    if (sent >= workload.requests || outcome.status !== "ok") return;
    const id = sent++;
    const arrival = clock.now();
    let first = 0;
    let last = 0;
    const request: SimRequest = {
      id,
      promptWords: Array.from({ length: workload.promptTokens }, (_, i) => `r${id}w${i}`),
      maxTokens: workload.maxTokens,
      stopAfter: null,
      cachePrompt: true,
      sink: {
        started: () => {},
        token: (index, at) => {
          if (index === 0) first = at;
          last = at;
        },
        finished: (result, at) => {
          outcome.finished++;
          outputTokens += result.predicted_n;
          lastToken = at;
          outcome.ttft_ms.push(first - arrival);
          if (result.predicted_n > 1) outcome.tpot_ms.push((last - first) / (result.predicted_n - 1));
          // The client sends its next request as soon as this one ends (no network in between).
          send();
        },
        contextExceeded: () => {
          outcome.failed++;
          send();
        },
      },
    };
    engine.submit(request);
  };
  for (let i = 0; i < workload.concurrency; i++) send();
  clock.run();
  outcome.duration_ms = lastToken;
  outcome.output_tokens_per_s = lastToken > 0 ? (outputTokens * 1000) / lastToken : 0;
  outcome.iterations = engine.iterationCount;
  return outcome;
}
