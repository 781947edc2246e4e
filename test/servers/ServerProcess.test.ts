import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { findFreePort, isPortFree } from "../../src/servers/ports.js";
import { ServerLaunchError, ServerProcess } from "../../src/servers/ServerProcess.js";

const FAKE = fileURLToPath(new URL("./fixtures/fakeServer.js", import.meta.url));
const DRIVER = fileURLToPath(new URL("./fixtures/launchThenDie.js", import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) return true;
    await sleep(25);
  }
  return !alive(pid);
}

describe("ServerProcess", () => {
  let dir: string;
  let n = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-servers-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function launch(mode: string, extra: { delay?: number; timeoutMs?: number; graceMs?: number } = {}) {
    const port = await findFreePort("127.0.0.1");
    const pidFile = join(dir, `pid${++n}`);
    const start = ServerProcess.start({
      argv: [process.execPath, FAKE, "--port", String(port), "--mode", mode, "--pid-file", pidFile].concat(
        extra.delay === undefined ? [] : ["--delay-ms", String(extra.delay)],
      ),
      host: "127.0.0.1",
      port,
      ready_path: "/health",
      log_path: join(dir, `log${n}.txt`),
      ready_timeout_ms: extra.timeoutMs ?? 20_000,
      stop_grace_ms: extra.graceMs ?? 2000,
    });
    return { port, pidFile, start };
  }

  it("waits until /health answers 200, then stops the whole process group and frees the port", async () => {
    const { port, pidFile, start } = await launch("ready", { delay: 300 });
    const t0 = performance.now();
    const server = await start;
    assert.ok(performance.now() - t0 >= 250, "ready only once /health said 200, not while it said 503");
    const helper = Number(await readFile(`${pidFile}.helper`, "utf8"));
    assert.ok(alive(server.pid) && alive(helper));
    assert.equal(await isPortFree("127.0.0.1", port), false);
    const exit = await server.stop();
    assert.equal(exit.stopped_by_tokbench, true);
    assert.equal(alive(server.pid), false);
    assert.ok(await waitGone(helper, 3000), "the helper process in the group was stopped too");
    assert.equal(await isPortFree("127.0.0.1", port), true, "stop() returns once the port is free");
    assert.match(await readFile(server.launch.log_path, "utf8"), /received SIGTERM/);
  });

  it("notices a server that exits while starting, without waiting for the timeout, and classifies OOM", async () => {
    const { start } = await launch("oom", { delay: 100, timeoutMs: 60_000 });
    const t0 = performance.now();
    await assert.rejects(start, (e: unknown) => {
      assert.ok(e instanceof ServerLaunchError);
      assert.equal(e.code, "SERVER_LAUNCH_FAILED");
      assert.equal(e.failure.class, "oom");
      assert.match(e.failure.message, /insufficient memory|failed to allocate/);
      assert.deepEqual(e.failure.exit, { code: 1, signal: null, stopped_by_tokbench: false });
      assert.ok(e.failure.log_tail.some((l) => l.includes("exiting due to model loading error")));
      return true;
    });
    assert.ok(performance.now() - t0 < 10_000);
  });

  it("classifies a rejected flag as bad_args and a missing program as bad_args", async () => {
    const { start } = await launch("bad-args");
    await assert.rejects(
      start,
      (e: unknown) => e instanceof ServerLaunchError && e.failure.class === "bad_args",
    );
    await assert.rejects(
      ServerProcess.start({
        argv: [join(dir, "no-such-server")],
        host: "127.0.0.1",
        port: await findFreePort("127.0.0.1"),
        ready_path: "/health",
        log_path: join(dir, "missing.txt"),
      }),
      (e: unknown) =>
        e instanceof ServerLaunchError &&
        e.failure.class === "bad_args" &&
        /cannot run/.test(e.failure.message),
    );
  });

  it("refuses a port that is taken (port_in_use) without starting anything", async () => {
    const port = await findFreePort("127.0.0.1");
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(port, "127.0.0.1", resolve));
    try {
      await assert.rejects(
        ServerProcess.start({
          argv: [process.execPath, FAKE, "--port", String(port)],
          host: "127.0.0.1",
          port,
          ready_path: "/health",
          log_path: join(dir, "busy.txt"),
        }),
        (e: unknown) => e instanceof ServerLaunchError && e.failure.class === "port_in_use",
      );
    } finally {
      holder.close();
    }
  });

  it("gives up after the ready timeout and stops the server (ready_timeout)", async () => {
    const { pidFile, start } = await launch("never-ready", { timeoutMs: 600 });
    await assert.rejects(
      start,
      (e: unknown) => e instanceof ServerLaunchError && e.failure.class === "ready_timeout",
    );
    const pid = Number(await readFile(pidFile, "utf8"));
    assert.equal(alive(pid), false, "the server that never became ready was stopped");
  });

  it("sends SIGKILL after the grace period to a server that ignores SIGTERM", async () => {
    const { start } = await launch("ignore-term", { graceMs: 400 });
    const server = await start;
    const t0 = performance.now();
    const exit = await server.stop();
    assert.equal(exit.signal, "SIGKILL");
    assert.ok(performance.now() - t0 >= 350);
  });

  it("classifies a server that dies while serving from its log, and runs one server at a time", async () => {
    const { start } = await launch("die-after-ready", { delay: 50 });
    const server = await start;
    const second = await launch("ready");
    await assert.rejects(second.start, /one server at a time/);
    const exit = await server.whenExited();
    assert.equal(exit.code, 134);
    const failure = server.failure();
    assert.equal(failure.class, "oom");
    await server.stop();
    const third = await launch("ready");
    await (await third.start).stop();
  });

  it("classifies a server killed by a signal it did not get from tokbench as a crash, with its last log line", async () => {
    const { start } = await launch("segfault-after-ready", { delay: 50 });
    const server = await start;
    const exit = await server.whenExited();
    assert.equal(exit.signal, "SIGSEGV");
    const failure = server.failure();
    assert.equal(failure.class, "crash");
    assert.match(failure.message, /killed by SIGSEGV; last log line: slot update: id 0 \| processing/);
    await server.stop();
  });
});

describe("no server outlives the process that launched it", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-orphans-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const how of ["hang", "throw", "exit"] as const) {
    it(`${how === "hang" ? "SIGKILL" : how === "throw" ? "an uncaught exception" : "process.exit"} of the launcher`, async () => {
      const log = join(dir, `${how}.log`);
      const driver = spawn(process.execPath, [DRIVER, how, log], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      driver.stdout.on("data", (b: Buffer) => {
        out += b.toString();
      });
      const exited = new Promise<void>((resolve) => driver.on("exit", () => resolve()));
      const deadline = Date.now() + 20_000;
      while (!/ready \d+/.test(out) && Date.now() < deadline) await sleep(20);
      const pid = Number(/ready (\d+)/.exec(out)?.[1]);
      assert.ok(pid > 0, `the driver did not start a server: ${out}`);
      const helper = Number(await readFile(`${log}.pid.helper`, "utf8"));
      assert.ok(alive(pid));
      if (how === "hang") driver.kill("SIGKILL");
      await exited;
      assert.ok(await waitGone(pid, 8000), `server ${pid} survived the launcher`);
      assert.ok(await waitGone(helper, 8000), `helper ${helper} of the server survived the launcher`);
    });
  }
});
