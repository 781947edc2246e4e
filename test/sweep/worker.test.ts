import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { MachineInfo } from "../../src/results/MachineInfo.js";
import type { LaunchFailure } from "../../src/servers/LaunchFailure.js";
import type { ConfigurationLauncher, RunningConfiguration } from "../../src/sweep/ConfigurationLauncher.js";
import { keepAliveLauncher } from "../../src/sweep/worker/keepAliveLauncher.js";
import { machineClass } from "../../src/sweep/worker/machineClass.js";

/** A launcher that records what it does; its servers die when told to. */
function recordingLauncher() {
  const log: string[] = [];
  const servers: { knobs: string; dead: LaunchFailure | null }[] = [];
  const launcher: ConfigurationLauncher = {
    async launch(knobs) {
      const entry = { knobs: JSON.stringify(knobs), dead: null as LaunchFailure | null };
      servers.push(entry);
      log.push(`launch ${entry.knobs}`);
      const server: RunningConfiguration = {
        target: {} as RunningConfiguration["target"],
        log_path: null,
        url: null,
        argv: null,
        died: () => entry.dead,
        death: new Promise(() => {}),
        async stop() {
          log.push(`stop ${entry.knobs}`);
        },
      };
      return server;
    },
    async close() {
      log.push("close");
    },
  };
  return { launcher, log, servers };
}

const signal = new AbortController().signal;

describe("keepAliveLauncher", () => {
  it("keeps a configuration's server across cells, and relaunches for another configuration or a death", async () => {
    const { launcher, log, servers } = recordingLauncher();
    const kept = keepAliveLauncher(launcher);
    const first = await kept.launch({ ctx: 2048, parallel: 1 }, signal);
    await first.stop();
    await kept.close();
    // The same knobs in another order: the same configuration, served by the same server.
    const again = await kept.launch({ parallel: 1, ctx: 2048 }, signal);
    await again.stop();
    assert.deepEqual(log, ['launch {"ctx":2048,"parallel":1}']);
    assert.equal(kept.launches, 1);
    const second = await kept.launch({ ctx: 4096, parallel: 1 }, signal);
    assert.deepEqual(log.slice(1), ['stop {"ctx":2048,"parallel":1}', 'launch {"ctx":4096,"parallel":1}']);
    // A server that died is really stopped by runSweep's stop, and the next cell gets a new one.
    (servers[1] as { dead: LaunchFailure | null }).dead = { class: "crash" } as LaunchFailure;
    await second.stop();
    assert.equal(log.at(-1), 'stop {"ctx":4096,"parallel":1}');
    await kept.launch({ ctx: 4096, parallel: 1 }, signal);
    assert.equal(kept.launches, 3);
    // One that died unseen is not handed out either.
    (servers[2] as { dead: LaunchFailure | null }).dead = { class: "oom" } as LaunchFailure;
    await kept.launch({ ctx: 4096, parallel: 1 }, signal);
    assert.equal(kept.launches, 4);
    await kept.shutdown();
    assert.deepEqual(log.slice(-2), ['stop {"ctx":4096,"parallel":1}', "close"]);
  });
});

describe("machineClass", () => {
  const machine: MachineInfo = {
    hostname: "node-1",
    os: "linux",
    os_release: "6.1.0-18-amd64",
    arch: "x64",
    cpu_model: "AMD EPYC 7763",
    cpu_cores: 64,
    total_memory_bytes: 503 * 1024 ** 3 + 12_345_678,
    node_version: "v20.19.0",
    gpus: [{ name: "NVIDIA H100 80GB HBM3", memory_total_bytes: 81_559 * 1024 ** 2, driver: "550.54" }],
    engine: null,
    llama_cpp_version: null,
  };

  it("is the same for identical nodes that differ in host, kernel, Node.js, driver and a few MiB", () => {
    const twin: MachineInfo = {
      ...machine,
      hostname: "node-2",
      os_release: "6.1.0-21-amd64",
      node_version: "v22.3.0",
      total_memory_bytes: machine.total_memory_bytes - 40 * 1024 ** 2,
      gpus: [{ name: "NVIDIA H100 80GB HBM3", memory_total_bytes: 81_559 * 1024 ** 2, driver: "555.1" }],
    };
    assert.match(machineClass(machine), /^mc-[0-9a-f]{16}$/);
    assert.equal(machineClass(twin), machineClass(machine));
  });

  it("differs when the hardware that decides the figures differs", () => {
    const base = machineClass(machine);
    for (const other of [
      { ...machine, cpu_cores: 32 },
      { ...machine, cpu_model: "AMD EPYC 9654" },
      { ...machine, total_memory_bytes: 251 * 1024 ** 3 },
      { ...machine, gpus: [] },
      { ...machine, gpus: [...machine.gpus, ...machine.gpus] },
      { ...machine, arch: "arm64" },
    ]) {
      assert.notEqual(machineClass(other), base, JSON.stringify(other));
    }
  });
});
