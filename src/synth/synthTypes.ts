/** Weight types `synth` can write, lower-case as on the command line. */
export const SYNTH_TYPES = ["f32", "f16", "bf16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0"] as const;

/** A weight type `synth` can write. */
export type SynthType = (typeof SYNTH_TYPES)[number];

/** llama.cpp's `general.file_type` (`enum llama_ftype`) for each synth type. */
export const SYNTH_FILE_TYPE: Readonly<Record<SynthType, number>> = {
  f32: 0,
  f16: 1,
  q4_0: 2,
  q4_1: 3,
  q8_0: 7,
  q5_0: 8,
  q5_1: 9,
  bf16: 32,
};
