import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import Database from "better-sqlite3";
import { RunStore } from "../../src/storage/RunStore.js";
import { describeHistoryContract, SCHEMA_TABLES } from "./historyContract.js";

// The shared storage tests on a real SQLite file; postgres/historyContract.pg-test.ts runs the same
// tests on a real PostgreSQL (npm run test:postgres).
const dir = mkdtempSync(join(tmpdir(), "tokbench-contract-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;

describeHistoryContract("SQLite", async () => {
  const path = join(dir, `history-${counter++}.sqlite`);
  const store = RunStore.open(path);
  return {
    beginRun: (input) => store.beginRun(input),
    appendRequests: (runId, records) => store.appendRequests(runId, records),
    finishRun: (result, options) => store.finishRun(result, options),
    history: () => store.history(),
    tunes: () => store.tunes(),
    async exec(sql) {
      const raw = new Database(path);
      try {
        raw.exec(sql);
      } finally {
        raw.close();
      }
    },
    async dump() {
      const raw = new Database(path, { readonly: true });
      try {
        return SCHEMA_TABLES.map((table) => JSON.stringify(raw.prepare(`SELECT * FROM ${table}`).all())).join(
          "\n",
        );
      } finally {
        raw.close();
      }
    },
    close: async () => store.close(),
  };
});
