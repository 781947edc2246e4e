import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";
import type { DistributionStats } from "../../src/results/DistributionStats.js";
import { ResourceSampler } from "../../src/system/ResourceSampler.js";

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), "tokbench-sampler-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Keeps one core busy for `ms`, in 10 ms bursts so the sampler's timer still fires in between. */
async function burnCpu(ms: number): Promise<void> {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) {
    const burst = performance.now() + 10;
    while (performance.now() < burst) x += Math.sqrt(x + 1);
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(x > 0);
}

/** A node child that fills `mib` MiB, says "ready", then spins until killed. */
function spawnHog(mib: number): Promise<ChildProcess> {
  const script = `const b = Buffer.alloc(${mib} * 1024 * 1024, 7); process.stdout.write("ready\\n");
    let x = 0; for (;;) { x += Math.sqrt(x + b[x % b.length]); }`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.stdout?.once("data", () => resolve(child));
    child.once("exit", (code) => reject(new Error(`hog exited early with ${code}`)));
  });
}

interface SchedStat {
  at_ms: number;
  /** Time on a CPU, ms, all threads. */
  run_ms: number;
  /** Time runnable but waiting for a CPU, ms, all threads: how starved the process was. */
  wait_ms: number;
}

/** The kernel's own scheduler accounting (ns resolution), an independent check of the sampler's CPU figure. */
function schedstat(pid: number | "self"): SchedStat | null {
  if (process.platform !== "linux") return null;
  let run = 0;
  let wait = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const [taskRun, taskWait] = readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8")
        .trim()
        .split(" ");
      run += Number(taskRun);
      wait += Number(taskWait);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return { at_ms: performance.now(), run_ms: run / 1e6, wait_ms: wait / 1e6 };
}

/**
 * The sampled CPU % agrees with the kernel's run time over the same window, and a busy thread
 * reads above 50 % of a core unless the kernel says it spent a quarter of the window waiting for
 * a CPU (a loaded shared machine), in which case it cannot have run that much.
 */
function assertCpuMatchesKernel(
  t: TestContext,
  cpu: DistributionStats,
  before: SchedStat | null,
  after: SchedStat | null,
): void {
  if (before === null || after === null) {
    assert.ok((cpu.max ?? 0) > 50, `cpu max ${cpu.max}`);
    return;
  }
  const wall = after.at_ms - before.at_ms;
  const truth = ((after.run_ms - before.run_ms) / wall) * 100;
  const starved = ((after.wait_ms - before.wait_ms) / wall) * 100;
  assert.ok(
    Math.abs((cpu.mean ?? 0) - truth) < 15,
    `sampled cpu mean ${cpu.mean} vs kernel run time ${truth} %`,
  );
  if (starved < 25)
    assert.ok((cpu.max ?? 0) > 50, `cpu max ${cpu.max} (waited for a CPU ${starved} % of the time)`);
  else
    t.diagnostic(`machine overloaded: the busy thread waited for a CPU ${starved.toFixed(0)} % of the time`);
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

describe("ResourceSampler", () => {
  test("own process: peak RSS rises by a filled buffer's size; CPU matches the kernel's run time", async (t) => {
    const idleSampler = new ResourceSampler({ intervalMs: 50, gpu: false });
    idleSampler.start();
    await sleep(250);
    const idle = idleSampler.stop();
    assert.ok((idle.cpu_percent.mean ?? 100) < 15, `idle cpu mean ${idle.cpu_percent.mean}`);

    const size = 128 * MiB;
    const peakBefore = process.resourceUsage().maxRSS * 1024;
    const rssBefore = process.memoryUsage.rss();
    const before = schedstat("self");
    const sampler = new ResourceSampler({ intervalMs: 50, gpu: false });
    sampler.start();
    // Filled, not just allocated: untouched zero pages would not be resident.
    const buffer = Buffer.alloc(size, 1);
    await burnCpu(350);
    const usage = sampler.stop();
    const after = schedstat("self");
    assert.equal(buffer[size - 1], 1);

    assert.equal(usage.process, "self");
    assert.equal(usage.sample_interval_ms, 50);
    assert.ok(usage.samples >= 4, `samples: ${usage.samples}`);
    assert.equal(usage.rss_bytes.count, usage.samples);
    assert.ok(
      usage.peak_rss_bytes !== null && usage.peak_rss_bytes >= peakBefore + size * 0.95,
      `peak ${usage.peak_rss_bytes}, before ${peakBefore}`,
    );
    assert.ok(
      (usage.rss_bytes.max ?? 0) >= rssBefore + size * 0.95,
      `rss max ${usage.rss_bytes.max}, before ${rssBefore}`,
    );
    assert.ok((usage.rss_bytes.min ?? 0) < rssBefore + size * 0.5, "the first sample predates the buffer");
    assert.ok((usage.cpu_percent.max ?? 0) < 400, "one busy thread cannot use 4 cores");
    assertCpuMatchesKernel(t, usage.cpu_percent, before, after);
    assert.ok((usage.cpu_percent.mean ?? 0) > (idle.cpu_percent.mean ?? 0) + 5, "busy shows more than idle");
    assert.equal(usage.gpu_memory_bytes, null);
    assert.equal(usage.gpu_memory_scope, null);
    assert.equal(usage.gpu_utilization_percent, null);
    assert.deepEqual(sampler.stop(), usage, "stop is idempotent");
  });

  test("disk write bytes rise by a 20 MB file written and fsynced", {
    skip: process.platform !== "linux",
  }, async () => {
    const sampler = new ResourceSampler({ intervalMs: 50, gpu: false });
    sampler.start();
    const file = join(dir, "twenty-mb.bin");
    const fd = openSync(file, "w");
    writeSync(fd, Buffer.alloc(20_000_000, 3));
    fsyncSync(fd);
    closeSync(fd);
    await sleep(60);
    const usage = sampler.stop();
    assert.ok(
      usage.disk_write_bytes !== null && usage.disk_write_bytes >= 20_000_000,
      `wrote ${usage.disk_write_bytes}`,
    );
    assert.ok(
      usage.disk_write_bytes < 40_000_000,
      `wrote ${usage.disk_write_bytes}: nothing else wrote that much`,
    );
    assert.ok(usage.disk_read_bytes !== null && usage.disk_read_bytes >= 0);
  });

  test("another process by pid: its memory and CPU, not ours", async (t) => {
    const child = await spawnHog(96);
    try {
      const pid = child.pid as number;
      const sampler = new ResourceSampler({ pid, intervalMs: 50, gpu: false });
      const before = schedstat(pid);
      sampler.start();
      await sleep(500);
      const usage = sampler.stop();
      assert.equal(usage.process, String(pid));
      assert.ok(usage.samples >= 5, `samples: ${usage.samples}`);
      assert.ok((usage.rss_bytes.min ?? 0) >= 96 * MiB, `rss min ${usage.rss_bytes.min}`);
      assert.ok((usage.peak_rss_bytes ?? 0) >= 96 * MiB);
      // The child spins for the whole window while this process sleeps.
      assertCpuMatchesKernel(t, usage.cpu_percent, before, schedstat(pid));
    } finally {
      child.kill("SIGKILL");
      await exited(child);
    }
  });

  test("a process that exits mid-run keeps the samples taken while it lived", async () => {
    const child = await spawnHog(16);
    const sampler = new ResourceSampler({ pid: child.pid as number, intervalMs: 30, gpu: false });
    sampler.start();
    await sleep(200);
    child.kill("SIGKILL");
    await exited(child);
    await sleep(100);
    const usage = sampler.stop();
    assert.ok(usage.samples >= 3, `samples: ${usage.samples}`);
    assert.ok((usage.rss_bytes.max ?? 0) >= 16 * MiB);
  });

  test("a pid with no process behind it is a clear INVALID_ARGUMENT error", async () => {
    const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
    await exited(child);
    const pid = child.pid as number;
    assert.throws(
      () => new ResourceSampler({ pid }),
      (error: unknown) =>
        isTokbenchError(error, "INVALID_ARGUMENT") &&
        error.message === `no running process with pid ${pid} to sample`,
    );
    assert.throws(
      () => new ResourceSampler({ pid: -5 }),
      (error: unknown) => isTokbenchError(error, "INVALID_ARGUMENT"),
    );
    assert.throws(
      () => new ResourceSampler({ intervalMs: 0 }),
      (error: unknown) => isTokbenchError(error, "INVALID_ARGUMENT"),
    );
  });

  describe("NVIDIA GPUs, through a scripted nvidia-smi", { skip: process.platform === "win32" }, () => {
    // Two GPUs; the compute-apps loop lists FAKE_PID on GPU-bbb. Refuses to run without a loop
    // interval, so the test also checks the sampler uses nvidia-smi's own loop.
    const fake = join(dir, "nvidia-smi");
    writeFileSync(
      fake,
      `#!/bin/sh
case "$*" in *--loop-ms=*) ;; *) exit 2 ;; esac
case "$*" in
  *--query-gpu=index,uuid,memory.used,utilization.gpu*)
    while :; do echo "0, GPU-aaa, 1000, 40"; echo "1, GPU-bbb, 3000, 80"; sleep 0.02; done ;;
  *--query-compute-apps=gpu_uuid,pid,used_memory*)
    while :; do echo "GPU-aaa, 1, 100"; echo "GPU-bbb, $FAKE_PID, 512"; sleep 0.02; done ;;
esac
exit 3
`,
    );
    chmodSync(fake, 0o755);

    async function sampleWith(fakePid: string): Promise<ReturnType<ResourceSampler["stop"]>> {
      process.env.FAKE_PID = fakePid;
      const sampler = new ResourceSampler({ intervalMs: 50, nvidiaSmi: fake });
      sampler.start();
      await sleep(400);
      return sampler.stop();
    }

    test("the process's own GPU memory, and the utilization of the GPU it uses", async () => {
      const usage = await sampleWith(String(process.pid));
      assert.equal(usage.gpu_memory_scope, "process");
      assert.equal(usage.gpu_memory_bytes?.max, 512 * MiB);
      assert.ok((usage.gpu_memory_bytes?.count ?? 0) >= 3);
      assert.equal(usage.gpu_utilization_percent?.max, 80, "GPU-bbb only");
    });

    test("all GPUs' memory when the process is not listed (as in a container)", async () => {
      const usage = await sampleWith("999999999");
      assert.equal(usage.gpu_memory_scope, "device");
      assert.equal(usage.gpu_memory_bytes?.max, 4000 * MiB);
      assert.equal(usage.gpu_utilization_percent?.max, 60, "mean of 40 and 80");
    });

    test("no nvidia-smi: no GPU figures, no error", async () => {
      const sampler = new ResourceSampler({ intervalMs: 50, nvidiaSmi: join(dir, "missing-nvidia-smi") });
      sampler.start();
      await sleep(120);
      const usage = sampler.stop();
      assert.ok(usage.samples >= 2);
      assert.equal(usage.gpu_memory_bytes, null);
      assert.equal(usage.gpu_memory_scope, null);
      assert.equal(usage.gpu_utilization_percent, null);
    });
  });
});

test("the peak RSS of tokbench's own process counts from the start of sampling, not of the process", async (t: TestContext) => {
  if (process.platform !== "linux") {
    t.skip("the peak is reset through /proc/self/clear_refs, a Linux interface");
    return;
  }
  // Work before the run (what the bandwidth probe and the default model's synthesis do): 300 MiB
  // touched, then released.
  const child = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `import { ResourceSampler } from ${JSON.stringify(new URL("../../src/system/ResourceSampler.js", import.meta.url).href)};
       let big = Buffer.alloc(300 * 2 ** 20, 1); big = null;
       const s = new ResourceSampler({ gpu: false }); s.start();
       await new Promise((r) => setTimeout(r, 300));
       const u = s.stop();
       const hwm = Number(/VmHWM:\\s+(\\d+)/.exec((await import("node:fs")).readFileSync("/proc/self/status", "utf8"))[1]) * 1024;
       process.stdout.write(JSON.stringify({ peak: u.peak_rss_bytes, hwm }));`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  child.stdout?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  await new Promise((resolve) => child.on("close", resolve));
  const { peak, hwm } = JSON.parse(out) as { peak: number; hwm: number };
  // The OS's own high-water mark, within what Linux's per-thread RSS counters may lag it by (they
  // are folded in every 64 page faults, so a sampled VmRSS can briefly exceed VmHWM).
  assert.ok(hwm + 4 * MiB >= peak, `the reset peak (${peak}) is the OS's own high-water mark (${hwm})`);
  assert.ok(
    peak < 250 * MiB,
    `peak ${Math.round(peak / MiB)} MiB still counts the 300 MiB freed before start`,
  );
});
