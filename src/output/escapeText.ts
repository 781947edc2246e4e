/**
 * The one sanitiser for text that came from a server, a model file or a user on its way to a
 * terminal or a page: nothing such text contains may act on the terminal (escape sequences that
 * move the cursor, retitle the window, clear the screen) or run in a page (markup, script).
 */

/**
 * Shows the control characters of `text` escaped (`\x1b`, `\x07`, C1 controls), so it prints as
 * inert text. Newlines are escaped too: one value stays on one line.
 */
export function escapeTerminalText(text: string): string {
  let out = "";
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    out += code < 0x20 || (code >= 0x7f && code < 0xa0) ? `\\x${code.toString(16).padStart(2, "0")}` : char;
  }
  return out;
}

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** `text` as HTML text or attribute content: `&`, `<`, `>` and both quotes become entities. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string);
}

/**
 * A value as JSON that can sit inside an HTML `<script>` element: `<`, `>`, `&` and the two line
 * separators JavaScript treats as line ends become `\u` escapes, so no string in the data can close
 * the element (`</script>`) or open a comment.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
