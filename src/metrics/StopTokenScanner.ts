/**
 * Special tokens of common chat templates that end a turn or a text. One of them appearing in the
 * generated text means the server rendered a token meant to stop generation (a wrong chat
 * template, `special` tokens printed, or generation forced past the end): the output is not what a
 * client would get, and a speed figure over it measures the wrong thing.
 */
export const STOP_TOKEN_TEXTS: readonly string[] = [
  "<|im_end|>",
  "<|im_start|>",
  "<|endoftext|>",
  "<|end_of_text|>",
  "<|eot_id|>",
  "<|eom_id|>",
  "<|start_header_id|>",
  "<end_of_turn>",
  "<start_of_turn>",
  "<|end|>",
  "<|return|>",
  "<\uFF5Cend\u2581of\u2581sentence\uFF5C>",
  "</s>",
];

const LONGEST = Math.max(...STOP_TOKEN_TEXTS.map((t) => t.length));

/**
 * Finds the first stop token in a text given piece by piece, also when a token is split across
 * pieces. It keeps only the last few characters between pieces and looks at a piece only when
 * it holds a `<`, so streaming a long text through it costs next to nothing.
 */
export class StopTokenScanner {
  /** The first stop token seen; null while none. */
  found: string | null = null;
  private tail = "";

  push(piece: string): void {
    if (this.found !== null || piece === "") return;
    const text = this.tail + piece;
    const open = text.lastIndexOf("<");
    if (open === -1) {
      this.tail = "";
      return;
    }
    for (const token of STOP_TOKEN_TEXTS) {
      if (text.includes(token)) {
        this.found = token;
        return;
      }
    }
    // A token can only continue from the last `<` on, and is at most LONGEST characters.
    this.tail = text.length - open < LONGEST ? text.slice(open) : "";
  }
}
