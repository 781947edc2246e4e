import {
  longFlag,
  type ProviderName,
  type ServerCommand,
  type ServerCommandInput,
  type ServerProvider,
  STANDARD_KNOBS,
  unsupportedKnob,
} from "../ServerProvider.js";

/** What sets one Python OpenAI-compatible server (vLLM, SGLang, mlx-lm) apart from another. */
export interface FlagMappedServer {
  name: ProviderName;
  /**
   * The server's flag for each standard knob it has; a standard knob missing here has no
   * equivalent and is refused, never passed through.
   */
  flags: Readonly<Record<string, string>>;
  /** How knobs that are not standard are passed, for help and docs. */
  other_knobs: string;
  /** The command line before `--host`: the program (the user's `program`, else the default) and the model. */
  head(program: readonly string[] | null, model: string | null): string[];
}

/**
 * A server whose knobs are all command-line flags: each standard knob becomes its mapped flag, a
 * standard knob without one is refused (INVALID_ARGUMENT), any other knob passes through as a long
 * flag (`--name value`). Ready when `GET /health` answers 200; OpenAI-compatible API.
 */
export function flagMappedProvider(server: FlagMappedServer): ServerProvider {
  const { name, flags } = server;
  return {
    name,
    launches_process: true,
    knob_names: flags,
    other_knobs: server.other_knobs,
    command(input: ServerCommandInput): ServerCommand {
      const argv = [
        ...server.head(input.program, input.model),
        "--host",
        input.host,
        "--port",
        String(input.port),
      ];
      for (const [knob, value] of Object.entries(input.knobs)) {
        // Own keys only: a pass-through knob may be named like an Object.prototype member.
        const flag = Object.hasOwn(flags, knob) ? flags[knob] : undefined;
        if (flag !== undefined) argv.push(flag, String(value));
        else if (Object.hasOwn(STANDARD_KNOBS, knob)) throw unsupportedKnob(name, knob);
        else argv.push(...longFlag(knob, value));
      }
      return { argv, env: {}, ready_path: "/health", api: "openai", request_options: {} };
    },
  };
}
