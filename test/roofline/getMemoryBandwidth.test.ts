import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { getMemoryBandwidth } from "../../src/roofline/getMemoryBandwidth.js";

const dir = await mkdtemp(join(tmpdir(), "tokbench-bandwidth-"));
after(() => rm(dir, { recursive: true, force: true }));
// A small probe: this test is about the cache, not the figure.
const probe = { threads: 1, bytesPerThread: 8 * 2 ** 20, passes: 1, rounds: 2 };

it("a probe taken on a machine busier than its cores serves its run but is not cached", async () => {
  const busy = await getMemoryBandwidth({ ...probe, cacheDir: dir, loadAverage: () => 1e6 });
  assert.equal(busy.cached, false);
  assert.ok(busy.bytes_per_second > 0);
  assert.equal(existsSync(join(dir, "memory-bandwidth.json")), false);
  // It says so, for whoever shows an efficiency from it.
  assert.equal(busy.under_load?.load_average, 1e6);
  assert.ok((busy.under_load?.cpus ?? 0) >= 1);

  const quiet = await getMemoryBandwidth({ ...probe, cacheDir: dir, loadAverage: () => 0 });
  assert.equal(quiet.cached, false);
  assert.ok(existsSync(join(dir, "memory-bandwidth.json")));
  assert.equal(quiet.under_load, undefined);
  const again = await getMemoryBandwidth({ ...probe, cacheDir: dir, loadAverage: () => 1e6 });
  assert.equal(again.cached, true);
  assert.equal(again.bytes_per_second, quiet.bytes_per_second);
});
