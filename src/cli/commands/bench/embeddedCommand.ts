import { TokbenchError } from "../../../errors/TokbenchError.js";

/** `tokbench bench` without `--url`: the embedded engine. Being wired in; until then it says so. */
export async function runEmbeddedBenchCommand(_args: Record<string, unknown>): Promise<number> {
  throw new TokbenchError(
    "ENGINE_UNAVAILABLE",
    "the embedded engine is not wired in yet: use --url to benchmark a server",
  );
}
