import { PROMPT_WORDS } from "./promptWords.js";
import { seededRandom } from "./seededRandom.js";

/** A prompt and what is known of its length. */
export interface SyntheticPrompt {
  text: string;
  /** Tokens in `text` as the target's tokenizer counts them (or the estimate when not exact). */
  tokens: number;
  exact: boolean;
  /** Token position from which the prompt is unique to its request; null when prompts are shared. */
  unique_from_token: number | null;
}

/** Options of {@link SyntheticPromptSource.create}. */
export interface SyntheticPromptOptions {
  /** Length of each prompt in tokens. */
  prompt_tokens: number;
  /**
   * Start every prompt with words unique to its request so a server's prefix cache cannot serve it.
   * Defaults to true.
   */
  unique_prefix?: boolean;
  /** Seed of the prompt body. Defaults to 0. */
  seed?: number;
}

/** Counts tokens with the target's tokenizer; null when the target has none. */
export type TokenCounter = (text: string) => Promise<number | null>;

/** Words at the start of the prompt that encode the request index when prefixes are unique. */
const PREFIX_WORDS = 4;
const LEAD = "Text:";

/**
 * Builds prompts of an exact token length without tokenizing each prompt. It finds, with the
 * target's tokenizer, a vocabulary of words that each add exactly one token; a prompt is then a fixed
 * lead word followed by `n` such words, and its length is known by construction. The request index
 * is written in the first words (base |vocabulary|), so prefixes are unique per request at no cost
 * in length, and the rest of the body is drawn from a stream seeded by the index too. Two full prompts are tokenized to confirm the arithmetic; when the target has no
 * tokenizer or the check fails, lengths are approximate (one token per word) and say so.
 */
export class SyntheticPromptSource {
  private constructor(
    private readonly vocabulary: readonly string[],
    private readonly leadTokens: number,
    readonly exact: boolean,
    private readonly options: Required<SyntheticPromptOptions>,
  ) {}

  /** Calibrates against the target's tokenizer (a few hundred tokenize calls, made before the run). */
  static async create(
    options: SyntheticPromptOptions,
    countTokens: TokenCounter,
  ): Promise<SyntheticPromptSource> {
    const opts: Required<SyntheticPromptOptions> = { unique_prefix: true, seed: 0, ...options };
    const lead = await countTokens(LEAD);
    if (lead === null) return new SyntheticPromptSource(PROMPT_WORDS, 1, false, opts);

    const counts = await mapLimited(PROMPT_WORDS, 16, (w) => countTokens(`${LEAD} ${w}`));
    const vocabulary = PROMPT_WORDS.filter((_, i) => counts[i] === lead + 1);
    if (vocabulary.length < 16) return new SyntheticPromptSource(PROMPT_WORDS, 1, false, opts);

    const source = new SyntheticPromptSource(vocabulary, lead, true, opts);
    for (const index of [0, 7919]) {
      const p = source.prompt(index);
      if ((await countTokens(p.text)) !== p.tokens)
        return new SyntheticPromptSource(PROMPT_WORDS, 1, false, opts);
    }
    return source;
  }

  /** The prompt of request `index`. */
  prompt(index: number): SyntheticPrompt {
    const { prompt_tokens: target, unique_prefix: unique, seed } = this.options;
    const v = this.vocabulary;
    const words = Math.max(0, target - this.leadTokens);
    const parts: string[] = [LEAD];
    let k = 0;
    if (unique) {
      for (let n = index; k < Math.min(PREFIX_WORDS, words); k++, n = Math.floor(n / v.length)) {
        parts.push(v[n % v.length] as string);
      }
    }
    // With unique prompts the body differs too, so servers that reuse cached chunks past the first
    // difference (llama.cpp's prompt cache) find nothing to reuse either.
    const random = seededRandom(unique ? (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0 : seed);
    for (; k < words; k++) parts.push(v[Math.floor(random() * v.length)] as string);
    return {
      text: parts.join(" "),
      tokens: this.leadTokens + words,
      exact: this.exact,
      unique_from_token: unique ? this.leadTokens : null,
    };
  }
}

async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
