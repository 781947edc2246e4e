import type { SimClock } from "./SimEngine.js";

/**
 * A {@link SimClock} that only moves when told: the engine's iterations run back to back without
 * waiting, so a simulated minute takes milliseconds. For tests and for exploring the simulation's
 * landscape; the simulated server itself runs on real time.
 */
export class VirtualClock implements SimClock {
  private time = 0;
  private pending: { deadline: number; fire: () => void } | null = null;

  now(): number {
    return this.time;
  }

  at(deadline: number, fire: () => void): void {
    this.pending = { deadline, fire };
  }

  cancel(): void {
    this.pending = null;
  }

  /** Runs every scheduled call due by `until` (all of them when omitted), then sets the time to `until`. */
  run(until = Number.POSITIVE_INFINITY): void {
    while (this.pending !== null && this.pending.deadline <= until) {
      const next = this.pending;
      this.pending = null;
      this.time = Math.max(this.time, next.deadline);
      next.fire();
    }
    if (until !== Number.POSITIVE_INFINITY) this.time = Math.max(this.time, until);
  }

  /** Whether a call is scheduled. */
  get busy(): boolean {
    return this.pending !== null;
  }
}
