import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { RunStore } from "../../src/storage/RunStore.js";
import { sampleRecord } from "./fixtures/sampleRun.js";

const fixture = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "killMidRun.js");
const dir = mkdtempSync(join(tmpdir(), "tokbench-sigkill-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("a process killed with SIGKILL mid-run keeps every request it stored, and the run reads back as incomplete", async () => {
  const path = join(dir, "runs.sqlite");
  const n = 250;
  const child = spawn(process.execPath, [fixture, path, "run-killed", String(n)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (data: Buffer) => {
    stderr += data.toString();
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on("exit", (c, s) => resolve([c, s])),
  );
  assert.equal(signal, "SIGKILL", `child died by SIGKILL (code ${code}, stderr: ${stderr})`);

  // The WAL was never checkpointed or closed: everything is still in the -wal file.
  assert.ok(readFileSync(`${path}-wal`).length > 0, "committed data sits in the WAL");

  const store = RunStore.open(path);
  try {
    const run = store.getRun("run-killed");
    assert.equal(run.status, "incomplete", "its writer is dead");
    assert.equal(run.ended_at, null);
    assert.equal(run.summary, null);
    assert.equal(run.requests.length, n);
    assert.deepEqual(
      run.requests.toArray(),
      Array.from({ length: n }, (_, i) => sampleRecord(i)),
    );
    assert.equal(run.config.api_key, "[redacted]");
    const [entry] = store.listRuns();
    assert.deepEqual([entry?.run_id, entry?.status, entry?.requests], ["run-killed", "incomplete", n]);
  } finally {
    store.close();
  }
});
