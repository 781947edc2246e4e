import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";
import type { RequestRecord } from "../../src/results/RequestRecord.js";
import type { ResourcePoint } from "../../src/results/ResourceTimeline.js";
import type { RunResult } from "../../src/results/RunResult.js";
import type { CellResult, ReplicateResult } from "../../src/results/SweepResult.js";
import type { TrialRecord } from "../../src/results/TuneResult.js";
import { workloadIdentity } from "../../src/results/workloadIdentity.js";
import { type DatabaseSchema, TABLE_COLUMNS } from "../../src/storage/DatabaseSchema.js";
import type { RunHistory } from "../../src/storage/RunHistory.js";
import type { BeginRunInput, FinishRunOptions } from "../../src/storage/RunStore.js";
import { recordFromRow, requestRow } from "../../src/storage/storedRows.js";
import { cellRow, replicateRow, sweepRow } from "../../src/storage/sweepRows.js";
import type { TuneRecords } from "../../src/storage/TuneStore.js";
import { sampleMachine, sampleRecord, sampleRunResult } from "./fixtures/sampleRun.js";

/**
 * One store as the shared storage tests see it: the writes `tokbench bench` makes (SQLite's
 * `RunStore` answers synchronously, `PostgresStore` with promises: both are awaited) and the
 * {@link RunHistory} every history command reads through.
 */
export interface StoreUnderTest {
  beginRun(input: BeginRunInput): unknown;
  appendRequests(runId: string, records: readonly RequestRecord[]): unknown;
  finishRun(result: RunResult, options?: FinishRunOptions): unknown;
  history(): RunHistory;
  /** The store's tune tables, as `tokbench tune` writes them. */
  tunes(): TuneRecords;
  /** Runs one statement written so that both dialects take it (no parameters). */
  exec(sql: string): Promise<void>;
  /** Every row of every table of the schema, as text: what the database holds, for secret checks. */
  dump(): Promise<string>;
  close(): Promise<void>;
}

/** A PID no process has (above Linux's largest pid_max): the writer of a run that died. */
const DEAD_PID = 999_999_999;

function run(id: string, n: number, patch: Partial<RunResult> & { config?: Record<string, unknown> } = {}) {
  const base = sampleRunResult(id, n);
  return { ...base, ...patch, config: { ...base.config, ...(patch.config ?? {}) } } as RunResult;
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

/** An INSERT of `row` into `table` with literal values, as both dialects take it (for `exec`). */
function insertLiteral<T extends keyof DatabaseSchema>(table: T, row: DatabaseSchema[T]): string {
  const columns = TABLE_COLUMNS[table] as string[];
  const literal = (value: unknown) =>
    value === null
      ? "NULL"
      : typeof value === "number"
        ? String(value)
        : `'${String(value).replaceAll("'", "''")}'`;
  return `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map((c) => literal((row as unknown as Record<string, unknown>)[c])).join(", ")})`;
}

/** A trial as `tokbench tune` stores it (what a store must give back whole). */
function trial(index: number, value: number | null): TrialRecord {
  return {
    index,
    stage: index === 0 ? "fit" : "search",
    kind: index === 0 ? "baseline" : "candidate",
    configuration: { parallel: index + 1, flash_attn: index % 2 === 0, cache_type_k: "q8_0" },
    replicates: [
      { status: "ok", value, run_id: `run-of-trial-${index}`, figures: { ttft_p95_ms: 12.5 } } as never,
    ],
    status: value === null ? "failed" : "feasible",
    failure: value === null ? "oom" : null,
    reason: value === null ? "out of memory at 'parallel 4'" : null,
    value,
    ttft_p95_ms: value === null ? null : 12.5,
    spread: value === null ? null : 0.0125,
    reference: index === 0 ? null : 100.25,
    elapsed_ms: 1234.5,
  };
}

/** `record` as any store gives it back (what `requestRow` keeps of it). */
function stored(runId: string, record: RequestRecord, secrets: readonly string[] = []): RequestRecord {
  return recordFromRow(requestRow(runId, record, secrets));
}

/**
 * The storage tests every store passes: SQLite in `npm test` (historyContract.test.ts), PostgreSQL
 * in `npm run test:postgres` (postgres/historyContract.pg-test.ts). `open` gives a new, empty
 * database each call.
 */
export function describeHistoryContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`run history contract: ${name}`, () => {
    it("a finished run reads back whole: header, requests in order (past one read batch), distributions, timeline, output, tags", async () => {
      const store = await open();
      try {
        const result = run("run-whole", 2_345);
        const timeline: ResourcePoint[] = [0, 1, 2].map((i) => ({
          offset_ms: i * 250,
          span_ms: 250,
          rss_bytes: 1e8 + i,
          cpu_percent: i === 0 ? null : 50.5 + i,
          gpu_memory_bytes: null,
          gpu_utilization_percent: null,
          disk_read_bytes: i * 4096,
          disk_write_bytes: 0,
        }));
        result.distributions = {
          encoding: "hdr-v2-base64",
          value_scale: 1000,
          histograms: { e2e_ms: "BBBB", ttft_ms: "AAAA" },
        };
        result.resource_timeline = timeline;
        await store.finishRun(result, { terminal_text: "printed\n", tags: ["nightly", "a-first", " "] });
        const history = store.history();
        const header = await history.readRun("run-whole");
        assert.equal(header.status, "completed");
        assert.equal(header.request_count, 2_345);
        assert.deepEqual(header.summary, result.summary);
        assert.deepEqual(header.tests, result.tests);
        assert.deepEqual(header.resources, result.resources);
        assert.deepEqual(header.config, result.config);
        assert.deepEqual(header.machine, result.machine);
        assert.equal(header.model, "tiny");
        assert.equal(header.target_kind, "openai-chat");
        assert.deepEqual(header.tags, ["a-first", "nightly"]);
        assert.equal(header.workload_key, workloadIdentity(result.config).key);
        assert.equal(header.started_at, result.started_at);
        assert.equal(header.ended_at, result.ended_at);
        const records = await collect(history.requests("run-whole"));
        assert.equal(records.length, 2_345);
        records.forEach((record, i) => {
          assert.deepEqual(record, stored("run-whole", sampleRecord(i)), `request ${i}`);
        });
        assert.deepEqual(await history.distributions("run-whole"), result.distributions);
        assert.deepEqual(await history.resourceTimeline("run-whole"), timeline);
        assert.equal(await history.terminalText("run-whole"), "printed\n");
        assert.equal(await history.distributions("nope"), null);
        assert.deepEqual(await history.resourceTimeline("nope"), []);
        assert.equal(await history.terminalText("nope"), null);
        await assert.rejects(history.readRun("nope"), (e: unknown) => isTokbenchError(e, "RUN_NOT_FOUND"));
      } finally {
        await store.close();
      }
    });

    it("lists runs newest first with every filter, counts before the limit, and tells running from incomplete", async () => {
      const store = await open();
      try {
        await store.finishRun(
          run("r1", 3, { started_at: "2026-01-01T00:00:00.000Z", config: { model: "Llama_3" } }),
          { tags: ["ci"] },
        );
        await store.finishRun(
          run("r2", 6, {
            started_at: "2026-01-02T00:00:00.000Z",
            status: "aborted",
            status_reason: "stopped",
            config: { model: "llamax3", target: "ollama", concurrency: 8 },
          }),
        );
        await store.finishRun(run("r3", 4, { started_at: "2026-01-03T00:00:00.000Z" }), {
          tags: ["ci", "gpu"],
        });
        // Two runs still stored as running: one whose writer (this process) lives, one whose writer died.
        for (const id of ["r4-live", "r5-dead"]) {
          await store.beginRun({
            run_id: id,
            started_at: id === "r4-live" ? "2026-01-04T00:00:00.000Z" : "2026-01-05T00:00:00.000Z",
            config: { target: "openai-chat", model: "tiny", concurrency: 4, max_tokens: 64 },
            machine: sampleMachine("writer-host"),
            tool_version: "t",
          });
          await store.appendRequests(id, [sampleRecord(0), sampleRecord(1), sampleRecord(2)]);
        }
        await store.exec(`UPDATE runs SET writer_pid = ${DEAD_PID} WHERE id = 'r5-dead'`);
        const history = store.history();
        const ids = async (filter: Parameters<RunHistory["listRuns"]>[0]) => {
          const { runs, total } = await history.listRuns(filter);
          return { ids: runs.map((r) => r.run_id), total };
        };
        assert.deepEqual(await ids({}), { ids: ["r5-dead", "r4-live", "r3", "r2", "r1"], total: 5 });
        assert.deepEqual(await ids({ limit: 2 }), { ids: ["r5-dead", "r4-live"], total: 5 });
        assert.deepEqual(await ids({ limit: 0 }), { ids: [], total: 5 });
        // Case ignored; `_` and `%` are literal characters, not wildcards.
        assert.deepEqual(await ids({ model: "LLAMA_" }), { ids: ["r1"], total: 1 });
        assert.deepEqual(await ids({ model: "lama" }), { ids: ["r2", "r1"], total: 2 });
        assert.deepEqual(await ids({ model: "%" }), { ids: [], total: 0 });
        assert.deepEqual(await ids({ target: "ollama" }), { ids: ["r2"], total: 1 });
        assert.deepEqual(await ids({ tag: "ci" }), { ids: ["r3", "r1"], total: 2 });
        assert.deepEqual(await ids({ tag: "ci", since: "2026-01-02T00:00:00.000Z" }), {
          ids: ["r3"],
          total: 1,
        });
        assert.deepEqual(await ids({ status: "aborted" }), { ids: ["r2"], total: 1 });
        assert.deepEqual(await ids({ status: "running" }), { ids: ["r4-live"], total: 1 });
        assert.deepEqual(await ids({ status: "incomplete" }), { ids: ["r5-dead"], total: 1 });
        assert.deepEqual(await ids({ status: "completed", limit: 1 }), { ids: ["r3"], total: 2 });
        const key = workloadIdentity(
          run("r2", 1, { config: { model: "llamax3", target: "ollama", concurrency: 8 } }).config,
        ).key;
        assert.deepEqual(await ids({ workload_key: key }), { ids: ["r2"], total: 1 });

        const { runs } = await history.listRuns();
        const byId = new Map(runs.map((r) => [r.run_id, r]));
        const dead = byId.get("r5-dead");
        assert.equal(dead?.status, "incomplete");
        assert.equal(dead?.requests, 3, "counted from the stored requests while no facts say");
        assert.equal(dead?.failed_requests, 1);
        assert.equal(dead?.headline, null);
        assert.equal(dead?.hostname, "writer-host");
        assert.equal(byId.get("r4-live")?.status, "running");
        const r3 = byId.get("r3");
        assert.deepEqual(r3?.tags, ["ci", "gpu"]);
        assert.equal(r3?.requests, 4);
        assert.equal(r3?.failed_requests, 1);
        assert.equal(r3?.headline?.ttft_p50_ms, 15);
        assert.equal(r3?.hostname, "bench-host");
        assert.equal(byId.get("r2")?.status_reason, "stopped");
        assert.equal((await history.readRun("r5-dead")).status, "incomplete");
        assert.equal((await history.readRun("r5-dead")).summary, null);
      } finally {
        await store.close();
      }
    });

    it("resolves whole ids, unique prefixes and last; refuses ambiguous prefixes and unknown runs", async () => {
      const store = await open();
      try {
        const history = store.history();
        await assert.rejects(history.resolveRun("last"), (e: unknown) => isTokbenchError(e, "RUN_NOT_FOUND"));
        const idA = "abc00000-0000-4000-8000-000000000001";
        const idB = "abc00000-0000-4000-8000-000000000002";
        await store.finishRun(run(idA, 1, { started_at: "2026-02-01T00:00:00.000Z" }));
        await store.finishRun(run(idB, 1, { started_at: "2026-02-02T00:00:00.000Z" }));
        await store.finishRun(run("abd", 1, { started_at: "2026-01-01T00:00:00.000Z" }));
        await store.finishRun(run("xyz-only-run", 1, { started_at: "2025-01-01T00:00:00.000Z" }));
        assert.equal(await history.resolveRun("last"), idB);
        assert.equal(await history.resolveRun(` ${idA} `), idA);
        assert.equal(await history.resolveRun("abd"), "abd");
        // A unique prefix names its run.
        assert.equal(await history.resolveRun("xyz"), "xyz-only-run");
        await assert.rejects(
          history.resolveRun("abc0"),
          (e: unknown) =>
            isTokbenchError(e, "RUN_AMBIGUOUS") &&
            /abc0 matches several runs \(abc00000-0000-4000-8000-000000000001, abc00000-0000-4000-8000-000000000002\)/.test(
              e.message,
            ),
        );
        await assert.rejects(history.resolveRun("zz"), (e: unknown) => isTokbenchError(e, "RUN_NOT_FOUND"));
        await assert.rejects(history.resolveRun("  "), (e: unknown) => isTokbenchError(e, "RUN_NOT_FOUND"));
        // `%` and `_` in a prefix are characters, not patterns.
        await assert.rejects(history.resolveRun("ab_"), (e: unknown) => isTokbenchError(e, "RUN_NOT_FOUND"));
      } finally {
        await store.close();
      }
    });

    it("accepts completed runs as baselines, newest acceptance first, each run once; refuses the rest", async () => {
      const store = await open();
      try {
        const history = store.history();
        await store.finishRun(run("b1", 2, { started_at: "2026-03-01T00:00:00.000Z" }));
        await store.finishRun(run("b2", 2, { started_at: "2026-03-02T00:00:00.000Z" }));
        await store.finishRun(run("b-nomodel", 2, { config: { model: undefined } }));
        await store.finishRun(run("b-aborted", 2, { status: "aborted" }));
        const key = (await history.readRun("b1")).workload_key as string;
        assert.equal(await history.acceptedBaseline("tiny", key), null);
        const first = await history.accept("b1");
        assert.deepEqual(
          { ...first, accepted_at: "" },
          { run_id: "b1", model: "tiny", workload_key: key, accepted_at: "" },
        );
        await new Promise((resolve) => setTimeout(resolve, 5));
        await history.accept("b2");
        await new Promise((resolve) => setTimeout(resolve, 5));
        await history.accept("b1");
        assert.equal((await history.acceptedBaseline("tiny", key))?.run_id, "b1");
        assert.deepEqual(
          (await history.acceptedBaselines("tiny", key, 5)).map((b) => b.run_id),
          ["b1", "b2"],
        );
        assert.deepEqual(
          (await history.acceptedBaselines("tiny", key, 1)).map((b) => b.run_id),
          ["b1"],
        );
        assert.deepEqual(await history.acceptedBaselines("other", key, 5), []);
        // A run without a model is a baseline for "no model", never for a named one.
        const noModelKey = (await history.readRun("b-nomodel")).workload_key as string;
        assert.equal((await history.accept("b-nomodel")).model, null);
        assert.equal((await history.acceptedBaseline(null, noModelKey))?.run_id, "b-nomodel");
        await assert.rejects(history.accept("b-aborted"), (e: unknown) =>
          isTokbenchError(e, "INVALID_ARGUMENT"),
        );
        await assert.rejects(history.accept("nope"), (e: unknown) => isTokbenchError(e, "RUN_NOT_FOUND"));
      } finally {
        await store.close();
      }
    });

    it("deletes runs with every row stored for them, and finds runs to prune without accepted baselines", async () => {
      const store = await open();
      try {
        const history = store.history();
        for (const [id, day] of [
          ["old-1", "01"],
          ["old-2", "02"],
          ["new-1", "20"],
        ] as const) {
          const result = run(id, 5, { started_at: `2026-04-${day}T00:00:00.000Z` });
          result.distributions = {
            encoding: "hdr-v2-base64",
            value_scale: 1000,
            histograms: { ttft_ms: "AAAA" },
          };
          result.resource_timeline = [
            {
              offset_ms: 0,
              span_ms: 250,
              rss_bytes: 1,
              cpu_percent: null,
              gpu_memory_bytes: null,
              gpu_utilization_percent: null,
              disk_read_bytes: 0,
              disk_write_bytes: 0,
            },
          ];
          await store.finishRun(result, { terminal_text: "x\n", tags: ["t"] });
        }
        await history.accept("old-1");
        assert.deepEqual(await history.runsStartedBefore("2026-04-10T00:00:00.000Z"), ["old-1", "old-2"]);
        assert.deepEqual(
          await history.runsStartedBefore("2026-04-10T00:00:00.000Z", { keepAccepted: true }),
          ["old-2"],
        );
        assert.equal(await history.deleteRuns(["old-1", "old-2", "missing"]), 2);
        assert.equal(await history.deleteRuns([]), 0);
        assert.deepEqual(
          (await history.listRuns()).runs.map((r) => r.run_id),
          ["new-1"],
        );
        const dump = await store.dump();
        assert.ok(!dump.includes("old-1") && !dump.includes("old-2"), "no row of a deleted run is left");
        assert.ok(dump.includes("new-1"));
      } finally {
        await store.close();
      }
    });

    it("tunes: stored trial by trial, listed newest first with their trial counts, read back whole by id or prefix, incomplete when their writer died", async () => {
      const store = await open();
      try {
        const tunes = store.tunes();
        const history = store.history();
        assert.deepEqual(await history.listTunes(), []);
        const ids = [
          "aaaa1111-0000-4000-8000-000000000001",
          "aaaa1111-0000-4000-8000-000000000002",
          "bbbb2222-0000-4000-8000-000000000003",
        ];
        const spec = {
          sweep: { provider: "llama-server", knob_axes: [{ name: "parallel", values: [1, 2, 4] }] },
          note: "it's",
        };
        for (const [i, id] of ids.entries())
          await tunes.begin({
            tune_id: id,
            tool_version: "t",
            started_at: `2026-03-0${i + 1}T00:00:00.000Z`,
            spec,
          });
        const trials = [trial(0, 100.25), trial(1, 180.5), trial(2, null)];
        for (const t of trials) await tunes.addTrial(ids[0] as string, t);
        await tunes.addTrial(ids[1] as string, trial(0, 90));
        await tunes.finish(ids[0] as string, "completed", "converged", {
          recipe_hash: "sha256:x",
          best: { parallel: 2 },
        });
        await store.exec(`UPDATE tunes SET writer_pid = ${DEAD_PID} WHERE id = '${ids[1]}'`);

        const listed = await history.listTunes();
        assert.deepEqual(
          listed.map((t) => [t.tune_id, t.status, t.trials, t.exit_reason]),
          [
            [ids[2], "running", 0, null],
            [ids[1], "incomplete", 1, null],
            [ids[0], "completed", 3, "converged"],
          ],
        );
        assert.deepEqual(
          (await history.listTunes(1)).map((t) => t.tune_id),
          [ids[2]],
        );
        const read = await history.readTune(ids[0] as string);
        assert.deepEqual(read.trials, trials);
        assert.deepEqual(read.spec, spec);
        assert.deepEqual(read.recipe, { recipe_hash: "sha256:x", best: { parallel: 2 } });
        assert.equal(read.status, "completed");
        assert.equal(read.started_at, "2026-03-01T00:00:00.000Z");
        assert.ok(read.ended_at !== null);
        // The store's own reader answers as the history does (`tune --resume` reads through it).
        assert.deepEqual(await tunes.get(ids[0] as string), read);
        assert.deepEqual(await tunes.list(), listed);
        assert.equal((await history.readTune("bbbb2222")).tune_id, ids[2]);
        for (const ref of ["aaaa1111", "aaaa111", "cccc3333-none"])
          await assert.rejects(history.readTune(ref), (e: unknown) => isTokbenchError(e, "TUNE_NOT_FOUND"));
        await assert.rejects(history.readTune("aaaa1111"), /ambiguous/);
        // Resumed by this process: running again, its recipe cleared until it ends again.
        await tunes.resume(ids[0] as string);
        const resumed = await tunes.get(ids[0] as string);
        assert.equal(resumed.status, "running");
        assert.equal(resumed.recipe, null);
        assert.equal(resumed.trials.length, 3);
        await assert.rejects(tunes.addTrial(ids[0] as string, trial(1, 1)), (e: unknown) =>
          isTokbenchError(e, "DB_WRITE_FAILED"),
        );
      } finally {
        await store.close();
      }
    });

    it("sweeps: listed newest first with their finished cells, read back with cells, replicates linked to runs and pending replicates", async () => {
      const store = await open();
      try {
        const history = store.history();
        assert.deepEqual(await history.listSweeps(), []);
        for (const id of ["rep-0", "rep-1", "rep-2"]) await store.finishRun(run(id, 2));
        const replicate = (n: number): ReplicateResult => ({
          replicate: n,
          run_id: `rep-${n}`,
          feasible: n !== 2,
          errors: n === 2,
          reason: n === 2 ? "2 requests failed" : null,
          figures: { output_tokens_per_s: 50 + n } as never,
          checks: [],
          notes: [],
        });
        const cell: CellResult = {
          index: 0,
          key: "parallel=2|c=4",
          knobs: { parallel: 2 },
          workload: { concurrency: 4, prompt_tokens: 16, max_tokens: 4 },
          status: "feasible" as never,
          reason: null,
          failure: null,
          memory_failure: false,
          notes: [],
          run_id: "rep-0",
          run_ids: ["rep-0", "rep-1"],
          summary: { output_tokens_per_s: 50.5 } as never,
          replicates: [replicate(0), replicate(1)],
          skipped_because: null,
          log_path: "/logs/it's.log",
        };
        const ids = ["swp11111-0000-4000-8000-000000000001", "swp22222-0000-4000-8000-000000000002"];
        const statements = [
          insertLiteral("sweeps", {
            ...sweepRow({
              sweep_id: ids[0] as string,
              tool_version: "t",
              started_at: "2026-04-01T00:00:00.000Z",
              spec: { knobs: ["parallel"] },
              planned_cells: 2,
            }),
            status: "completed",
            ended_at: "2026-04-01T01:00:00.000Z",
            timing_json: JSON.stringify({ wall_ms: 5 }),
          }),
          insertLiteral("sweeps", {
            ...sweepRow({
              sweep_id: ids[1] as string,
              tool_version: "t",
              started_at: "2026-04-02T00:00:00.000Z",
              spec: {},
              planned_cells: 3,
            }),
            writer_pid: DEAD_PID,
          }),
          insertLiteral("sweep_runs", replicateRow(ids[0] as string, cell.key, replicate(0))),
          insertLiteral("sweep_runs", replicateRow(ids[0] as string, cell.key, replicate(1))),
          insertLiteral("sweep_cells", cellRow(ids[0] as string, cell)),
          // A replicate of a cell the sweep had not finished when it stopped.
          insertLiteral("sweep_runs", replicateRow(ids[0] as string, "parallel=4|c=4", replicate(2))),
        ];
        for (const sql of statements) await store.exec(sql);

        const listed = await history.listSweeps();
        assert.deepEqual(
          listed.map((s) => [s.sweep_id, s.status, s.planned_cells, s.finished_cells]),
          [
            [ids[1], "incomplete", 3, 0],
            [ids[0], "completed", 2, 1],
          ],
        );
        assert.deepEqual(
          (await history.listSweeps(1)).map((s) => s.sweep_id),
          [ids[1]],
        );
        const read = await history.readSweep("swp11111");
        assert.equal(read.sweep_id, ids[0]);
        assert.equal(read.status, "completed");
        assert.deepEqual(read.spec, { knobs: ["parallel"] });
        assert.deepEqual(read.timing, { wall_ms: 5 });
        assert.deepEqual(read.cells, [cell]);
        assert.deepEqual([...read.pending_replicates], [["parallel=4|c=4", [replicate(2)]]]);
        await assert.rejects(history.readSweep("swp"), (e: unknown) => isTokbenchError(e, "SWEEP_NOT_FOUND"));
        await assert.rejects(history.readSweep("nothing-here"), (e: unknown) =>
          isTokbenchError(e, "SWEEP_NOT_FOUND"),
        );
        // A run deleted from the history leaves the sweep without its replicate (links are kept by the schema).
        assert.equal(await history.deleteRuns(["rep-1"]), 1);
        assert.deepEqual((await history.readSweep(ids[0] as string)).cells[0]?.run_ids, ["rep-0"]);
      } finally {
        await store.close();
      }
    });

    it("a run's secrets never reach the database, and read back redacted", async () => {
      const store = await open();
      const secret = "sk-CONTRACT-SECRET-9876";
      try {
        await store.beginRun({
          run_id: "s1",
          started_at: "2026-05-01T00:00:00.000Z",
          config: {
            target: "openai-chat",
            model: "tiny",
            url: `http://127.0.0.1:9/v1?key=${secret}`,
            api_key: secret,
          },
          machine: sampleMachine(),
          tool_version: "t",
          secrets: [secret],
        });
        const failing: RequestRecord = {
          ...sampleRecord(2),
          error: { code: "REQUEST_HTTP_ERROR", message: `401: bad key ${secret}`, status: 401 },
        };
        await store.appendRequests("s1", [sampleRecord(0), sampleRecord(1), failing]);
        const result = run("s1", 3, {
          started_at: "2026-05-01T00:00:00.000Z",
          status: "aborted",
          status_reason: `server said ${secret}`,
          config: { url: `http://127.0.0.1:9/v1?key=${secret}`, api_key: secret },
        });
        await store.finishRun(result, { terminal_text: `printed ${secret}\n`, requests: [] });
        assert.ok(!(await store.dump()).includes(secret), "the secret is nowhere in the database");
        const history = store.history();
        const header = await history.readRun("s1");
        assert.ok(!JSON.stringify(header).includes(secret));
        assert.match(header.status_reason ?? "", /server said \S+/);
        const records = await collect(history.requests("s1"));
        assert.equal(records.length, 3);
        assert.ok(!JSON.stringify(records).includes(secret));
        assert.match(records[2]?.error?.message ?? "", /^401: bad key /);
        assert.ok(!((await history.terminalText("s1")) ?? "").includes(secret));
      } finally {
        await store.close();
      }
    });
  });
}

/** Every table of the schema, for {@link StoreUnderTest.dump}. */
export const SCHEMA_TABLES = Object.keys(TABLE_COLUMNS);
