import { performance } from "node:perf_hooks";

/** Something the {@link EmissionScheduler} runs at an absolute time. */
export interface ScheduledTask {
  /** `performance.now()` time at which `fire` should run. */
  deadline: number;
  /** Set to stop a scheduled task from running. */
  cancelled: boolean;
  /** Runs the task; it may call `schedule` again with a new deadline. */
  fire(): void;
}

/**
 * One timer for every stream of the mock server: a min-heap of absolute `performance.now()`
 * deadlines. Scheduling against absolute deadlines means lateness never accumulates over a
 * stream, and one armed timer (instead of one per stream) keeps 2,000 concurrent streams cheap.
 *
 * Node timers have millisecond granularity, so the last `spinMs` before a deadline are waited out
 * with `setImmediate`, which still lets I/O run between checks; this buys sub-millisecond
 * precision for the price of some CPU while a deadline is imminent.
 */
export class EmissionScheduler {
  private readonly heap: ScheduledTask[] = [];
  private readonly spinMs: number;
  private timer: NodeJS.Timeout | null = null;
  private timerDeadline = Number.POSITIVE_INFINITY;
  private immediate: NodeJS.Immediate | null = null;

  /** `spinMs`: how long before a deadline to switch from a timer to polling. */
  constructor(spinMs: number) {
    this.spinMs = Math.max(0, spinMs);
  }

  /** Tasks waiting, including cancelled ones not yet reached. */
  get size(): number {
    return this.heap.length;
  }

  schedule(task: ScheduledTask): void {
    this.push(task);
    if (this.immediate === null && task.deadline < this.timerDeadline) this.arm();
  }

  /** Drops every task and timer. */
  clear(): void {
    this.heap.length = 0;
    this.disarm();
  }

  private readonly run = (): void => {
    this.timer = null;
    this.timerDeadline = Number.POSITIVE_INFINITY;
    this.immediate = null;
    let now = performance.now();
    let fired = 0;
    while (this.heap.length > 0) {
      const top = this.heap[0] as ScheduledTask;
      if (top.deadline > now) {
        // Writes take time: look at the clock again before deciding nothing more is due.
        if (fired === 0) break;
        now = performance.now();
        fired = 0;
        if (top.deadline > now) break;
      }
      this.pop();
      if (top.cancelled) continue;
      top.fire();
      fired++;
    }
    this.arm();
  };

  private arm(): void {
    this.disarm();
    const top = this.heap[0];
    if (top === undefined) return;
    const wait = top.deadline - performance.now();
    if (wait <= this.spinMs) {
      this.immediate = setImmediate(this.run);
    } else {
      const delay = this.spinMs > 0 ? Math.max(1, Math.floor(wait - this.spinMs)) : Math.ceil(wait);
      this.timer = setTimeout(this.run, delay);
      this.timerDeadline = top.deadline;
    }
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    this.timerDeadline = Number.POSITIVE_INFINITY;
  }

  private push(task: ScheduledTask): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(task);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as ScheduledTask;
      if (p.deadline <= task.deadline) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = task;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop() as ScheduledTask;
    if (heap.length === 0) return;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && (heap[right] as ScheduledTask).deadline < (heap[left] as ScheduledTask).deadline)
        child = right;
      const c = heap[child] as ScheduledTask;
      if (c.deadline >= last.deadline) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = last;
  }
}
