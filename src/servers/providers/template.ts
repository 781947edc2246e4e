import { TokbenchError } from "../../errors/TokbenchError.js";
import { type CommandWords, fillCommand, placeholders, splitCommand } from "../commandTemplate.js";
import type { ServerCommand, ServerCommandInput, ServerProvider } from "../ServerProvider.js";

/** Options of {@link templateProvider}. */
export interface TemplateOptions {
  /** Path that answers 200 once the server is ready. Defaults to `/health`. */
  ready_path?: string;
  /** The API the server speaks. Defaults to `openai`. */
  api?: "openai" | "ollama";
}

/** Placeholders tokbench fills itself. */
const BUILT_IN = ["port", "host", "model"];

/**
 * Any server, from a command template such as
 * `llama-server -m m.gguf --port {port} -c {ctx} -np {parallel}`: tokbench picks a free `{port}`
 * for each launch, fills `{host}` and `{model}`, and every knob fills the placeholder of its name
 * (`--knob ctx=2048,8192` fills `{ctx}`; `--ctx-size` does too). A knob without a placeholder, or a
 * placeholder without a knob, is an error. The command runs without a shell (see `splitCommand`).
 */
export function templateProvider(
  template: string,
  options: TemplateOptions = {},
): ServerProvider & {
  /** The knob placeholders of the template (every placeholder except port, host, model). */
  readonly knob_placeholders: readonly string[];
  /** Whether the template has a `{model}` placeholder. */
  readonly uses_model: boolean;
  /** Checks that the knobs and the placeholders match one to one. */
  checkKnobs(names: readonly string[], hasModel: boolean): void;
} {
  const words: CommandWords = splitCommand(template);
  const names = placeholders(template);
  if (!names.includes("port")) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      "--server-cmd must contain {port}: tokbench picks a free port for each launch",
      { context: { template } },
    );
  }
  const knobPlaceholders = names.filter((n) => !BUILT_IN.includes(n));
  return {
    name: "template",
    launches_process: true,
    knob_names: Object.fromEntries(knobPlaceholders.map((n) => [n, `{${n}}`])),
    other_knobs: "none: every knob fills the placeholder of its name",
    knob_placeholders: knobPlaceholders,
    uses_model: names.includes("model"),
    checkKnobs(knobs: readonly string[], hasModel: boolean): void {
      for (const knob of knobs) {
        if (!knobPlaceholders.includes(knob)) {
          throw new TokbenchError(
            "INVALID_ARGUMENT",
            `knob "${knob}" has no {${knob}} placeholder in --server-cmd, so it would change nothing`,
            { context: { knob } },
          );
        }
      }
      for (const name of knobPlaceholders) {
        if (!knobs.includes(name)) {
          throw new TokbenchError(
            "INVALID_ARGUMENT",
            `--server-cmd placeholder {${name}} has no value: give it with --knob ${name}=...`,
            { context: { placeholder: name } },
          );
        }
      }
      if (names.includes("model") && !hasModel) {
        throw new TokbenchError(
          "INVALID_ARGUMENT",
          "--server-cmd has {model}: give the file(s) with --model-file",
        );
      }
      if (!names.includes("model") && hasModel) {
        throw new TokbenchError(
          "INVALID_ARGUMENT",
          "--model-file is given but --server-cmd has no {model} placeholder, so it would change nothing",
        );
      }
    },
    command(input: ServerCommandInput): ServerCommand {
      const values: Record<string, string> = { port: String(input.port), host: input.host };
      if (input.model !== null) values.model = input.model;
      for (const [name, value] of Object.entries(input.knobs)) values[name] = String(value);
      const filled = fillCommand(words, values);
      return {
        argv: filled.words,
        env: filled.env,
        ready_path: options.ready_path ?? "/health",
        api: options.api ?? "openai",
        request_options: {},
      };
    },
  };
}
