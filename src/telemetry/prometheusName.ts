/**
 * UCUM units and the word Prometheus appends for them. Only units tokbench's instruments or likely
 * additions use; an annotation in braces (`{token}`, `{request}`) is dropped, as Prometheus does.
 */
const UNIT_SUFFIX: Record<string, string> = {
  s: "seconds",
  ms: "milliseconds",
  By: "bytes",
};

/**
 * The Prometheus name of an OpenTelemetry metric, as Prometheus' own OTLP ingestion names it (its
 * default "underscore escaping with suffixes"): the unit's word appended unless the name already
 * ends with it (`gen_ai.server.time_to_first_token` in `s` -> `gen_ai.server.time_to_first_token_seconds`).
 * The exposition then turns every other character Prometheus does not allow into `_` and gives
 * counters `_total`. So a dashboard query reads the same whether the metrics were scraped from
 * `--prometheus-port` or pushed over OTLP into Prometheus.
 */
export function prometheusBaseName(name: string, unit: string): string {
  const suffix = UNIT_SUFFIX[unit.replace(/\{[^}]*\}/g, "").trim()];
  if (suffix === undefined) return name;
  return name.endsWith(`_${suffix}`) || name.endsWith(`.${suffix}`) ? name : `${name}_${suffix}`;
}
