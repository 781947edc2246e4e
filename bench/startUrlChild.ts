import { type ChildProcess, spawn } from "node:child_process";

/**
 * Starts `node ...args` with an IPC channel and waits for the first line it prints on stdout (a
 * server's URL): the mock, a receiver or a scraper run in their own process, so that their work is
 * not counted as the client's. Rejects when the child exits first.
 */
export async function startUrlChild(args: string[]): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit", "ipc"] });
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = "";
    child.stdout?.on("data", (b: Buffer) => {
      buffered += b.toString();
      const nl = buffered.indexOf("\n");
      if (nl >= 0) resolve(buffered.slice(0, nl).trim());
    });
    child.on("exit", (code) => reject(new Error(`child exited with ${code}`)));
  });
  return { url, child };
}
