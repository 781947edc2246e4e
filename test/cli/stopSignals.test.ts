import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { MockServer } from "../../src/mock/MockServer.js";
import type { RequestRecord } from "../../src/results/RequestRecord.js";
import { machineFingerprint } from "../../src/roofline/getMemoryBandwidth.js";
import { RunStore } from "../../src/storage/RunStore.js";
import { synthesizeModel } from "../../src/synth/synthesizeModel.js";
import { alive, type CliRun, mockBenchArgs, startCli, storedRequests, waitFor } from "./runCli.js";

const MAX_TOKENS = 6;

/** The conventional exit codes: 128 + the signal's number. */
const EXIT_CODE = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;
type StopSignalName = keyof typeof EXIT_CODE;

/** Whether process `pid` has `path` open: the run's database is opened just before the run starts. */
function hasOpen(pid: number, path: string): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === path;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** Runs stored in the database at `db` (0 when there is no database). */
function storedRuns(db: string): number {
  if (!existsSync(db)) return 0;
  const store = RunStore.open(db);
  try {
    return store.listRuns().length;
  } finally {
    store.close();
  }
}

function rssBytes(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  } catch {
    return 0;
  }
}

/** Checks what a run stopped by `signal` left: exit code, printed summary, and the stored run. */
function assertStoppedCleanly(run: CliRun, db: string, signal: StopSignalName, minStored: number): void {
  assert.equal(run.signal, null, "it exited by itself, after the clean stop");
  assert.equal(run.code, EXIT_CODE[signal], run.stderr);
  const reason = signal === "SIGINT" ? "interrupted by the user (Ctrl-C)" : `stopped by ${signal}`;
  assert.match(run.stderr, /stopping cleanly/);
  assert.ok(run.stdout.includes(`interrupted: ${reason}`), run.stdout);
  const succeeded = Number(/requests: (\d+) succeeded/.exec(run.stdout)?.[1]);
  assert.match(run.stderr, /saved to/);
  const store = RunStore.open(db);
  try {
    const [entry] = store.listRuns();
    assert.ok(entry);
    const stored = store.getRun(entry.run_id);
    assert.equal(stored.status, "interrupted");
    assert.equal(stored.status_reason, reason);
    assert.ok(stored.summary !== null, "the summary is stored");
    assert.equal(stored.summary.requests.succeeded, succeeded, "the printed summary is the stored one");
    const records = stored.requests.toArray() as RequestRecord[];
    assert.ok(
      records.length >= minStored,
      `${records.length} stored, ${minStored} finished before the signal`,
    );
    assert.equal(records.filter((r) => r.error === null).length, succeeded);
  } finally {
    store.close();
  }
}

describe("SIGTERM and SIGHUP stop a run as Ctrl-C does", () => {
  let dir: string;
  let mock: MockServer;
  let url: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-signals-"));
    mock = new MockServer({ ttftMs: 2, itlMs: 3 });
    url = await mock.start();
  });
  after(async () => {
    await mock.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const signal of ["SIGTERM", "SIGHUP", "SIGINT"] as const) {
    it(`${signal} mid-run against a server: summary printed and stored, run interrupted, nvidia-smi children stopped, exit ${EXIT_CODE[signal]}`, async () => {
      const db = join(dir, `${signal}.sqlite`);
      // A stand-in for nvidia-smi (there is no GPU here): one-shot queries fail (no GPU in the
      // machine info), the --loop-ms monitors run until stopped and, like a stuck child, would
      // outlive tokbench if nobody stopped them: they ignore SIGPIPE and write into a closed pipe.
      const bin = join(dir, `bin-${signal}`);
      const pids = join(dir, `smi-${signal}.pids`);
      const smi = join(bin, "nvidia-smi");
      mkdirSync(bin, { recursive: true });
      writeFileSync(
        smi,
        `#!/bin/sh\ncase "$*" in *--loop-ms*) ;; *) exit 9 ;; esac\ntrap '' PIPE\necho $$ >> "${pids}"\nwhile :; do echo "0, GPU-fake, 100, 5" 2>/dev/null; sleep 0.05; done\n`,
      );
      chmodSync(smi, 0o755);
      const cli = startCli(
        [
          ...mockBenchArgs(url, db, { requests: 100_000, concurrency: 4, maxTokens: MAX_TOKENS }),
          "--pid",
          String(process.pid),
        ],
        { env: { PATH: `${bin}${delimiter}${process.env.PATH ?? ""}` } },
      );
      try {
        await waitFor("40 stored requests", () => storedRequests(db) >= 40);
        await waitFor(
          "both nvidia-smi loops",
          () => existsSync(pids) && readFileSync(pids, "utf8").split("\n").length > 2,
        );
        const before = storedRequests(db);
        cli.child.kill(signal);
        const result = await cli.done;
        assertStoppedCleanly(result, db, signal, before);
        const smiPids = readFileSync(pids, "utf8").trim().split("\n").map(Number);
        assert.equal(smiPids.length, 2);
        await waitFor("the nvidia-smi children to end", () => smiPids.every((pid) => !alive(pid)), 3000);
      } finally {
        cli.child.kill("SIGKILL");
        await cli.done;
        if (existsSync(pids)) {
          for (const pid of readFileSync(pids, "utf8").trim().split("\n").map(Number)) {
            if (alive(pid)) process.kill(pid, "SIGKILL");
          }
        }
      }
    });
  }

  it("the embedded engine: SIGTERM during the request workload, and during the first-run bandwidth probe", async () => {
    const model = join(dir, "tiny.gguf");
    await synthesizeModel({ preset: "tiny", type: "q4_0", out: model, shape: { blockCount: 2 } });
    // UV_THREADPOOL_SIZE set: no relaunch, so the signal and /proc go to the process that runs the engine.
    const env = { UV_THREADPOOL_SIZE: "4", XDG_CACHE_HOME: join(dir, "cache") };
    const args = ["bench", "--model", model, "--no-progress", "--max-tokens", "8", "--prompt-tokens", "16"];

    // First run on this "machine": the bandwidth probe (hundreds of MiB per thread, seconds) runs
    // before the workload; SIGTERM while it runs ends it at once.
    const probeDb = join(dir, "probe.sqlite");
    const probing = startCli([...args, "--requests", "100000", "-c", "1", "--db", probeDb], { env });
    try {
      await waitFor("the probe's buffers", () => rssBytes(probing.child.pid ?? 0) > 400 * 2 ** 20, 120_000);
      const t = performance.now();
      probing.child.kill("SIGTERM");
      const result = await probing.done;
      assert.ok(performance.now() - t < 3000, `it took ${performance.now() - t} ms to stop`);
      assert.equal(result.code, 143, result.stderr);
      // Stopped before the run started: said in one line, and no run stored.
      assert.deepEqual(result.stderr.trimEnd().split("\n"), [
        "tokbench: stopped by SIGTERM before the run started: nothing was measured [RUN_INTERRUPTED]",
      ]);
      assert.equal(storedRuns(probeDb), 0);
      assert.ok(
        !existsSync(join(dir, "cache", "tokbench", "memory-bandwidth.json")),
        "the probe did not finish (no figure cached)",
      );
    } finally {
      probing.child.kill("SIGKILL");
      await probing.done;
    }

    // The workload itself, with a bandwidth figure cached so that the run reaches it at once.
    mkdirSync(join(dir, "cache", "tokbench"), { recursive: true });
    writeFileSync(
      join(dir, "cache", "tokbench", "memory-bandwidth.json"),
      JSON.stringify({
        bytes_per_second: 1e10,
        measured_at: new Date().toISOString(),
        machine: machineFingerprint(),
      }),
    );
    const db = join(dir, "embedded.sqlite");
    const run = startCli([...args, "--requests", "100000", "-c", "1", "--db", db], { env });
    try {
      await waitFor("5 stored requests", () => storedRequests(db) >= 5, 120_000);
      const stored = storedRequests(db);
      run.child.kill("SIGTERM");
      assertStoppedCleanly(await run.done, db, "SIGTERM", stored);
    } finally {
      run.child.kill("SIGKILL");
      await run.done;
    }

    // llama-bench-style tests (no requests): the rows measured so far are kept and stored.
    const testsDb = join(dir, "tests.sqlite");
    const tests = startCli(
      ["bench", "--model", model, "--pp", "64", "--tg", "16", "-r", "10000"].concat([
        "--no-progress",
        "--db",
        testsDb,
      ]),
      { env },
    );
    try {
      // Once the run has begun (its database is open), give the tests a moment to get going.
      await waitFor("the run to begin", () => hasOpen(tests.child.pid ?? 0, testsDb), 120_000);
      await sleep(1500);
      tests.child.kill("SIGTERM");
      const result = await tests.done;
      assert.equal(result.code, 143, result.stderr);
      assert.match(result.stdout, /interrupted: stopped by SIGTERM/);
      const store = RunStore.open(testsDb);
      try {
        const [entry] = store.listRuns();
        const stored = store.getRun(entry?.run_id as string);
        assert.equal(stored.status, "interrupted");
        assert.equal(stored.status_reason, "stopped by SIGTERM");
      } finally {
        store.close();
      }
    } finally {
      tests.child.kill("SIGKILL");
      await tests.done;
    }
  });
});

describe("a stop signal before the run starts ends the command with one line, not the default action", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-setup-signals-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("SIGTERM while the server check waits: one line, exit 143, nothing stored", async () => {
    // A server that accepts the connection and never answers: the check waits (up to --timeout).
    const sockets: Socket[] = [];
    const server = createServer((socket) => {
      sockets.push(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const db = join(dir, "check.sqlite");
    const run = startCli(["bench", "--url", `http://127.0.0.1:${port}/v1`, "--model", "m", "--db", db]);
    try {
      await waitFor("the check's connection", () => sockets.length > 0, 60_000);
      run.child.kill("SIGTERM");
      const result = await run.done;
      assert.equal(result.signal, null, "it exited by itself, not by the default action");
      assert.equal(result.code, 143, result.stderr);
      assert.deepEqual(result.stderr.trimEnd().split("\n"), [
        "tokbench: stopped by SIGTERM before the run started: nothing was measured [RUN_INTERRUPTED]",
      ]);
      assert.equal(result.stdout, "");
      assert.equal(storedRuns(db), 0);
    } finally {
      run.child.kill("SIGKILL");
      await run.done;
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("SIGTERM while the default model is created: no partial model left, exit 143, nothing stored", async () => {
    const cache = join(dir, "cache");
    const models = join(cache, "tokbench", "models");
    const db = join(dir, "default.sqlite");
    // UV_THREADPOOL_SIZE set: no relaunch, so the signal goes to the process that synthesizes.
    const run = startCli(["bench", "--no-progress", "--db", db], {
      env: { UV_THREADPOOL_SIZE: "4", XDG_CACHE_HOME: cache },
    });
    const partialBytes = (): number => {
      try {
        return readdirSync(models)
          .filter((name) => name.includes(".tmp-"))
          .reduce((sum, name) => sum + statSync(join(models, name)).size, 0);
      } catch {
        return 0;
      }
    };
    try {
      await waitFor("8 MiB of the default model", () => partialBytes() >= 8 * 2 ** 20, 120_000);
      const t = performance.now();
      run.child.kill("SIGTERM");
      const result = await run.done;
      assert.ok(performance.now() - t < 5000, `it took ${performance.now() - t} ms to stop`);
      assert.equal(result.signal, null, "it exited by itself, not by the default action");
      assert.equal(result.code, 143, result.stderr);
      assert.deepEqual(result.stderr.trimEnd().split("\n"), [
        "tokbench: stopped by SIGTERM before the run started: nothing was measured [RUN_INTERRUPTED]",
      ]);
      assert.deepEqual(readdirSync(models), [], "no partial or half-written model in the cache");
      assert.equal(storedRuns(db), 0);
    } finally {
      run.child.kill("SIGKILL");
      await run.done;
    }
  });
});

describe("relaunched (tuned engine build): signals reach the child once", () => {
  const parentScript = fileURLToPath(new URL("./fixtures/relaunchParent.js", import.meta.url));

  function start(): { child: ChildProcess; out: () => string; done: Promise<number | null> } {
    const child = spawn(process.execPath, [parentScript, "run"], {
      stdio: ["ignore", "pipe", "inherit"],
      detached: true,
    });
    let out = "";
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
    });
    const done = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    return { child, out: () => out, done };
  }

  it("Ctrl-C from the terminal (the whole process group) is one stop, not a quit", async () => {
    const { child, out, done } = start();
    await waitFor("ready", () => out().includes("ready"));
    // What a terminal does on Ctrl-C: SIGINT to every process of the foreground group.
    process.kill(-(child.pid as number), "SIGINT");
    assert.equal(await done, 130);
    assert.match(out(), /clean SIGINT/);
    assert.doesNotMatch(out(), /quit/);
  });

  it("SIGHUP to the parent reaches the child; a second SIGTERM quits it at once", async () => {
    const hup = start();
    await waitFor("ready", () => hup.out().includes("ready"));
    hup.child.kill("SIGHUP");
    assert.equal(await hup.done, 129);
    assert.match(hup.out(), /clean SIGHUP/);

    const term = start();
    await waitFor("ready", () => term.out().includes("ready"));
    term.child.kill("SIGTERM");
    await waitFor("the clean stop", () => term.out().includes("clean SIGTERM"));
    await sleep(300);
    term.child.kill("SIGTERM");
    assert.equal(await term.done, 143);
    assert.match(term.out(), /quit SIGTERM/);
  });
});
