import { once } from "node:events";
import type { Writable } from "node:stream";
import { stringify } from "csv-stringify/sync";
import type { FlatRow } from "./exportRows.js";

/** Export formats. */
export type ExportFormat = "csv" | "jsonl" | "md";

/** Rows gathered before one write. */
const BATCH = 1000;

/** A Markdown table cell: pipes and newlines cannot break the table, markup shows as text. */
function mdCell(v: string | number | null): string {
  if (v === null) return "";
  return String(v)
    .replace(/[\\|`*_<>[\]]/g, (c) => `\\${c}`)
    .replace(/\r?\n/g, " ");
}

/**
 * Writes rows as CSV (RFC 4180 by csv-stringify, header first; cells that a spreadsheet would run
 * as a formula, `=…`, `+…`, `-…`, `@…`, are quoted with a leading `'`), JSON Lines (one object per
 * row, numbers exact) or a Markdown table, in batches and waiting for `out` to drain, so a
 * million-row export never sits in memory.
 */
export async function writeExport(
  columns: readonly string[],
  rows: Iterable<FlatRow> | AsyncIterable<FlatRow>,
  format: ExportFormat,
  out: Writable,
): Promise<void> {
  const write = async (text: string): Promise<void> => {
    if (text !== "" && !out.write(text)) await once(out, "drain");
  };
  const encode = (batch: FlatRow[], first: boolean): string => {
    if (format === "jsonl") return batch.map((r) => `${JSON.stringify(r)}\n`).join("");
    if (format === "csv") {
      return stringify(
        batch.map((r) => columns.map((c) => r[c] ?? null)),
        { header: first, columns: [...columns], escape_formulas: true, cast: { number: (n) => String(n) } },
      );
    }
    const head = first ? `| ${columns.join(" | ")} |\n|${columns.map(() => " --- ").join("|")}|\n` : "";
    return head + batch.map((r) => `| ${columns.map((c) => mdCell(r[c] ?? null)).join(" | ")} |\n`).join("");
  };
  let batch: FlatRow[] = [];
  let first = true;
  for await (const row of rows) {
    batch.push(row);
    if (batch.length >= BATCH) {
      await write(encode(batch, first));
      first = false;
      batch = [];
    }
  }
  if (batch.length > 0 || first) await write(encode(batch, first));
}
