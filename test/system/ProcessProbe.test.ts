import assert from "node:assert/strict";
import { test } from "node:test";
import { createProcessProbe, parsePsTime } from "../../src/system/ProcessProbe.js";

test("ps CPU times parse to milliseconds in macOS and Linux formats", () => {
  assert.equal(parsePsTime("0:00.03"), 30);
  assert.equal(parsePsTime("12:34.56"), (12 * 60 + 34.56) * 1000);
  assert.equal(parsePsTime("01:02:03"), (3600 + 2 * 60 + 3) * 1000);
  assert.equal(parsePsTime("2-01:00:00"), (2 * 24 + 1) * 3600 * 1000);
  assert.equal(parsePsTime("bogus"), null);
});

test("the /proc probe and Node's own counters agree about this process", {
  skip: process.platform !== "linux",
}, () => {
  const viaProc = createProcessProbe(process.pid).read();
  const viaNode = createProcessProbe(null).read();
  assert.ok(
    viaProc !== null && !(viaProc instanceof Promise) && viaNode !== null && !(viaNode instanceof Promise),
  );
  assert.ok(
    Math.abs(viaProc.rss_bytes - viaNode.rss_bytes) < 8 * 1024 * 1024,
    `${viaProc.rss_bytes} vs ${viaNode.rss_bytes}`,
  );
  // /proc counts whole 10 ms ticks; Node's counters are in microseconds.
  assert.ok(
    Math.abs(viaProc.cpu_time_ms - viaNode.cpu_time_ms) < 50,
    `${viaProc.cpu_time_ms} vs ${viaNode.cpu_time_ms}`,
  );
  assert.equal(viaProc.disk_write_bytes, viaNode.disk_write_bytes);
});
