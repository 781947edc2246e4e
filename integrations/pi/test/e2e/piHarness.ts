import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CallLogRecord } from "../../src/record/CallLogRecord.js";

/** The checkout's root (this file runs from dist/integrations/pi/test/e2e/). */
export const REPO_ROOT = fileURLToPath(new URL("../../../../../", import.meta.url));
/** The extension, loaded with `pi -e` as a user would. */
export const EXTENSION_DIR = join(REPO_ROOT, "integrations", "pi");
/** The pinned pi agent installed by `npm run test:pi`. */
export const PI_BIN = join(EXTENSION_DIR, "node_modules", ".bin", "pi");

/** A model entry of pi's models.json, pointing at a server on loopback. */
export interface LoopbackModel {
  provider: string;
  baseUrl: string;
  /** pi's API: `openai-completions` (pi's own client) or `tokbench-openai-completions` (the extension's). */
  api: string;
  id: string;
  maxTokens: number;
  reasoning?: boolean;
  /** pi's `compat` settings merged over the ones the mock and llama.cpp need. */
  compat?: Record<string, unknown>;
}

/** What one RPC session of pi saw. */
export interface PiRun {
  records: CallLogRecord[];
  /** The raw lines of `.pi/llm-metrics.log`. */
  logLines: string[];
  /** Every status-line text the extension set, in order. */
  statuses: string[];
  /** Texts of the extension's notifications (the `/llm-metrics` report). */
  notices: string[];
  /** pi's stderr, for failure messages. */
  stderr: string;
}

/**
 * Runs the real pi agent in RPC mode with the extension loaded, in a throwaway HOME, agent
 * directory and working directory: `prompts` are sent one after the other (each waits for the
 * agent to finish), then the `commands`. Nothing leaves the machine: pi runs offline, and its only
 * model is `model`, on loopback.
 */
export async function runPi(
  model: LoopbackModel,
  prompts: string[],
  commands: string[] = [],
  extraArgs: string[] = [],
): Promise<PiRun> {
  if (!existsSync(PI_BIN))
    throw new Error(`${PI_BIN} is missing: run \`npm run test:pi\`, which installs the pinned pi`);
  const home = mkdtempSync(join(tmpdir(), "tokbench-pi-e2e-"));
  try {
    const agentDir = join(home, "agent");
    const cwd = join(home, "work");
    mkdirSync(agentDir, { recursive: true });
    mkdirSync(cwd, { recursive: true });
    writeFileSync(join(agentDir, "models.json"), JSON.stringify(modelsJson(model), null, 2));
    const child = spawn(
      process.execPath,
      [
        PI_BIN,
        "--mode",
        "rpc",
        "--no-session",
        "--no-tools",
        "--no-context-files",
        "--no-skills",
        "--no-extensions",
        "--no-prompt-templates",
        "--no-themes",
        "--offline",
        "-e",
        EXTENSION_DIR,
        "--model",
        `${model.provider}/${model.id}`,
        ...extraArgs,
      ],
      {
        cwd,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: home,
          PI_CODING_AGENT_DIR: agentDir,
          PI_OFFLINE: "1",
          PI_TELEMETRY: "0",
          PI_SKIP_VERSION_CHECK: "1",
        },
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    const rpc = new RpcClient(child);
    try {
      for (const prompt of prompts) await rpc.prompt(prompt);
      for (const command of commands) await rpc.command(command);
    } finally {
      await rpc.close();
    }
    const logPath = join(cwd, ".pi", "llm-metrics.log");
    const logLines = existsSync(logPath)
      ? readFileSync(logPath, "utf8")
          .split("\n")
          .filter((l) => l !== "")
      : [];
    return {
      records: logLines.map((l) => JSON.parse(l) as CallLogRecord),
      logLines,
      statuses: rpc.statuses,
      notices: rpc.notices,
      stderr: rpc.stderr,
    };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

function modelsJson(model: LoopbackModel): unknown {
  return {
    providers: {
      [model.provider]: {
        baseUrl: model.baseUrl,
        api: model.api,
        apiKey: "loopback",
        // What tokbench's mock and llama.cpp's server understand.
        compat: {
          maxTokensField: "max_tokens",
          supportsDeveloperRole: false,
          supportsReasoningEffort: false,
          supportsStore: false,
          ...model.compat,
        },
        models: [
          {
            id: model.id,
            reasoning: model.reasoning ?? false,
            maxTokens: model.maxTokens,
            contextWindow: 32_000,
            cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
          },
        ],
      },
    },
  };
}

/** Longest wait for one prompt or command, ms. */
const STEP_TIMEOUT_MS = 60_000;

/** pi's RPC protocol over the child's stdin/stdout: JSON lines, split on `\n` only. */
class RpcClient {
  readonly statuses: string[] = [];
  readonly notices: string[] = [];
  stderr = "";
  private readonly child: ChildProcess;
  private buffer = "";
  private waiter: {
    match: (event: Record<string, unknown>) => boolean;
    resolve: () => void;
    reject: (error: Error) => void;
  } | null = null;
  private readonly exited: Promise<void>;
  private nextId = 0;

  constructor(child: ChildProcess) {
    this.child = child;
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (text: string) => this.read(text));
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (text: string) => {
      this.stderr += text;
    });
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
  }

  /** Sends a prompt and waits for the agent to finish it. */
  prompt(message: string): Promise<void> {
    return this.send({ type: "prompt", message }, (e) => e.type === "agent_end");
  }

  /** Runs an extension command and waits for its notification. */
  command(message: string): Promise<void> {
    return this.send(
      { type: "prompt", message },
      (e) => e.type === "extension_ui_request" && e.method === "notify",
    );
  }

  /** Ends pi's input and waits for it to exit (killing it after 10 s). */
  async close(): Promise<void> {
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(timer);
  }

  private send(
    command: Record<string, unknown>,
    done: (event: Record<string, unknown>) => boolean,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(
          new Error(
            `pi did not answer ${JSON.stringify(command)} within ${STEP_TIMEOUT_MS} ms; stderr: ${this.stderr}`,
          ),
        );
      }, STEP_TIMEOUT_MS);
      this.waiter = {
        match: done,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.child.stdin?.write(`${JSON.stringify({ id: `t${this.nextId++}`, ...command })}\n`);
    });
  }

  private read(text: string): void {
    this.buffer += text;
    let newline = this.buffer.indexOf("\n");
    while (newline >= 0) {
      const line = this.buffer.slice(0, newline).replace(/\r$/, "");
      this.buffer = this.buffer.slice(newline + 1);
      newline = this.buffer.indexOf("\n");
      // Every token's event carries the whole message so far: parsing them all would keep this
      // process, where the mock serves the stream, busy for nothing.
      if (line === "" || line.startsWith('{"type":"message_update"')) continue;
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (event.type === "extension_ui_request") {
        if (
          event.method === "setStatus" &&
          event.statusKey === "llm-metrics" &&
          typeof event.statusText === "string"
        )
          this.statuses.push(event.statusText);
        if (event.method === "notify" && typeof event.message === "string") this.notices.push(event.message);
      }
      const waiter = this.waiter;
      if (event.type === "response" && event.success === false) {
        this.waiter = null;
        waiter?.reject(new Error(`pi refused a command: ${line}`));
        continue;
      }
      if (waiter?.match(event)) {
        this.waiter = null;
        waiter.resolve();
      }
    }
  }
}
