import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os, { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  collectMachineInfo,
  parseNvidiaSmiGpus,
  parseSystemProfilerGpus,
} from "../../src/system/machineInfo.js";

const dir = mkdtempSync(join(tmpdir(), "tokbench-machine-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const MiB = 1024 * 1024;

describe("collectMachineInfo", () => {
  test("describes this machine, with no GPU when nvidia-smi is missing", async () => {
    const info = await collectMachineInfo({
      nvidiaSmi: join(dir, "missing"),
      engine: "node-llama-cpp 3.22.1",
    });
    assert.equal(info.hostname, os.hostname());
    assert.equal(info.arch, process.arch);
    assert.equal(info.node_version, process.version);
    assert.equal(info.os_release, os.release());
    assert.equal(info.cpu_cores, os.cpus().length);
    assert.equal(info.total_memory_bytes, os.totalmem());
    assert.ok(info.cpu_model.length > 0 && info.cpu_model !== "unknown", info.cpu_model);
    assert.deepEqual(info.gpus, []);
    assert.equal(info.engine, "node-llama-cpp 3.22.1");
    assert.equal(info.llama_cpp_version, null);
    if (process.platform === "linux") {
      const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1];
      assert.equal(info.os, pretty);
    }
    assert.doesNotThrow(() => JSON.stringify(info));
  });

  test("reads NVIDIA GPUs from nvidia-smi", { skip: process.platform === "win32" }, async () => {
    const fake = join(dir, "nvidia-smi");
    writeFileSync(
      fake,
      `#!/bin/sh
[ "$1" = "--query-gpu=name,memory.total,driver_version" ] && [ "$2" = "--format=csv,noheader,nounits" ] || exit 9
echo "NVIDIA H100 80GB HBM3, 81559, 550.54.15"
echo "NVIDIA GeForce RTX 4090, 24564, 550.54.15"
`,
    );
    chmodSync(fake, 0o755);
    const info = await collectMachineInfo({ nvidiaSmi: fake });
    assert.deepEqual(info.gpus, [
      { name: "NVIDIA H100 80GB HBM3", memory_total_bytes: 81559 * MiB, driver: "550.54.15" },
      { name: "NVIDIA GeForce RTX 4090", memory_total_bytes: 24564 * MiB, driver: "550.54.15" },
    ]);
  });

  test("a failing or hanging nvidia-smi means no GPUs, not an error", {
    skip: process.platform === "win32",
  }, async () => {
    const failing = join(dir, "nvidia-smi-failing");
    writeFileSync(
      failing,
      "#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.'\nexit 9\n",
    );
    chmodSync(failing, 0o755);
    assert.deepEqual((await collectMachineInfo({ nvidiaSmi: failing })).gpus, []);
    const hanging = join(dir, "nvidia-smi-hanging");
    writeFileSync(hanging, "#!/bin/sh\nexec sleep 5\n");
    chmodSync(hanging, 0o755);
    const started = performance.now();
    assert.deepEqual((await collectMachineInfo({ nvidiaSmi: hanging, toolTimeoutMs: 200 })).gpus, []);
    assert.ok(performance.now() - started < 2000);
  });

  test("parses nvidia-smi and system_profiler output", () => {
    assert.deepEqual(parseNvidiaSmiGpus("Tesla T4, 15360, [N/A]\n\n"), [
      { name: "Tesla T4", memory_total_bytes: 15360 * MiB, driver: null },
    ]);
    const profiler = JSON.stringify({
      SPDisplaysDataType: [
        { _name: "kHW_AppleM2ProItem", sppci_model: "Apple M2 Pro", sppci_cores: "19" },
        { _name: "Radeon", sppci_model: "AMD Radeon Pro 5500M", spdisplays_vram: "8 GB" },
      ],
    });
    assert.deepEqual(parseSystemProfilerGpus(profiler), [
      { name: "Apple M2 Pro (19 cores)", memory_total_bytes: null, driver: null },
      { name: "AMD Radeon Pro 5500M", memory_total_bytes: 8 * 1024 ** 3, driver: null },
    ]);
    assert.deepEqual(parseSystemProfilerGpus("not json"), []);
  });
});
