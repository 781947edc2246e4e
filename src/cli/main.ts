#!/usr/bin/env node
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { TokbenchError } from "../errors/TokbenchError.js";
import { redactText } from "../secrets/redact.js";
import { sanitizeText } from "../text/sanitizeText.js";
import { TOKBENCH_VERSION } from "../toolVersion.js";
import { COMMANDS, type CommandEntry } from "./commandTable.js";
import { PARSER_CONFIGURATION } from "./parseNumberFlag.js";
import { type DeclaredFlags, refuseRepeatedFlags, refuseUnreadableNumbers } from "./refuseRepeatedFlags.js";
import { reportFatalError } from "./reportFatalError.js";

const argv = hideBin(process.argv);
const commandName = (entry: CommandEntry): string => entry.command.split(" ")[0] as string;
// The command named on the line (the first word that names one): only its module is loaded.
const named = argv.find((arg) => COMMANDS.some((entry) => commandName(entry) === arg));
const cli = yargs(argv)
  .scriptName("tokbench")
  .usage("$0 <command> [options]\n\nMeasure how fast a large language model really runs.")
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
// yargs gathers a flag given twice into an array; every flag that is not a list takes one value,
// so a second one is refused here once for all (`--db a --db b` crashed, `--model a --model b`
// sent the model "a,b"). getOptions() is yargs 17's own record of the command's flags, not in its typings.
const declared = cli as unknown as { getOptions(): DeclaredFlags };
cli.middleware((args) => {
  const options = declared.getOptions();
  refuseRepeatedFlags(args, options);
  refuseUnreadableNumbers(args, options, argv);
}, true);
// The others are only their usage line in --help. Their handler runs only when an option's value
// before the command was a command name (`--tag runs bench`): yargs then took the other one.
const notLoaded = (): never => {
  throw new TokbenchError(
    "INVALID_ARGUMENT",
    "could not tell which command to run: write the command first (tokbench <command> [options])",
  );
};
for (const entry of COMMANDS) {
  const module = commandName(entry) === named ? await entry.load() : { handler: notLoaded };
  cli.command({ ...module, command: entry.command, describe: entry.describe });
}
try {
  await cli.parseAsync();
} catch (error) {
  reportFatalError(error);
}
