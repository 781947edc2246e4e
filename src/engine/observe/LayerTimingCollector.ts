import type { LayerTime, LayerTiming } from "../../results/Observation.js";
import { mean, percentile } from "../../stats/descriptive.js";
import type { ObservedDecode } from "./GraphObserver.js";

type Phase = LayerTiming["phase"];

/** Samples of one (test, phase). */
interface Series {
  test: string;
  phase: Phase;
  tokens: number[];
  stepMs: number[];
  decodeMs: number[];
  inputMs: number[];
  outputMs: number[];
  observerMs: number[];
  syncs: number[];
  /** Per layer, one sample per observed step. */
  layerMs: number[][];
  /** The same steps unobserved (reference generations): JavaScript clock and llama_decode's time. */
  referenceMs: number[];
  referenceDecodeMs: number[];
  /** Observed llama_decode time / the same step's unobserved time, per pair, by which ran first. */
  ratiosReferenceFirst: number[];
  ratiosObservedFirst: number[];
  /** The same for the process's CPU time during the call. */
  cpuRatiosReferenceFirst: number[];
  cpuRatiosObservedFirst: number[];
  cpuMs: number[];
  referenceCpuMs: number[];
  /** llama.cpp's own counter over observed steps, and the steps it covered. */
  engineMs: number;
  engineSteps: number;
}

/**
 * Collects per-layer times of observed steps and the durations of the same steps run without
 * observation, per test and phase, and summarises them as {@link LayerTiming}.
 */
export class LayerTimingCollector {
  private readonly nLayer: number;
  private readonly series = new Map<string, Series>();

  constructor(nLayer: number) {
    this.nLayer = nLayer;
  }

  /**
   * An observed step and the same step unobserved (same tokens, same cache position): `ms` on the
   * JavaScript clock around the decode call, `decode` / `decode_ms` the observer's record of it.
   */
  addPair(
    test: string,
    phase: Phase,
    observed: { ms: number; decode: ObservedDecode },
    unobserved: { ms: number; decode_ms: number | null; cpu_ms?: number | null },
    observedFirst = false,
  ): void {
    const s = this.get(test, phase);
    const decode = observed.decode;
    const stepMs = observed.ms;
    s.referenceMs.push(unobserved.ms);
    if (unobserved.decode_ms !== null && unobserved.decode_ms > 0) {
      s.referenceDecodeMs.push(unobserved.decode_ms);
      (observedFirst ? s.ratiosObservedFirst : s.ratiosReferenceFirst).push(
        decode.decode_ms / unobserved.decode_ms,
      );
    }
    s.cpuMs.push(decode.cpu_ms);
    const refCpu = unobserved.cpu_ms ?? null;
    if (refCpu !== null && refCpu > 0) {
      s.referenceCpuMs.push(refCpu);
      (observedFirst ? s.cpuRatiosObservedFirst : s.cpuRatiosReferenceFirst).push(decode.cpu_ms / refCpu);
    }
    s.tokens.push(decode.n_tokens);
    s.stepMs.push(stepMs);
    s.decodeMs.push(decode.decode_ms);
    s.inputMs.push(decode.input_ms);
    s.outputMs.push(decode.output_ms);
    s.observerMs.push(decode.observer_ms);
    s.syncs.push(decode.syncs);
    for (let l = 0; l < this.nLayer; l++) (s.layerMs[l] as number[]).push(decode.layer_ms[l] ?? 0);
  }

  /**
   * llama.cpp's own time (`llama_perf_context`) for `steps` observed steps of this test and phase:
   * an independent clock for the same decodes.
   */
  addEngineCounter(test: string, phase: Phase, ms: number, steps: number): void {
    const s = this.get(test, phase);
    s.engineMs += ms;
    s.engineSteps += steps;
  }

  /** One entry per (test, phase) with observed steps, in the order they were first seen. */
  summary(): LayerTiming[] {
    const out: LayerTiming[] = [];
    for (const s of this.series.values()) {
      if (s.stepMs.length === 0) continue;
      const decodeMean = mean(s.decodeMs);
      const stepMean = mean(s.stepMs);
      const reference = s.referenceMs.length > 0 ? mean(s.referenceMs) : null;
      const ratio = pairedRatio(s.ratiosReferenceFirst, s.ratiosObservedFirst);
      const cpuRatio = pairedRatio(s.cpuRatiosReferenceFirst, s.cpuRatiosObservedFirst);
      const layers: LayerTime[] = s.layerMs.map((samples, layer) => {
        const m = mean(samples);
        return {
          layer,
          ms_mean: m,
          ms_p95: percentile(samples, 95),
          share_pct: decodeMean > 0 ? (100 * m) / decodeMean : 0,
        };
      });
      const input = mean(s.inputMs);
      const output = mean(s.outputMs);
      out.push({
        test: s.test,
        phase: s.phase,
        steps: s.stepMs.length,
        tokens_per_step: mean(s.tokens),
        step_ms_mean: stepMean,
        decode_ms_mean: decodeMean,
        engine_ms_mean: s.engineSteps > 0 ? s.engineMs / s.engineSteps : null,
        unobserved_decode_ms_mean: s.referenceDecodeMs.length > 0 ? mean(s.referenceDecodeMs) : null,
        unobserved_step_ms_mean: reference,
        overhead_pct: ratio === null ? null : 100 * (ratio - 1),
        cpu_ms_mean: mean(s.cpuMs),
        unobserved_cpu_ms_mean: s.referenceCpuMs.length > 0 ? mean(s.referenceCpuMs) : null,
        overhead_cpu_pct: cpuRatio === null ? null : 100 * (cpuRatio - 1),
        layers,
        outside_layers_ms: input + output,
        input_ms: input,
        output_ms: output,
        observer_ms: mean(s.observerMs),
        syncs_per_step: mean(s.syncs),
      });
    }
    return out;
  }

  private get(test: string, phase: Phase): Series {
    const key = `${test}\u0000${phase}`;
    let s = this.series.get(key);
    if (s === undefined) {
      s = {
        test,
        phase,
        tokens: [],
        stepMs: [],
        decodeMs: [],
        inputMs: [],
        outputMs: [],
        observerMs: [],
        syncs: [],
        layerMs: Array.from({ length: this.nLayer }, () => []),
        referenceMs: [],
        referenceDecodeMs: [],
        ratiosReferenceFirst: [],
        ratiosObservedFirst: [],
        cpuRatiosReferenceFirst: [],
        cpuRatiosObservedFirst: [],
        cpuMs: [],
        referenceCpuMs: [],
        engineMs: 0,
        engineSteps: 0,
      };
      this.series.set(key, s);
    }
    return s;
  }
}

/**
 * The observed / unobserved ratio of paired steps: the median of each order's pairs, and with both
 * orders their geometric mean, which cancels an advantage of running second (warm caches) that
 * multiplies one side's time in each order.
 */
function pairedRatio(referenceFirst: readonly number[], observedFirst: readonly number[]): number | null {
  const a = percentile(referenceFirst, 50);
  const b = percentile(observedFirst, 50);
  if (a !== null && b !== null) return Math.sqrt(a * b);
  return a ?? b;
}
