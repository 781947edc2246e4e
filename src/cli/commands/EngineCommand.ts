import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import type { TunedEngineBuildProgress } from "../../engine/native/buildTunedEngine.js";
import { createProgressBar, type ProgressDisplay } from "../../output/progressBar.js";
import { formatDuration } from "../../output/units.js";
import { TERMINAL_WIDTH, wrapLines } from "../../output/wrapText.js";
import { sanitizeText, terminalSafeJson } from "../../text/sanitizeText.js";
import { StopSignals } from "../stopSignals.js";

const statusBuilder = (yargs: Argv) =>
  yargs
    .command(engineBuildCommand())
    .option("json", { type: "boolean", default: false, describe: "Print the status as JSON" })
    .example("$0 engine", "Which llama.cpp build `bench` uses, and why")
    .example("$0 engine build", "Compile the tuned build (once, offline, 5-20 min on 2 cores)");

type StatusArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof statusBuilder>["argv"]>>;

/** `tokbench engine`: which llama.cpp build the embedded engine uses and why; `engine build` makes the tuned one. */
export const engineCommand: CommandModule<object, StatusArgs> = {
  builder: statusBuilder as unknown as CommandModule<object, StatusArgs>["builder"],
  async handler(argv) {
    const { describeEngineSetup } = await import("../../engine/native/describeEngineSetup.js");
    const setup = await describeEngineSetup();
    if (argv.json) {
      process.stdout.write(`${terminalSafeJson(setup, 2)}\n`);
      return;
    }
    const tools = setup.build_tools
      .map((t) => (t.version === null ? `${t.name}: missing (${t.purpose})` : t.version))
      .join("; ");
    const rows: [string, string][] = [
      [
        "engine in use",
        setup.build === "native"
          ? `tokbench's tuned build of llama.cpp ${setup.llama_cpp_release} (${setup.backend})`
          : `node-llama-cpp ${setup.node_llama_cpp_version}'s prebuilt binary, llama.cpp ${setup.llama_cpp_release} (${setup.backend})`,
      ],
      ["why", setup.reason],
      ...(setup.limitation === null ? [] : ([["limits", setup.limitation]] as [string, string][])),
      ["default threads", `${setup.default_threads} of ${setup.math_cores} math cores`],
      ["llama.cpp", setup.system_info],
      ["local builds", setup.local_builds.length === 0 ? "none" : setup.local_builds.join(", ")],
      ["build tools", tools],
      ["package folder", setup.package_dir],
    ];
    // Values quote llama.cpp, the build tools and paths: sanitised, and wrapped under their label
    // to fit 100 columns.
    const width = Math.max(...rows.map(([k]) => k.length));
    const lines = rows.flatMap(([k, v]) =>
      wrapLines(sanitizeText(v), TERMINAL_WIDTH, {
        first: `${k.padEnd(width)}  `,
        rest: " ".repeat(width + 2),
      }),
    );
    process.stdout.write(`${lines.join("\n")}\n`);
  },
};

const buildBuilder = (yargs: Argv) =>
  yargs
    .option("force", {
      type: "boolean",
      default: false,
      describe: "Compile again even when a tuned build exists",
    })
    .option("progress", {
      type: "boolean",
      default: true,
      describe: "Progress bar on stderr (only on a terminal)",
    })
    .option("json", { type: "boolean", default: false, describe: "Print the result as JSON" });

type BuildArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof buildBuilder>["argv"]>>;

function engineBuildCommand(): CommandModule<object, BuildArgs> {
  return {
    command: "build",
    describe:
      "Compile llama.cpp for this CPU (OpenMP, -march=native) from the source bundled in node-llama-cpp: offline, 5-20 min",
    builder: buildBuilder as unknown as CommandModule<object, BuildArgs>["builder"],
    async handler(argv) {
      const { buildTunedEngine } = await import("../../engine/native/buildTunedEngine.js");
      const phases: Record<TunedEngineBuildProgress["phase"], string> = {
        source: "checking out the llama.cpp source bundled in node-llama-cpp",
        configure: "configuring (cmake)",
        compile: "compiling",
        verify: "loading the new build",
      };
      let phase: TunedEngineBuildProgress["phase"] | null = null;
      let bar: ProgressDisplay | null = null;
      const started = performance.now();
      // A stop signal ends the compile's whole process group and the command, in one line (exit
      // 128 + n) instead of the default death that would leave the compilers running.
      const stop = StopSignals.listen({ setup: "while building: no tuned build was installed" });
      try {
        const result = await buildTunedEngine({
          force: argv.force,
          signal: stop.signal,
          onProgress(p) {
            if (p.phase !== phase) {
              bar?.stop();
              bar = null;
              phase = p.phase;
              // A line per phase on a pipe as on a terminal: a build of many minutes must say
              // what it is doing either way; the bar is for terminals only.
              process.stderr.write(
                `engine build: ${phases[p.phase]} (${formatDuration(performance.now() - started)})\n`,
              );
            }
            if (p.phase === "compile" && p.done !== undefined && p.total !== undefined) {
              bar ??= createProgressBar("engine build: compiling", "steps", argv.progress);
              bar.update(p.done, p.total);
            }
          },
        });
        (bar as ProgressDisplay | null)?.stop();
        if (argv.json) {
          process.stdout.write(`${terminalSafeJson(result, 2)}\n`);
          return;
        }
        process.stdout.write(
          result.built
            ? `built the tuned engine in ${formatDuration(result.duration_ms)}: ${sanitizeText(result.system_info)}\n` +
                "`tokbench bench` now uses it for CPU runs (`tokbench engine` shows why)\n"
            : "the tuned engine is already built (--force compiles it again); `tokbench engine` shows it\n",
        );
      } finally {
        stop.close();
        (bar as ProgressDisplay | null)?.stop();
      }
    },
  };
}
