import assert from "node:assert/strict";
import { PostgresStore } from "../../../src/storage/postgres/PostgresStore.js";
import { PostgresTuneStore } from "../../../src/storage/postgres/PostgresTuneStore.js";
import { describeHistoryContract, SCHEMA_TABLES } from "../historyContract.js";
import { freshDatabase, serverPassword } from "./fixtures/postgresServer.js";

// The shared storage tests (../historyContract.ts) on a real PostgreSQL, as historyContract.test.ts
// runs them on SQLite. Each test gets a new database; its dump never holds the server's password.
describeHistoryContract("PostgreSQL", async () => {
  const store = await PostgresStore.open(await freshDatabase("contract"));
  return {
    beginRun: (input) => store.beginRun(input),
    appendRequests: (runId, records) => store.appendRequests(runId, records),
    finishRun: (result, options) => store.finishRun(result, options),
    history: () => store.history(),
    tunes: () => new PostgresTuneStore(store),
    async exec(sql) {
      await store.query("exec", sql);
    },
    async dump() {
      const tables = [];
      for (const table of SCHEMA_TABLES)
        tables.push(JSON.stringify((await store.query("dump", `SELECT * FROM ${table}`)).rows));
      const text = tables.join("\n");
      assert.ok(!text.includes(serverPassword()), "the connection string's password is not in the database");
      return text;
    },
    close: () => store.close(),
  };
});
