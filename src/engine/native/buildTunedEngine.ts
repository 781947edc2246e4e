import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { access, constants, mkdir, readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { TokbenchError } from "../../errors/TokbenchError.js";
import { getTunedLlama } from "./getTunedLlama.js";
import { TUNED_CMAKE_OPTIONS } from "./tunedBuildOptions.js";

/** A step of {@link buildTunedEngine}, for a progress display. */
export interface TunedEngineBuildProgress {
  /**
   * `source`: checking out the llama.cpp source bundled in node-llama-cpp; `configure`: cmake
   * configuring; `compile`: compiling (`done` of `total` build steps); `verify`: loading the result.
   */
  phase: "source" | "configure" | "compile" | "verify";
  /** Build steps done (compile only). */
  done?: number;
  /** Build steps in all (compile only). */
  total?: number;
}

/** Options of {@link buildTunedEngine}. */
export interface BuildTunedEngineOptions {
  /** Compile even when a tuned build exists. Defaults to false. */
  force?: boolean;
  /** Where the compiler output goes. Defaults to `<cache dir>/tokbench/engine-build.log`. */
  logFile?: string;
  /** Called at each phase and compile step; the library prints nothing. Defaults to none. */
  onProgress?: (progress: TunedEngineBuildProgress) => void;
  /**
   * Stops the build: the compile's whole process group (cmake, the compilers) is ended and the
   * signal's reason (a `RUN_INTERRUPTED` TokbenchError) thrown; no tuned build is installed, a
   * later build starts again. Defaults to none.
   */
  signal?: AbortSignal;
}

/** What {@link buildTunedEngine} did. */
export interface BuildTunedEngineResult {
  /** False when a tuned build already existed and was kept. */
  built: boolean;
  /** Wall time of the whole command, ms. */
  duration_ms: number;
  /** llama.cpp's system-info line of the tuned build (CPU features, OpenMP). */
  system_info: string;
  /** The cmake options it was built with. */
  cmake_options: Readonly<Record<string, string>>;
  /** The full compiler output. */
  log_file: string;
}

/** Where node-llama-cpp is installed, and its folders tokbench reads or writes. */
export interface NodeLlamaCppPaths {
  /** The package folder. */
  package_dir: string;
  /** Its `llama/` folder: the bundled llama.cpp git release, the source checkout, the local builds. */
  llama_dir: string;
  /** Where local builds (the tuned one among them) are written. */
  local_builds_dir: string;
  /** The bundled llama.cpp source (a git bundle: building needs no network). */
  bundle: string;
}

/** Locates the installed node-llama-cpp, whether tokbench runs from a checkout or an npm install. */
export function nodeLlamaCppPaths(): NodeLlamaCppPaths {
  let entry: string;
  try {
    entry = fileURLToPath(import.meta.resolve("node-llama-cpp"));
  } catch (cause) {
    throw new TokbenchError("ENGINE_UNAVAILABLE", "node-llama-cpp is not installed", { cause });
  }
  // <package>/dist/index.js
  const packageDir = dirname(dirname(entry));
  const llamaDir = join(packageDir, "llama");
  return {
    package_dir: packageDir,
    llama_dir: llamaDir,
    local_builds_dir: join(llamaDir, "localBuilds"),
    bundle: join(llamaDir, "gitRelease.bundle"),
  };
}

/** A tool the build needs, and whether it was found. */
export interface BuildPrerequisite {
  name: string;
  /** First line of its `--version`, or null when missing. */
  version: string | null;
  /** Why it is needed. */
  purpose: string;
}

/** The tools the tuned build needs: cmake, a C++ compiler, make or ninja, and git (for the bundle). */
export function checkBuildPrerequisites(): BuildPrerequisite[] {
  const version = (commands: string[]): string | null => {
    for (const command of commands) {
      const r = spawnSync(command, ["--version"], { encoding: "utf8", timeout: 10_000 });
      if (r.status === 0) return `${command}: ${(r.stdout || r.stderr).split("\n")[0]?.trim() ?? ""}`;
    }
    return null;
  };
  return [
    { name: "cmake", version: version(["cmake"]), purpose: "configures llama.cpp" },
    { name: "C++ compiler", version: version(["c++", "g++", "clang++"]), purpose: "compiles it" },
    { name: "make or ninja", version: version(["ninja", "make"]), purpose: "runs the build" },
    { name: "git", version: version(["git"]), purpose: "checks out the bundled source" },
  ];
}

/**
 * Builds tokbench's tuned llama.cpp for node-llama-cpp ({@link TUNED_CMAKE_OPTIONS}: OpenMP and
 * `-march=native`), offline, from the llama.cpp source node-llama-cpp ships inside its npm package;
 * works for an npm install as for a checkout. Takes 5-20 minutes on 2 cores. A tuned build that
 * already exists is kept unless `force`. Throws ENGINE_BUILD_FAILED with the reason (a missing
 * tool, a read-only package folder, the compiler's last error line and the log's path).
 */
export async function buildTunedEngine(
  options: BuildTunedEngineOptions = {},
): Promise<BuildTunedEngineResult> {
  const started = performance.now();
  const paths = nodeLlamaCppPaths();
  const logFile = options.logFile ?? join(await defaultCacheDir(), "engine-build.log");
  const progress = options.onProgress;
  if (options.force !== true) {
    const existing = await loadTuned();
    if (existing !== null) {
      return {
        built: false,
        duration_ms: performance.now() - started,
        system_info: existing,
        cmake_options: TUNED_CMAKE_OPTIONS,
        log_file: logFile,
      };
    }
  }
  const missing = checkBuildPrerequisites().filter((p) => p.version === null);
  if (missing.length > 0) {
    throw new TokbenchError(
      "ENGINE_BUILD_FAILED",
      `building the tuned engine needs ${missing.map((m) => m.name).join(", ")} (Debian/Ubuntu: apt-get install cmake build-essential git)`,
      { context: { missing: missing.map((m) => m.name).join(", ") } },
    );
  }
  if (!existsSync(paths.bundle)) {
    throw new TokbenchError(
      "ENGINE_BUILD_FAILED",
      `node-llama-cpp's bundled llama.cpp source is missing (${paths.bundle}); reinstall tokbench`,
    );
  }
  try {
    await access(paths.llama_dir, constants.W_OK);
  } catch (cause) {
    throw new TokbenchError(
      "ENGINE_BUILD_FAILED",
      `cannot write into ${paths.llama_dir}: the tuned build goes inside node-llama-cpp's package folder; run as the user who installed tokbench`,
      { cause, context: { path: paths.llama_dir } },
    );
  }
  await mkdir(dirname(logFile), { recursive: true });
  const log = createWriteStream(logFile, { flags: "w" });
  try {
    if (!existsSync(join(paths.llama_dir, "llama.cpp", "CMakeLists.txt"))) {
      progress?.({ phase: "source" });
      const cli = join(paths.package_dir, "dist", "cli", "cli.js");
      await runLogged(
        process.execPath,
        [cli, "source", "download", "--skipBuild", "--noUsageExample", "--gpu", "false"],
        log,
        () => undefined,
        { NODE_LLAMA_CPP_SKIP_DOWNLOAD: "false" },
        options.signal,
      );
    }
    progress?.({ phase: "configure" });
    const child = fileURLToPath(new URL("./buildTunedEngineChild.js", import.meta.url));
    let compiling = false;
    const output = await runLogged(
      process.execPath,
      [child],
      log,
      (line) => {
        const step = parseBuildStep(line);
        if (step === null) return;
        compiling = true;
        progress?.({ phase: "compile", ...step });
      },
      {},
      options.signal,
    );
    if (!compiling) progress?.({ phase: "compile" });
    progress?.({ phase: "verify" });
    const systemInfo = await loadTuned();
    if (systemInfo === null) {
      throw new TokbenchError(
        "ENGINE_BUILD_FAILED",
        `the tuned engine compiled but does not load (see ${logFile})`,
        { context: { log: logFile, output: output.slice(-500) } },
      );
    }
    return {
      built: true,
      duration_ms: performance.now() - started,
      system_info: systemInfo,
      cmake_options: TUNED_CMAKE_OPTIONS,
      log_file: logFile,
    };
  } catch (error) {
    if (error instanceof TokbenchError) throw error;
    if (options.signal?.aborted === true) throw options.signal.reason;
    const detail = lastErrorLine(String((error as { output?: string }).output ?? ""));
    throw new TokbenchError(
      "ENGINE_BUILD_FAILED",
      `building the tuned engine failed${detail === "" ? "" : `: ${detail}`} (full log: ${logFile})`,
      { cause: error, context: { log: logFile } },
    );
  } finally {
    await new Promise<void>((resolve) => log.end(resolve));
  }
}

/** The compile step a build output line reports: ninja's `[12/150]`, make's `[ 12%]`. */
export function parseBuildStep(line: string): { done: number; total: number } | null {
  const ninja = /^\s*\[(\d+)\/(\d+)\]/.exec(line);
  if (ninja !== null) return { done: Number(ninja[1]), total: Number(ninja[2]) };
  const make = /^\s*\[\s*(\d+)%\]/.exec(line);
  if (make !== null) return { done: Number(make[1]), total: 100 };
  return null;
}

/** The most telling line of a failed build's output: the last one naming an error. */
export function lastErrorLine(output: string): string {
  const lines = output
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  // A compiler's or cmake's own error first; a make/ninja "stopped" line says less.
  const compiler = lines.filter(
    (l) => /\berror\b:?|CMake Error|fatal/i.test(l) && !/^ninja: build stopped/.test(l),
  );
  const other = lines.filter((l) => /not found|failed/i.test(l));
  return (compiler.at(-1) ?? other.at(-1) ?? lines.at(-1) ?? "").slice(0, 300);
}

/** The tuned build's system-info line when it exists and loads, else null. */
async function loadTuned(): Promise<string | null> {
  try {
    const tuned = await getTunedLlama({ build: "native", gpu: false });
    const info = tuned.systemInfo.trim();
    await tuned.llama.dispose();
    return info;
  } catch {
    return null;
  }
}

async function defaultCacheDir(): Promise<string> {
  const { default: envPaths } = await import("env-paths");
  return envPaths("tokbench", { suffix: "" }).cache;
}

/**
 * Runs a command with its stdout and stderr appended to `log` and handed line by line to
 * `onLine`; rejects (with the output's tail in `output`) when it exits non-zero. It runs in a
 * process group of its own: `signal` ends the whole group (a build's cmake and compilers too, not
 * only the command) and rejects with the signal's reason.
 */
export function runLogged(
  command: string,
  args: string[],
  log: NodeJS.WritableStream,
  onLine: (line: string) => void,
  env: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<string> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason);
      return;
    }
    const child = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
      detached: true,
    });
    const stopGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGTERM");
      } catch {
        // Already gone.
      }
    };
    signal?.addEventListener("abort", stopGroup, { once: true });
    let tail = "";
    let partial = "";
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString();
      log.write(text);
      tail = (tail + text).slice(-20_000);
      const lines = (partial + text).split(/\r?\n|\r/);
      partial = lines.pop() ?? "";
      for (const line of lines) onLine(line);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", (error) => reject(Object.assign(error, { output: tail })));
    child.on("close", (code, exitSignal) => {
      signal?.removeEventListener("abort", stopGroup);
      if (partial !== "") onLine(partial);
      if (signal?.aborted === true) reject(signal.reason);
      else if (code === 0) resolve(tail);
      else
        reject(
          Object.assign(new Error(`${command} exited with ${code ?? exitSignal}`), {
            output: tail,
          }),
        );
    });
  });
}

/** The local builds node-llama-cpp has in its package folder (names of their folders). */
export async function listLocalBuilds(): Promise<string[]> {
  try {
    return (await readdir(nodeLlamaCppPaths().local_builds_dir, { withFileTypes: true }))
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
}
