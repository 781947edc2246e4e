import type { Target } from "../Target.js";
import type { GgufTokenizer } from "./GgufTokenizer.js";

/**
 * The same target, counting tokens with a local tokenizer instead of the server's: used for
 * prompt lengths before the run. Sending is untouched, so the hot path is the target's own.
 */
export function withLocalTokenizer(target: Target, tokenizer: GgufTokenizer): Target {
  return {
    kind: target.kind,
    send: (request, options) => target.send(request, options),
    countTokens: async (text) => tokenizer.count(text),
    ...(target.assertReachable === undefined
      ? {}
      : { assertReachable: () => target.assertReachable?.() ?? Promise.resolve() }),
    close: async () => {
      await target.close();
      await tokenizer.close();
    },
  };
}
