import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { describe, it } from "node:test";
import { subscribeAbort, unsubscribeAbort } from "../../src/http/subscribeAbort.js";

describe("subscribeAbort", () => {
  it("puts one listener on the signal for any number of subscribers and calls each once", () => {
    const controller = new AbortController();
    const calls = new Array<number>(1000).fill(0);
    const listeners = calls.map((_, i) => () => {
      calls[i] = (calls[i] as number) + 1;
    });
    for (const l of listeners) subscribeAbort(controller.signal, l);
    assert.equal(getEventListeners(controller.signal, "abort").length, 1);
    for (let i = 0; i < 1000; i += 2) unsubscribeAbort(controller.signal, listeners[i] as () => void);
    controller.abort();
    controller.abort();
    assert.deepEqual(
      calls.map((c, i) => (i % 2 === 0 ? c === 0 : c === 1)),
      calls.map(() => true),
    );
    assert.equal(getEventListeners(controller.signal, "abort").length, 0);
  });

  it("keeps signals apart, and a listener that unsubscribes another during the abort stops it", () => {
    const a = new AbortController();
    const b = new AbortController();
    const seen: string[] = [];
    const second = (): void => {
      seen.push("second");
    };
    subscribeAbort(a.signal, () => {
      seen.push("first");
      unsubscribeAbort(a.signal, second);
    });
    subscribeAbort(a.signal, second);
    subscribeAbort(b.signal, () => seen.push("b"));
    a.abort();
    assert.deepEqual(seen, ["first"]);
    b.abort();
    assert.deepEqual(seen, ["first", "b"]);
  });
});
