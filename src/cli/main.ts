#!/usr/bin/env node
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { redactText } from "../secrets/redact.js";
import { sanitizeText } from "../text/sanitizeText.js";
import { TOKBENCH_VERSION } from "../toolVersion.js";
import { acceptCommand } from "./commands/AcceptCommand.js";
import { benchCommand } from "./commands/BenchCommand.js";
import { compareCommand } from "./commands/CompareCommand.js";
import { exportCommand } from "./commands/ExportCommand.js";
import { inspectCommand } from "./commands/InspectCommand.js";
import { mockCommand } from "./commands/MockCommand.js";
import { regressCommand } from "./commands/RegressCommand.js";
import { reportCommand } from "./commands/ReportCommand.js";
import { rooflineCommand } from "./commands/RooflineCommand.js";
import { runsCommand } from "./commands/RunsCommand.js";
import { showCommand } from "./commands/ShowCommand.js";
import { synthCommand } from "./commands/SynthCommand.js";
import { PARSER_CONFIGURATION } from "./parseNumberFlag.js";
import { reportFatalError } from "./reportFatalError.js";

const cli = yargs(hideBin(process.argv))
  .scriptName("tokbench")
  .usage("$0 <command> [options]\n\nMeasure how fast a large language model really runs.")
  .command(benchCommand)
  .command(inspectCommand)
  .command(synthCommand)
  .command(rooflineCommand)
  .command(mockCommand)
  .command(runsCommand)
  .command(showCommand)
  .command(acceptCommand)
  .command(compareCommand)
  .command(regressCommand)
  .command(reportCommand)
  .command(exportCommand)
  .version(TOKBENCH_VERSION)
  .strict()
  // Numbers stay as typed until a command reads them (checkNumberFlag), so a bad one is quoted as typed.
  .parserConfiguration(PARSER_CONFIGURATION)
  .demandCommand(1, "Name a command: see `tokbench --help`.")
  .recommendCommands()
  .wrap(Math.min(110, process.stderr.columns ?? 110))
  .fail((message, error) => {
    // yargs calls this for its own validation failures (message, or a YError) and for errors
    // thrown by handlers.
    if (error !== undefined && error !== null && (error as Error).name !== "YError") reportFatalError(error);
    message ??= (error as Error | null)?.message ?? "invalid command line";
    process.stderr.write(
      `tokbench: ${sanitizeText(redactText(message ?? ""), { multiline: true })}\n(run \`tokbench --help\` for usage)\n`,
    );
    process.exit(2);
  });
try {
  await cli.parseAsync();
} catch (error) {
  reportFatalError(error);
}
