import { seededRandom } from "../../workload/seededRandom.js";
import type { SimulationConfig } from "./SimulationConfig.js";

/** Correlation of the slow drift from one iteration to the next (about 100 iterations of memory). */
const DRIFT_RHO = 0.99;

/**
 * Seeded multiplicative noise on the simulated server's iteration times, shaped like what makes
 * real measurements scatter: a per-launch offset (the machine's state when the server started,
 * drawn from the seed and the configuration, so two configurations differ beyond their model), a
 * slow drift over iterations (so two trials of the same configuration differ) and per-iteration
 * jitter. With relative noise `r` their standard deviations (in log space) are r/4, r/2 and r/2.
 *
 * Draws are indexed by iteration, not by wall time: the same seed, configuration and sequence of
 * iterations give the same factors, run after run.
 */
export class SimNoise {
  private readonly draw: () => number;
  private readonly launch: number;
  private readonly driftSd: number;
  private readonly jitterSd: number;
  private readonly bias: number;
  private drift: number;

  /** `launchKey` names the configuration (its knobs), so each one has its own launch offset. */
  constructor(seed: number, relative: number, launchKey: string) {
    this.draw = seededRandom(seed);
    const launchDraw = seededRandom((seed ^ fnv1a(launchKey)) >>> 0);
    const launchSd = relative / 4;
    this.driftSd = relative / 2;
    this.jitterSd = relative / 2;
    // exp of a normal has mean exp(σ²/2): take it off so the factors average 1.
    this.bias = (launchSd ** 2 + this.driftSd ** 2 + this.jitterSd ** 2) / 2;
    this.launch = launchSd * gaussian(launchDraw);
    this.drift = gaussian(this.draw);
  }

  /** The factor of the next iteration's duration, within [0.5, 2]. */
  next(): number {
    if (this.driftSd === 0) return 1;
    this.drift = DRIFT_RHO * this.drift + Math.sqrt(1 - DRIFT_RHO ** 2) * gaussian(this.draw);
    const log = this.launch + this.driftSd * this.drift + this.jitterSd * gaussian(this.draw) - this.bias;
    return Math.min(2, Math.max(0.5, Math.exp(log)));
  }
}

/** A standard normal draw (Box-Muller). */
function gaussian(draw: () => number): number {
  const u = 1 - draw();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * draw());
}

/** 32-bit FNV-1a of a string. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The knobs that make one launch differ from another: the key of its per-launch noise offset. */
export function configurationKey(c: SimulationConfig): string {
  return [
    c.ctxSize,
    c.parallel,
    c.threads,
    c.batchSize,
    c.ubatchSize,
    c.cacheTypeK,
    c.cacheTypeV,
    c.flashAttn,
    c.nGpuLayers,
  ].join(",");
}
