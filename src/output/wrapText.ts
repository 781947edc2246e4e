/** The terminal width tokbench's text and tables fit: 100 columns. */
export const TERMINAL_WIDTH = 100;

/** Indents of {@link wrapLines}. */
export interface WrapIndent {
  /** Put before the first line. Defaults to "". */
  first?: string;
  /** Put before every later line. Defaults to "". */
  rest?: string;
}

/**
 * `text` as lines of at most `width` characters (indents included), broken at spaces; a word longer
 * than a line (a path) is split, never cut, so wrapped text loses nothing. The one word wrap of
 * terminal output: footnotes, flag explanations, table cells.
 */
export function wrapLines(text: string, width: number, indent: WrapIndent = {}): string[] {
  const first = indent.first ?? "";
  const rest = indent.rest ?? "";
  const lines: string[] = [];
  const prefix = () => (lines.length === 0 ? first : rest);
  const room = () => Math.max(1, width - prefix().length);
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length <= room()) {
      line += ` ${word}`;
      continue;
    }
    if (line !== "") {
      lines.push(prefix() + line);
      line = "";
    }
    let piece = word;
    while (piece.length > room()) {
      const cut = room();
      lines.push(prefix() + piece.slice(0, cut));
      piece = piece.slice(cut);
    }
    line = piece;
  }
  if (line !== "" || lines.length === 0) lines.push(prefix() + line);
  return lines;
}
