/**
 * Escaping for text on its way into an HTML page (the report): nothing a server, a model file or a
 * user wrote may become markup or script there. The terminal's counterpart is `sanitizeText.ts`.
 */

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
