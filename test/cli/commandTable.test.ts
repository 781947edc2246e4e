import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { COMMANDS } from "../../src/cli/commandTable.js";
import { runCli } from "./runCli.js";

describe("the CLI loads only the command it runs", () => {
  it("every command of the table loads to a module with its options and handler", async () => {
    const names = COMMANDS.map((entry) => entry.command.split(" ")[0]);
    assert.equal(new Set(names).size, names.length, "command names are unique");
    for (const entry of COMMANDS) {
      const module = await entry.load();
      assert.equal(typeof module.handler, "function", entry.command);
      assert.ok(module.builder !== undefined, `${entry.command} has options`);
    }
  });

  it("--help lists every command; a command's help shows its own options; the command need not come first", async () => {
    const help = await runCli(["--help"]);
    assert.equal(help.code, 0, help.stderr);
    for (const entry of COMMANDS) assert.ok(help.stdout.includes(`tokbench ${entry.command}`), entry.command);
    const runsHelp = await runCli(["runs", "--help"]);
    assert.match(runsHelp.stdout, /--since/);
    const late = await runCli(["--limit", "1", "runs", "--db", ":memory:", "--json"]);
    assert.equal(late.code, 0, late.stderr);
    assert.deepEqual(JSON.parse(late.stdout).runs, []);
  });

  it("an option value that is a command name before the real command is refused, never a silent no-op", async () => {
    const run = await runCli(["--tag", "runs", "bench"]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /Unknown argument|could not tell which command/);
  });
});
