import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { lastErrorLine, parseBuildStep, runLogged } from "../../src/engine/native/buildTunedEngine.js";
import { TokbenchError } from "../../src/errors/TokbenchError.js";
import { alive, runCli, waitFor } from "./runCli.js";

describe("tokbench engine", () => {
  it("says which llama.cpp build is in use and why", async () => {
    const run = await runCli(["engine", "--json"]);
    assert.equal(run.code, 0, run.stderr);
    const setup = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.ok(setup.build === "native" || setup.build === "prebuilt");
    assert.equal(typeof setup.reason, "string");
    assert.ok(Number(setup.default_threads) >= 1);
    assert.ok(Array.isArray(setup.build_tools));
    if (setup.build === "prebuilt" && setup.backend === "cpu") {
      assert.match(String(setup.reason), /tokbench engine build/);
      assert.equal(typeof setup.limitation, "string");
    }
    const text = await runCli(["engine"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^engine in use {2}/m);
    assert.match(text.stdout, /^why {2,}/m);
    // llama.cpp's long feature line and the tools' versions wrap under their label.
    for (const line of text.stdout.split("\n")) assert.ok(line.length <= 100, `${line.length}: ${line}`);
  });

  it("engine build names the missing tools in one line instead of starting a build it cannot finish", async () => {
    const status = JSON.parse((await runCli(["engine", "--json"])).stdout) as { build: string };
    // PATH without cmake, a compiler, make or git (node itself is started by absolute path).
    const run = await runCli(["engine", "build"], { env: { PATH: "/nonexistent" } });
    if (status.build === "native") {
      // A machine that already has the tuned build keeps it and says so.
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /already built/);
      return;
    }
    assert.equal(run.code, 1, run.stderr);
    const lines = run.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, run.stderr);
    assert.match(
      lines[0] ?? "",
      /^tokbench: building the tuned engine needs cmake, C\+\+ compiler, make or ninja, git .*\[ENGINE_BUILD_FAILED\]$/,
    );
  });

  it("reads progress from ninja and make output, and the telling line of a failed build", () => {
    assert.deepEqual(parseBuildStep("[12/150] Building CXX object ggml/src/ggml.c.o"), {
      done: 12,
      total: 150,
    });
    assert.deepEqual(parseBuildStep("[ 45%] Building C object x.o"), { done: 45, total: 100 });
    assert.equal(parseBuildStep("-- Configuring done"), null);
    assert.equal(
      lastErrorLine(
        "[3/9] cc x.c\nx.c:1:1: error: unknown type name 'foo'\nninja: build stopped: subcommand failed.\n",
      ),
      "x.c:1:1: error: unknown type name 'foo'",
    );
    assert.equal(lastErrorLine("just one line\n"), "just one line");
  });

  it("a stopped build ends the compile's whole process group, not only its first process", async () => {
    // A stand-in for cmake driving compilers: a shell whose child outlives it unless its group ends.
    const controller = new AbortController();
    let grandchild = 0;
    const reason = new TokbenchError("RUN_INTERRUPTED", "stopped by SIGTERM while building");
    const run = runLogged(
      "sh",
      ["-c", "sleep 60 & echo $!; wait"],
      new PassThrough(),
      (line) => {
        grandchild = Number(line);
        controller.abort(reason);
      },
      {},
      controller.signal,
    );
    await assert.rejects(run, (e: unknown) => e === reason);
    assert.ok(grandchild > 0);
    // The compile's children are stopped too.
    await waitFor("the grandchild to end", () => !alive(grandchild), 5000);
  });
});
