import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Worker } from "node:worker_threads";
import { RunStore } from "../../src/storage/RunStore.js";

const dir = mkdtempSync(join(tmpdir(), "tokbench-concurrent-open-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("several processes creating the same new database at once all succeed", async () => {
  const worker = new URL("./fixtures/openStoreWorker.js", import.meta.url);
  for (let round = 0; round < 8; round++) {
    const path = join(dir, `race-${round}.sqlite`);
    const errors = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<string | null>((resolve, reject) => {
            const w = new Worker(worker, { workerData: path });
            w.once("message", (m: string | null) => resolve(m));
            w.once("error", reject);
          }),
      ),
    );
    assert.deepEqual(errors, [null, null, null, null], `round ${round}`);
    const store = RunStore.open(path);
    try {
      assert.deepEqual(store.listRuns(), []);
    } finally {
      store.close();
    }
  }
});
