/** One sample of a Prometheus text exposition. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A metric family: its TYPE, HELP and samples. */
export interface PromFamily {
  type: string;
  help: string | null;
  samples: PromSample[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL = "[a-zA-Z_][a-zA-Z0-9_]*";
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`);
const LABEL_PAIR = new RegExp(`^(${LABEL})="((?:[^"\\\\\\n]|\\\\["\\\\n])*)"(?:,|$)`);

/** Suffixes a histogram family's samples carry. */
const HISTOGRAM_SUFFIXES = ["_bucket", "_sum", "_count"];

/**
 * Parses the Prometheus text format (version 0.0.4) strictly: every line is a `# HELP`, a
 * `# TYPE`, another comment or a sample; names and label names are valid; label values are
 * properly quoted and escaped; every sample belongs to a family declared by a `# TYPE` line
 * before it (a histogram's by its `_bucket`, `_sum`, `_count` suffix); values are numbers.
 * Throws with the offending line otherwise.
 */
export function parsePrometheusText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const helps = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("#")) {
      const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (meta === null) continue;
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!new RegExp(`^${NAME}$`).test(name)) throw new Error(`invalid metric name: ${line}`);
      if (kind === "HELP") helps.set(name, rest);
      else {
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest)) {
          throw new Error(`invalid type: ${line}`);
        }
        if (families.has(name)) throw new Error(`family declared twice: ${line}`);
        families.set(name, { type: rest, help: helps.get(name) ?? null, samples: [] });
      }
      continue;
    }
    const match = SAMPLE.exec(line);
    if (match === null) throw new Error(`not a sample line: ${line}`);
    const [, name, labelText = "", valueText] = match as unknown as [
      string,
      string,
      string | undefined,
      string,
    ];
    const labels: Record<string, string> = {};
    let rest = labelText;
    while (rest !== "") {
      const pair = LABEL_PAIR.exec(rest);
      if (pair === null) throw new Error(`bad labels: ${line}`);
      const [whole, key, raw] = pair as unknown as [string, string, string];
      if (key in labels) throw new Error(`label twice: ${line}`);
      labels[key] = raw.replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c));
      rest = rest.slice(whole.length);
    }
    const value = valueText === "+Inf" ? Infinity : valueText === "-Inf" ? -Infinity : Number(valueText);
    if (Number.isNaN(value) && valueText !== "NaN") throw new Error(`bad value: ${line}`);
    const family =
      families.get(name) ??
      HISTOGRAM_SUFFIXES.map((suffix) =>
        name.endsWith(suffix) ? families.get(name.slice(0, -suffix.length)) : undefined,
      ).find((f) => f?.type === "histogram");
    if (family === undefined) throw new Error(`sample without a TYPE line: ${line}`);
    family.samples.push({ name, labels, value });
  }
  return families;
}

/** The sum of a family's samples named `name` (all label sets). */
export function total(
  family: PromFamily | undefined,
  name: string,
  where: Record<string, string> = {},
): number {
  if (family === undefined) return Number.NaN;
  return family.samples
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}
