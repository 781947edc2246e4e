/**
 * Loaded with `node --import` before the CLI by bench/history.ts: every command module, as the CLI
 * loaded them before it loaded only the one it runs. The reference `runs` is timed against.
 */
import { COMMANDS } from "../src/cli/commandTable.js";

await Promise.all(COMMANDS.map((entry) => entry.load()));
