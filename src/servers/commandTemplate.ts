import { TokbenchError } from "../errors/TokbenchError.js";

/** A command line split into words, with the leading `NAME=value` assignments taken out as environment. */
export interface CommandWords {
  env: Record<string, string>;
  words: string[];
}

function invalid(message: string, template: string): TokbenchError {
  return new TokbenchError("INVALID_ARGUMENT", `--server-cmd: ${message}`, { context: { template } });
}

/**
 * Splits a command line as a POSIX shell would split simple words: whitespace separates words,
 * single quotes keep everything literally, double quotes keep whitespace (a backslash escapes `"`,
 * `\` and `$` inside them), a backslash outside quotes escapes the next character. Leading
 * `NAME=value` words become environment variables, as in `CUDA_VISIBLE_DEVICES=0 llama-server ...`.
 * Pipes, redirections, `$VAR` and globs are not interpreted: tokbench runs the program itself, so
 * nothing a placeholder is filled with can be read as shell syntax.
 */
export function splitCommand(template: string): CommandWords {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < template.length; i++) {
    const c = template[i] as string;
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === "\\" && i + 1 < template.length && '"\\$'.includes(template[i + 1] as string))
        word += template[++i];
      else word += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\") {
      if (i + 1 < template.length) word += template[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      if ("|&;<>`".includes(c)) {
        throw invalid(`"${c}" is shell syntax; the command is run directly, without a shell`, template);
      }
      word += c;
      inWord = true;
    }
  }
  if (quote !== null) throw invalid(`unterminated ${quote} quote`, template);
  if (inWord) words.push(word);
  const env: Record<string, string> = {};
  while (words.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0] as string)) {
    const assignment = words.shift() as string;
    const eq = assignment.indexOf("=");
    env[assignment.slice(0, eq)] = assignment.slice(eq + 1);
  }
  if (words.length === 0) throw invalid("no program to run", template);
  return { env, words };
}

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_-]*)\}/g;

/** The placeholder names of a template, in order of first appearance. */
export function placeholders(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1] as string))];
}

/**
 * Fills `{name}` placeholders in every word and environment value. A placeholder without a value
 * is an error (a misspelt knob would otherwise reach the server as `{ctxx}`).
 */
export function fillCommand(command: CommandWords, values: Readonly<Record<string, string>>): CommandWords {
  const fill = (text: string): string =>
    text.replace(PLACEHOLDER, (whole, name: string) => {
      const value = values[name];
      if (value === undefined) {
        throw new TokbenchError(
          "INVALID_ARGUMENT",
          `--server-cmd: placeholder ${whole} has no value (give it with --knob ${name}=...)`,
          { context: { placeholder: name } },
        );
      }
      return value;
    });
  return {
    env: Object.fromEntries(Object.entries(command.env).map(([k, v]) => [k, fill(v)])),
    words: command.words.map(fill),
  };
}
