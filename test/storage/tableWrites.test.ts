import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { TABLE_COLUMNS } from "../../src/storage/DatabaseSchema.js";
import { MIGRATIONS } from "../../src/storage/migrations.js";
import { insertSql, updateFromExcluded } from "../../src/storage/tableWrites.js";

describe("updateFromExcluded: an upsert's column list from the one schema", () => {
  it("sets every column of the table but its key, each from excluded", () => {
    const set = updateFromExcluded("runs", ["id"]);
    const assigned = [...set.matchAll(/(\w+) = excluded\.(\w+)/g)].map((m) => {
      assert.equal(m[1], m[2]);
      return m[1];
    });
    assert.deepEqual(
      assigned,
      TABLE_COLUMNS.runs.filter((c) => c !== "id"),
    );
    assert.ok(!/\bid = /.test(set));
  });

  it("replaces every non-key column of a stored row in a real SQLite database", () => {
    const db = new Database(":memory:");
    for (const sql of MIGRATIONS) db.exec(sql);
    const facts = (n: number) => ({
      run_id: "r1",
      workload_key: `k${n}`,
      workload: `w${n}`,
      requests_total: n,
      requests_failed: n - 1,
      headline_json: `{"n":${n}}`,
    });
    db.prepare(
      "INSERT INTO machines (id, fingerprint, hostname, os, os_release, arch, cpu_model, cpu_cores, total_memory_bytes, node_version, gpus_json, engine, llama_cpp_version, first_seen_at) VALUES (1, 'f', 'h', 'linux', '1', 'x64', 'c', 2, 1, 'v20', '[]', NULL, NULL, 't')",
    ).run();
    db.prepare(
      "INSERT INTO runs (id, result_schema_version, tool_version, started_at, status, machine_id, config_json, writer_pid, writer_hostname) VALUES ('r1', 1, 'v', 't', 'running', 1, '{}', 1, 'h')",
    ).run();
    const upsert = db.prepare(
      `${insertSql("run_facts")} ON CONFLICT (run_id) DO UPDATE ${updateFromExcluded("run_facts", ["run_id"])}`,
    );
    upsert.run(facts(1));
    upsert.run(facts(2));
    assert.deepEqual(db.prepare("SELECT * FROM run_facts").all(), [facts(2)]);
    db.close();
  });
});
