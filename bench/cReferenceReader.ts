import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ReferenceLoad } from "./nodeReferenceReader.js";

const SOURCE = fileURLToPath(new URL("../../bench/referenceReader.c", import.meta.url));

/**
 * Compiles bench/referenceReader.c with the system's C compiler, once per harness run. Returns
 * null, with the reason, where that is not possible (no compiler, not a POSIX system).
 */
export function buildCReferenceReader(): { binary: string } | { binary: null; reason: string } {
  if (process.platform === "win32") return { binary: null, reason: "needs epoll (Linux)" };
  if (!existsSync(SOURCE)) return { binary: null, reason: `${SOURCE} is missing` };
  const dir = mkdtempSync(join(tmpdir(), "tokbench-ref-"));
  const binary = join(dir, "referenceReader");
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  try {
    execFileSync(process.env.CC ?? "cc", ["-O2", "-o", binary, SOURCE], { stdio: "pipe" });
    return { binary };
  } catch (error) {
    const detail = (error as { stderr?: Buffer }).stderr?.toString().trim().split("\n")[0];
    return { binary: null, reason: `could not compile it (${detail || (error as Error).message})` };
  }
}

/**
 * Runs the C reference reader against the mock (see bench/referenceReader.c). Returns each
 * prompt's token-chunk arrival times on the machine-wide monotonic clock (ms).
 */
export function readWithC(binary: string, load: ReferenceLoad): Promise<Map<string, number[]>> {
  const out = `${binary}.${process.pid}.out`;
  const url = new URL(load.url);
  const args = [
    url.port,
    load.streams,
    load.requests,
    load.requestMs,
    load.maxTokens,
    load.promptPrefix,
    out,
  ];
  return new Promise((resolve, reject) => {
    execFile(binary, args.map(String), (error, _stdout, stderr) => {
      if (error !== null) {
        reject(new Error(`C reference reader failed: ${stderr.trim() || error.message}`));
        return;
      }
      const arrivals = new Map<string, number[]>();
      for (const line of readFileSync(out, "utf8").split("\n")) {
        if (line === "") continue;
        const [prompt = "", times = ""] = line.split("\t");
        arrivals.set(prompt, times === "" ? [] : times.split(",").map(Number));
      }
      rmSync(out, { force: true });
      resolve(arrivals);
    });
  });
}
