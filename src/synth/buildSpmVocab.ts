import { TokbenchError } from "../errors/TokbenchError.js";

/** SentencePiece token types as llama.cpp stores them in `tokenizer.ggml.token_type`. */
export const SPM_TOKEN_TYPE = {
  normal: 1,
  unknown: 2,
  control: 3,
  userDefined: 4,
  unused: 5,
  byte: 6,
} as const;

/** A llama/SentencePiece-style vocabulary ready for GGUF metadata. */
export interface SpmVocab {
  readonly tokens: string[];
  readonly scores: Float32Array;
  readonly tokenTypes: Int32Array;
  readonly unknownId: number;
  readonly bosId: number;
  readonly eosId: number;
}

/** Vocabulary entries before the normal pieces: `<unk>`, `<s>`, `</s>` and the 256 byte tokens. */
export const SPM_RESERVED_TOKENS = 3 + 256;

const SPACE = "\u2581";

const COMMON_WORDS =
  "the of and to in is that it for on was with as be by at this are from or an have not but they which you one all were her she there would their we him been has when who will more no if out so said what up its about into than them can only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three".split(
    " ",
  );

/**
 * Builds an SPM vocabulary of exactly `vocabSize` tokens that tokenizes any text: `<unk>`, `<s>`,
 * `</s>`, byte-fallback tokens `<0x00>`..`<0xFF>`, printable ASCII, `▁word` pieces and filler pieces
 * (`▁ab`, `▁abc`, ...) up to the size. Scores decrease with the id as in real SentencePiece models,
 * so llama.cpp's merge order is deterministic.
 */
export function buildSpmVocab(vocabSize: number): SpmVocab {
  if (!Number.isInteger(vocabSize) || vocabSize < SPM_RESERVED_TOKENS + 1) {
    throw new TokbenchError(
      "SYNTH_INVALID_SHAPE",
      `vocabulary size must be an integer of at least ${SPM_RESERVED_TOKENS + 1}, got ${vocabSize}`,
    );
  }
  const tokens: string[] = ["<unk>", "<s>", "</s>"];
  const types: number[] = [SPM_TOKEN_TYPE.unknown, SPM_TOKEN_TYPE.control, SPM_TOKEN_TYPE.control];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    types.push(SPM_TOKEN_TYPE.byte);
  }
  const seen = new Set(tokens);
  const add = (piece: string): boolean => {
    if (tokens.length >= vocabSize) return false;
    if (seen.has(piece)) return true;
    seen.add(piece);
    tokens.push(piece);
    types.push(SPM_TOKEN_TYPE.normal);
    return true;
  };
  add(SPACE);
  for (let c = 33; c < 127; c++) add(String.fromCharCode(c));
  for (const w of COMMON_WORDS) add(SPACE + w);
  for (const w of COMMON_WORDS) add(w);
  const letters = "etaoinshrdlcumwfgypbvkjxqz";
  // Filler: every ▁-prefixed and bare letter string of growing length until the vocabulary is full.
  let frontier = [""];
  outer: while (tokens.length < vocabSize) {
    const next: string[] = [];
    for (const prefix of frontier) {
      for (const l of letters) {
        const piece = prefix + l;
        next.push(piece);
        if (!add(SPACE + piece) || !add(piece)) break outer;
      }
    }
    frontier = next;
  }
  const scores = new Float32Array(tokens.length);
  for (let i = SPM_RESERVED_TOKENS; i < tokens.length; i++) scores[i] = -(i - SPM_RESERVED_TOKENS);
  return {
    tokens,
    scores,
    tokenTypes: Int32Array.from(types),
    unknownId: 0,
    bosId: 1,
    eosId: 2,
  };
}
