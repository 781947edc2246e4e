import Table from "cli-table3";
import { sanitizeText } from "../text/sanitizeText.js";

/** Whether terminal output may use ANSI colors: stdout is a terminal and `NO_COLOR` is not set. */
export function colorEnabled(stream: NodeJS.WriteStream = process.stdout): boolean {
  return stream.isTTY === true && (process.env.NO_COLOR ?? "") === "" && process.env.TERM !== "dumb";
}

type Cell = Table.Cell;

function safeCell(cell: Cell): Cell {
  if (typeof cell === "string") return sanitizeText(cell);
  if (cell !== null && typeof cell === "object" && "content" in cell && typeof cell.content === "string") {
    return { ...cell, content: sanitizeText(cell.content) };
  }
  return cell;
}

/** A row in any of cli-table3's shapes (horizontal array, vertical `{key: value}`, cross `{key: [..]}`). */
function safeRow(row: unknown): unknown {
  if (Array.isArray(row)) return row.map((cell: Cell) => safeCell(cell));
  if (row === null || typeof row !== "object") return row;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    out[sanitizeText(key)] = Array.isArray(value)
      ? value.map((cell: Cell) => safeCell(cell))
      : safeCell(value as Cell);
  }
  return out;
}

/**
 * A cli-table3 table in tokbench's style. Colors only where {@link colorEnabled} says so, so
 * piped output and files hold no escape codes. Every cell and header passes through
 * {@link sanitizeText} when the table is rendered: cells hold model names, tensor names, paths and
 * server messages, and a cell is one line (a newline inside one is shown as `\n`).
 */
export function createTable(options: Table.TableConstructorOptions = {}): Table.Table {
  const color = colorEnabled();
  const table = new Table({
    ...options,
    ...(options.head === undefined ? {} : { head: options.head.map((h) => sanitizeText(h)) }),
    style: { head: color ? ["cyan"] : [], border: color ? ["grey"] : [], ...options.style },
  });
  const render = table.toString.bind(table);
  // Rows are sanitized at rendering rather than in push(): cli-table3 also takes rows by index
  // assignment and splice, and rendering is the one way out.
  table.toString = () => {
    for (let i = 0; i < table.length; i++) table[i] = safeRow(table[i]) as (typeof table)[number];
    return render();
  };
  return table;
}
