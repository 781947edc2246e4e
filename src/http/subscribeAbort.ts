/** Listeners per signal, behind the one real listener each signal gets. */
const subscribers = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `listener` once when `signal` aborts (not when it already has: check `signal.aborted`
 * first). Every subscriber of a signal shares one real `abort` listener: a run passes one signal to
 * thousands of concurrent requests, and a listener each made every subscribe and unsubscribe walk
 * EventTarget's list (O(requests in flight)), while a signal of its own per request cost ~1 KB of
 * heap per request in flight, copied by every young-generation GC (bench/harness.ts).
 */
export function subscribeAbort(signal: AbortSignal, listener: () => void): void {
  let listeners = subscribers.get(signal);
  if (listeners === undefined) {
    const created = new Set<() => void>();
    listeners = created;
    subscribers.set(signal, created);
    signal.addEventListener(
      "abort",
      () => {
        // Still registered while the listeners run, so one can unsubscribe another.
        for (const l of created) l();
        subscribers.delete(signal);
      },
      { once: true },
    );
  }
  listeners.add(listener);
}

/** Removes a listener added with {@link subscribeAbort}; harmless when it is not there. */
export function unsubscribeAbort(signal: AbortSignal, listener: () => void): void {
  subscribers.get(signal)?.delete(listener);
}
