import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { type ParseArgsConfig, parseArgs } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** What a benchmark script accepts on its command line. */
export interface BenchArgsSpec<O extends Options> {
  /**
   * The script's `import.meta.url`: `--help` prints the comment the file opens with (what it
   * measures, its command line and flags), so the usage is written once, where the code is.
   */
  script: string;
  /** The flags, as `node:util` parseArgs takes them. */
  options: O;
  /** Flags whose value must be a number or a comma-separated list of numbers. Defaults to none. */
  numeric?: (keyof O & string)[];
  /** How many positional arguments the script takes, at most. Defaults to 0. */
  positionals?: number;
}

/** The parsed command line: parseArgs's typed values and the positionals. */
export type BenchArgs<O extends Options> = ReturnType<
  typeof parseArgs<{ options: O; strict: true; allowPositionals: true }>
>;

/**
 * The command line of a benchmark script under bench/, read the way the CLI reads its own:
 * `--help` prints the usage and exits 0; an unknown flag, a missing or non-numeric value or an extra
 * argument is one line on stderr and exit 2, never a stack trace (and never a run on NaN). Only a
 * script's entry point calls it: it exits the process.
 */
export function parseBenchArgs<O extends Options>(
  spec: BenchArgsSpec<O>,
  argv: string[] = process.argv.slice(2),
): BenchArgs<O> {
  const end = argv.indexOf("--");
  const flags = end === -1 ? argv : argv.slice(0, end);
  if (flags.includes("--help") || flags.includes("-h")) {
    process.stdout.write(`${usage(spec.script)}\n`);
    process.exit(0);
  }
  let parsed: BenchArgs<O>;
  try {
    parsed = parseArgs({ args: argv, options: spec.options, strict: true, allowPositionals: true });
  } catch (error) {
    return refuse(error instanceof Error ? error.message : String(error));
  }
  const allowed = spec.positionals ?? 0;
  if (parsed.positionals.length > allowed) {
    const extra = parsed.positionals.slice(allowed).map((p) => JSON.stringify(p));
    refuse(`unexpected argument${extra.length === 1 ? "" : "s"} ${extra.join(" ")}`);
  }
  const values = parsed.values as Record<string, unknown>;
  for (const name of spec.numeric ?? []) {
    const value = values[name];
    if (typeof value === "string" && !isNumberList(value)) {
      refuse(`--${name} takes a number or a comma-separated list of numbers (got ${JSON.stringify(value)})`);
    }
  }
  return parsed;
}

/** One line on stderr, exit 2: the CLI's exit code for a bad flag. */
export function refuse(message: string): never {
  const script = basename(process.argv[1] ?? "bench");
  // Node's parse errors go on with advice about "--" that is no use here.
  const line = (message.split("\n")[0] ?? "").replace(/\. To specify a positional argument.*$/, "");
  process.stderr.write(`${script}: ${line} (--help lists the flags)\n`);
  process.exit(2);
}

function isNumberList(value: string): boolean {
  return value.split(",").every((part) => part.trim() !== "" && Number.isFinite(Number(part)));
}

/** The comment a script's file opens with, without its comment markers. */
export function usage(script: string): string {
  const path = fileURLToPath(script);
  const text = readFileSync(path, "utf8");
  const start = text.indexOf("/*");
  const end = text.indexOf("*/");
  if (start !== 0 || end === -1) return `usage: node ${basename(path)} [flags]`;
  return text
    .slice(text.startsWith("/**") ? 3 : 2, end)
    .split("\n")
    .map((line) => line.replace(/^ ?\* ?/, ""))
    .join("\n")
    .trim();
}
