import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import YAML from "yaml";
import { TokbenchError } from "../errors/TokbenchError.js";
import type { KnobValue } from "../results/TuneResult.js";
import { flashAttnWord, gpuLayerCount, type ServerCommand } from "../servers/ServerProvider.js";

/** llama-server's environment variable of each standard knob (llama.cpp common/arg.cpp, `set_env`). */
export const LLAMA_ARG_ENV: Readonly<Record<string, string>> = {
  model: "LLAMA_ARG_MODEL",
  ctx: "LLAMA_ARG_CTX_SIZE",
  parallel: "LLAMA_ARG_N_PARALLEL",
  threads: "LLAMA_ARG_THREADS",
  batch: "LLAMA_ARG_BATCH",
  ubatch: "LLAMA_ARG_UBATCH",
  cache_type_k: "LLAMA_ARG_CACHE_TYPE_K",
  cache_type_v: "LLAMA_ARG_CACHE_TYPE_V",
  flash_attn: "LLAMA_ARG_FLASH_ATTN",
  gpu_layers: "LLAMA_ARG_N_GPU_LAYERS",
  host: "LLAMA_ARG_HOST",
  port: "LLAMA_ARG_PORT",
};

/** One file `--apply` writes. */
export interface ApplyFile {
  path: string;
  content: string;
  /** File mode (0o755 for a script). */
  mode: number;
}

/** What the recommendation is, for rendering it. */
export interface ApplyInput {
  provider: string;
  /** The recipe hash, named in each file's first line. */
  recipe_hash: string;
  /** Model path or name; null when the space had none. */
  model: string | null;
  knobs: Record<string, KnobValue>;
  /** The model's layer count, for a GPU-layer percentage; null when unknown. */
  model_layers: number | null;
  /** The server command of the recommendation (argv and environment). */
  command: ServerCommand | null;
  host: string;
  port: number;
}

function checkValue(name: string, value: string): string {
  if (/[\r\n\0]/.test(value)) {
    throw new TokbenchError("INVALID_ARGUMENT", `--apply: the value of ${name} contains a line break`);
  }
  return value;
}

/** A word for a POSIX shell: left bare when safe, else single-quoted. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The files `--apply PATH` writes for a provider (PATH itself, and for Ollama also PATH.env). */
export function renderApplyFiles(path: string, input: ApplyInput): ApplyFile[] {
  const head = `# tokbench tune recipe ${input.recipe_hash}`;
  const { provider } = input;
  if (provider === "llama-server" || provider === "embedded") {
    const lines = [
      head,
      provider === "embedded"
        ? "# the embedded engine's knobs, as the variables llama.cpp's llama-server reads (LLAMA_ARG_*)"
        : "# llama-server reads these LLAMA_ARG_* variables (a flag on its command line wins over them)",
    ];
    const env: [string, string][] = [];
    if (input.model !== null) env.push(["LLAMA_ARG_MODEL", input.model]);
    env.push(["LLAMA_ARG_HOST", input.host], ["LLAMA_ARG_PORT", String(input.port)]);
    const extra: string[] = [];
    for (const [name, value] of Object.entries(input.knobs)) {
      const variable = LLAMA_ARG_ENV[name];
      if (variable === undefined) {
        extra.push(`# --${name} ${String(value)}: no LLAMA_ARG_ variable; give it on the command line`);
        continue;
      }
      const text =
        name === "flash_attn"
          ? flashAttnWord(value)
          : name === "gpu_layers"
            ? String(gpuLayerCount(value, input.model_layers))
            : String(value);
      env.push([variable, text]);
    }
    lines.push(...env.map(([k, v]) => `${k}=${checkValue(k, v)}`), ...extra);
    return [{ path, content: `${lines.join("\n")}\n`, mode: 0o644 }];
  }
  if (provider === "ollama") {
    const options = input.command?.request_options ?? {};
    const modelfile = [head, `FROM ${checkValue("model", input.model ?? "MODEL")}`];
    for (const [k, v] of Object.entries(options))
      modelfile.push(`PARAMETER ${k} ${checkValue(k, String(v))}`);
    const env = [head, "# the environment of `ollama serve`"];
    for (const [k, v] of Object.entries(input.command?.env ?? {})) {
      if (k === "OLLAMA_HOST" || k === "OLLAMA_MAX_LOADED_MODELS" || k === "OLLAMA_KEEP_ALIVE") continue;
      env.push(`${k}=${checkValue(k, v)}`);
    }
    return [
      { path, content: `${modelfile.join("\n")}\n`, mode: 0o644 },
      { path: `${path}.env`, content: `${env.join("\n")}\n`, mode: 0o644 },
    ];
  }
  if (provider === "vllm" || provider === "sglang") {
    const argv = input.command?.argv ?? [];
    const config: Record<string, unknown> = {};
    if (input.model !== null) config.model = input.model;
    for (let i = 0; i < argv.length; i++) {
      const word = argv[i] as string;
      if (!word.startsWith("--")) continue;
      const next = argv[i + 1];
      const key = word.slice(2);
      if (next === undefined || next.startsWith("--")) {
        if (key.startsWith("no-")) config[key.slice(3)] = false;
        else config[key] = true;
      } else {
        const n = Number(next);
        config[key] = next.trim() !== "" && Number.isFinite(n) ? n : next;
        i++;
      }
    }
    return [
      {
        path,
        content: `${head}\n# ${provider} serve --config ${basename(path)}\n${YAML.stringify(config)}`,
        mode: 0o644,
      },
    ];
  }
  // A template (or a server without a config file): a shell script that starts it.
  const argv = input.command?.argv ?? [];
  const env = Object.entries(input.command?.env ?? {}).map(
    ([k, v]) => `${k}=${shellQuote(checkValue(k, v))}`,
  );
  const script = [
    "#!/bin/sh",
    head,
    `exec ${[...env, ...argv.map((w) => shellQuote(checkValue("command", w)))].join(" ")}`,
  ];
  return [{ path, content: `${script.join("\n")}\n`, mode: 0o755 }];
}

/**
 * Keeps an existing file as a backup under a name that is free (`PATH.bak`, then `PATH.bak.1`,
 * ...): a hard link (or an exclusive copy) never replaces an existing file, so no earlier backup is
 * ever overwritten. Returns the backup's path, or null when there was no file.
 */
export function backupFile(path: string): string | null {
  if (!existsSync(path)) return null;
  for (let i = 0; i < 10_000; i++) {
    const candidate = i === 0 ? `${path}.bak` : `${path}.bak.${i}`;
    try {
      linkSync(path, candidate);
      return candidate;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST") continue;
      try {
        copyFileSync(path, candidate, constants.COPYFILE_EXCL);
        return candidate;
      } catch (copyError) {
        if ((copyError as NodeJS.ErrnoException).code === "EEXIST") continue;
        throw new TokbenchError(
          "FILE_UNWRITABLE",
          `cannot back up ${path}: ${(copyError as Error).message}`,
          {
            cause: copyError,
            context: { path },
          },
        );
      }
    }
  }
  throw new TokbenchError("FILE_UNWRITABLE", `cannot back up ${path}: no free backup name`);
}

/** Writes a file atomically: a new file beside it (exclusive create, synced), then a rename over it. */
export function writeFileAtomic(path: string, content: string, mode: number): void {
  const target = resolve(path);
  const tmp = join(
    dirname(target),
    `.${basename(target)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`,
  );
  let fd: number | null = null;
  try {
    fd = openSync(tmp, "wx", mode);
    writeSync(fd, content);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    chmodSync(tmp, mode);
    renameSync(tmp, target);
  } catch (cause) {
    if (fd !== null) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // Nothing was created.
    }
    throw new TokbenchError("FILE_UNWRITABLE", `cannot write ${path}: ${(cause as Error).message}`, {
      cause,
      context: { path },
    });
  }
}

/** Writes the files of `--apply`, each existing one kept as a backup first. */
export function applyFiles(files: readonly ApplyFile[]): { written: string[]; backups: string[] } {
  const written: string[] = [];
  const backups: string[] = [];
  for (const file of files) {
    const backup = backupFile(file.path);
    if (backup !== null) backups.push(backup);
    writeFileAtomic(file.path, file.content, file.mode);
    written.push(file.path);
  }
  return { written, backups };
}
