import { createHash } from "node:crypto";

/** What a run measured, independent of how often or on what: see {@link workloadIdentity}. */
export interface WorkloadIdentity {
  /** Short hash of {@link WorkloadIdentity.fields}: equal keys mean the same workload. */
  key: string;
  /** One line for people: `pp512 tg128`, `32 req c4 128→128 tok`, `rate 4/s poisson, 128→64 tok`. */
  label: string;
  /** The facts the key is made of, for listing what differs between two workloads. */
  fields: Record<string, unknown>;
}

const asRecord = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/**
 * The workload of a run, read from its stored configuration: for a request workload the prompt and
 * output shape (prompt tokens or prompt file, max tokens, forced length, unique prefixes) and the
 * load shape (concurrency, rate, arrival) with the target's API; for llama-bench-style tests the
 * test plan (pp, tg, pg, depths). The number of requests, the duration, the seed and the warmup are
 * left out (more of the same workload is still the same workload), and so are the engine's knobs
 * (threads, batch sizes, ...): they are configuration, which `compare` lists and matches row by row.
 */
export function workloadIdentity(config: Record<string, unknown>): WorkloadIdentity {
  const workload = asRecord(config.workload);
  const load = asRecord(config.load);
  const tests = config.tests === null || config.tests === undefined ? null : asRecord(config.tests);
  const hasRequests = Object.keys(workload).length > 0;
  const fields: Record<string, unknown> = {
    target: typeof config.target === "string" ? config.target : null,
    api: typeof config.api === "string" ? config.api : null,
  };
  const labels: string[] = [];
  if (tests !== null) {
    fields.tests = { pp: tests.pp ?? [], tg: tests.tg ?? [], pg: tests.pg ?? [], depth: tests.depth ?? [0] };
    const list = (name: string, v: unknown): string[] =>
      Array.isArray(v) ? v.map((n) => `${name}${String(n)}`) : [];
    const pg = Array.isArray(tests.pg)
      ? tests.pg.map((p) => `pp${String((p as unknown[])[0])}+tg${String((p as unknown[])[1])}`)
      : [];
    const depth =
      Array.isArray(tests.depth) && tests.depth.some((d) => d !== 0) ? [`@ d${tests.depth.join(",")}`] : [];
    labels.push([...list("pp", tests.pp), ...list("tg", tests.tg), ...pg, ...depth].join(" "));
  }
  if (hasRequests) {
    fields.workload = {
      prompt_tokens: workload.prompt_file == null ? (workload.prompt_tokens ?? null) : null,
      prompt_file: workload.prompt_file ?? null,
      max_tokens: workload.max_tokens ?? null,
      force_output_length: workload.force_output_length ?? null,
      unique_prefix: workload.unique_prefix ?? null,
    };
    const concurrency = load.concurrency === null || load.concurrency === undefined ? null : load.concurrency;
    fields.load = {
      concurrency,
      rate: load.rate ?? null,
      arrival: load.rate == null ? null : (load.arrival ?? null),
    };
    const shape =
      workload.prompt_file != null
        ? `${String(workload.prompt_file)} → ${String(workload.max_tokens)} tok`
        : `${String(workload.prompt_tokens)}→${String(workload.max_tokens)} tok`;
    const cap = typeof concurrency === "number" && Number.isFinite(concurrency) ? `c${concurrency}` : null;
    const pace =
      load.rate == null
        ? cap
        : `rate ${String(load.rate)}/s ${String(load.arrival ?? "constant")}${cap === null ? "" : ` ${cap}`}`;
    labels.push([pace, shape].filter((x) => x !== null).join(", "));
  }
  const canonical = JSON.stringify(fields, (_k, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, (v as Record<string, unknown>)[k]]),
    );
  });
  return {
    key: createHash("sha256").update(canonical).digest("hex").slice(0, 16),
    label: labels.filter((l) => l !== "").join(" + ") || "-",
    fields,
  };
}
