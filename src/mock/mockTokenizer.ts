/**
 * The mock server's tokenizer: every run of non-whitespace characters is one token. The mock's
 * output tokens are words (`" tok"`, `" think"`), so counting its output with this tokenizer is
 * exact, which lets tests check token counts against ground truth.
 */
export function countMockTokens(text: string): number {
  let count = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const space = c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d || c === 0x0c || c === 0x0b;
    if (!space && !inWord) count++;
    inWord = !space;
  }
  return count;
}
