/**
 * The one sanitiser for text that came from outside tokbench (a model file, a server, a prompt
 * file, the user) on its way to a terminal. A terminal acts on control characters: `ESC ] 0 ; ...
 * BEL` retitles the window, `ESC [ 2 J` clears the screen, C1 controls such as U+009B (a one-byte
 * CSI) do the same on some terminals, and bidirectional overrides (U+202E) make the text read
 * differently from what it is. Each such character is shown escaped instead (`\x1b`, `\u009b`,
 * `\u202e`), so the text stays readable and nothing in it reaches the terminal as a command.
 *
 * Escaped: C0 controls (U+0000-U+001F) and DEL as `\xHH` (`\n`, `\r`, `\t` by name), C1 controls
 * (U+0080-U+009F), the bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E,
 * U+200F, U+202A-U+202E, U+2066-U+2069) and the line and paragraph separators (U+2028, U+2029) as
 * `\uHHHH`. Backslashes are kept as they are (Windows paths stay readable), so the escaping is for
 * display, not reversible; the raw text stays wherever it came from (the file, `--json`).
 */

/** The characters above U+007E a terminal acts on; JSON.stringify leaves them raw. */
const HIGH = "\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069";
const UNSAFE = new RegExp(`[\\u0000-\\u001f${HIGH}]`, "g");
/** As {@link UNSAFE}, without the line feed and the tab. */
const UNSAFE_MULTILINE = new RegExp(`[\\u0000-\\u0008\\u000b-\\u001f${HIGH}]`, "g");
/** What JSON.stringify leaves raw among {@link UNSAFE}: it escapes U+0000-U+001F itself. */
const UNSAFE_IN_JSON = new RegExp(`[${HIGH}]`, "g");

const NAMED: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escapeOne(ch: string): string {
  const named = NAMED[ch];
  if (named !== undefined) return named;
  const code = ch.charCodeAt(0);
  return code <= 0x7f ? `\\x${code.toString(16).padStart(2, "0")}` : unicodeEscape(ch);
}

function unicodeEscape(ch: string): string {
  return `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/** Options of {@link sanitizeText}. */
export interface SanitizeTextOptions {
  /**
   * Keep line feeds and tabs (for text shown as a block of lines); a carriage return is still
   * escaped, except in a CRLF pair, which becomes a line feed. Defaults to false: the text is
   * shown on one line (a message, a table cell), so `\n` is escaped too.
   */
  multiline?: boolean;
}

/**
 * Returns `text` with every character that a terminal would act on shown escaped (see the module
 * comment for the list). Text without such characters is returned as is, so calling it on every
 * string that reaches a terminal costs one regular-expression test. Idempotent.
 */
export function sanitizeText(text: string, options: SanitizeTextOptions = {}): string {
  if (options.multiline === true) {
    const lines = text.includes("\r\n") ? text.replace(/\r\n/g, "\n") : text;
    UNSAFE_MULTILINE.lastIndex = 0;
    return UNSAFE_MULTILINE.test(lines) ? lines.replace(UNSAFE_MULTILINE, escapeOne) : lines;
  }
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(text) ? text.replace(UNSAFE, escapeOne) : text;
}

/**
 * `JSON.stringify(value, null, space)`, with the characters that JSON leaves raw but a terminal
 * acts on (DEL, C1 controls, bidirectional overrides, U+2028/U+2029) written as `\uHHHH` escapes.
 * The output is the same JSON value, so a program reading it gets the original strings back, and
 * printing it on a terminal is safe.
 */
export function terminalSafeJson(value: unknown, space?: number): string {
  const json = JSON.stringify(value, null, space);
  if (json === undefined) return "null";
  UNSAFE_IN_JSON.lastIndex = 0;
  return UNSAFE_IN_JSON.test(json) ? json.replace(UNSAFE_IN_JSON, unicodeEscape) : json;
}
