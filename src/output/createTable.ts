import Table from "cli-table3";
import { sanitizeText } from "../text/sanitizeText.js";
import { TERMINAL_WIDTH, wrapLines } from "./wrapText.js";

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

/** The terminal width every table fits: 100 columns. */
export const TABLE_MAX_WIDTH = TERMINAL_WIDTH;

/** Narrowest a wrapped column gets (content characters). */
const MIN_COLUMN = 8;

// biome-ignore lint/suspicious/noControlCharactersInRegex: matches the color codes cli-table3 writes.
const ANSI = /\u001b\[[0-9;]*m/g;

function widestLine(text: string): number {
  return Math.max(0, ...text.split("\n").map((line) => line.replace(ANSI, "").length));
}

/** `text` wrapped at `width` for a table cell (see {@link wrapLines}). */
function wrapText(text: string, width: number): string {
  return wrapLines(text, width).join("\n");
}

/** `cell` with its text wrapped at `width` (content characters). */
function wrapCell(cell: Cell, width: number): Cell {
  if (typeof cell === "string") return wrapText(cell, width);
  if (cell !== null && typeof cell === "object" && "content" in cell && typeof cell.content === "string") {
    return { ...cell, content: wrapText(cell.content, width) };
  }
  return cell;
}

/**
 * Column widths (with their padding) that bring a table `excess` characters narrower: the widest
 * column gives one character at a time, down to {@link MIN_COLUMN}. Null when they cannot.
 */
function narrowed(widths: readonly number[], excess: number): number[] | null {
  const out = [...widths];
  for (let left = excess; left > 0; left--) {
    let widest = 0;
    for (let i = 1; i < out.length; i++) if ((out[i] ?? 0) > (out[widest] ?? 0)) widest = i;
    if ((out[widest] ?? 0) - 2 <= MIN_COLUMN) return null;
    out[widest] = (out[widest] ?? 0) - 1;
  }
  return out;
}

/**
 * A cli-table3 table in tokbench's style. Colors only where {@link colorEnabled} says so, so
 * piped output and files hold no escape codes. Every cell and header passes through
 * {@link sanitizeText} when the table is rendered: cells hold model names, tensor names, paths and
 * server messages, and a cell is one line (a newline inside one is shown as `\n`). A table wider
 * than {@link TABLE_MAX_WIDTH} (a long path, a long message) has its widest columns narrowed and
 * their text wrapped onto more lines, so it fits a 100-column terminal without losing a character.
 */
export function createTable(
  options: Table.TableConstructorOptions = {},
  layout: {
    /**
     * Narrow and wrap to {@link TABLE_MAX_WIDTH}; false for a caller that fits the table its own way
     * and needs its natural width. Defaults to true.
     */
    fit?: boolean;
  } = {},
): Table.Table {
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
    const natural = render();
    const width = widestLine(natural);
    if (width <= TABLE_MAX_WIDTH || options.colWidths !== undefined || layout.fit === false) return natural;
    // Rendering filled in the columns' widths (padding included); narrow them and wrap the text.
    const settings = table.options as unknown as { colWidths: number[]; rowHeights: number[] };
    const widths = narrowed(settings.colWidths, width - TABLE_MAX_WIDTH);
    if (widths === null) return natural;
    const wrapRow = (row: unknown): unknown => {
      if (Array.isArray(row)) return row.map((cell: Cell, i) => wrapCell(cell, (widths[i] ?? 3) - 2));
      if (row === null || typeof row !== "object") return row;
      // A vertical row: {label: value}, the label in the first column, the value(s) after it.
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(row)) {
        out[wrapText(key, (widths[0] ?? 3) - 2)] = Array.isArray(value)
          ? value.map((cell: Cell, i) => wrapCell(cell, (widths[i + 1] ?? 3) - 2))
          : wrapCell(value as Cell, (widths[1] ?? 3) - 2);
      }
      return out;
    };
    for (let i = 0; i < table.length; i++) table[i] = wrapRow(table[i]) as (typeof table)[number];
    settings.colWidths = widths;
    settings.rowHeights = [];
    return render();
  };
  return table;
}
