import { isSecretHeader, redactSecrets } from "../errors/redactSecrets.js";

/** What replaces a secret value, so a reader can see that one was configured without seeing it. */
export const REDACTED = "[redacted]";

/** Words that make a key name a credential wherever they appear in it. */
const SECRET_WORDS = new Set([
  "password",
  "passwd",
  "passphrase",
  "secret",
  "secrets",
  "authorization",
  "auth",
  "credential",
  "credentials",
  "cookie",
  "apikey",
  "bearer",
]);

/** Splits `apiKey`, `api_key`, `X-Api-Key`, `OPENAI_API_KEY` into lower-case words. */
function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word.length > 0);
}

/**
 * True when a configuration key names a credential: `api_key`, `apiKey`, `x-api-key`,
 * `authorization`, `token`, `accessToken`, `hf_token`, `password`, `client_secret`, ...
 * Plural `tokens` (`max_tokens`, `prompt_tokens`) and `tokenizer` are not secrets.
 */
export function isSecretKey(key: string): boolean {
  if (isSecretHeader(key)) return true;
  const words = keyWords(key);
  if (words.some((word) => SECRET_WORDS.has(word))) return true;
  for (let i = 0; i + 1 < words.length; i++) {
    if (words[i] === "api" && words[i + 1] === "key") return true;
    if (words[i] === "private" && words[i + 1] === "key") return true;
  }
  return words[words.length - 1] === "token";
}

/** `Authorization: Bearer x` style header lines, as repeatable `--header` flags hold them. */
const HEADER_LINE = /^\s*([A-Za-z0-9_-]+)\s*:/;

function stripString(value: string, secrets: readonly string[]): string {
  const header = HEADER_LINE.exec(value);
  if (header?.[1] !== undefined && !value.includes("://") && isSecretKey(header[1])) {
    return `${header[1]}: ${REDACTED}`;
  }
  if (/^\s*(bearer|basic)\s+\S/i.test(value)) return REDACTED;
  // Credentials in URLs: https://user:pass@host/...
  const withoutUserInfo = value.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, `$1${REDACTED}@`);
  return redactSecrets(withoutUserInfo, secrets);
}

/**
 * A deep copy of `value` with every credential removed, for anything tokbench stores. The
 * configuration handed to the database should already be clean; this is the second line of
 * defence against a key slipping in by mistake. It replaces:
 * - the value of any key that {@link isSecretKey} (objects, at any depth);
 * - `[name, value]` and `{ name, value }` header pairs and `"Name: value"` header lines whose name is a secret;
 * - `Bearer ...` / `Basic ...` strings, and `user:password@` in URLs;
 * - every literal occurrence of each string in `secrets` (the API key itself), in any string.
 */
export function stripSecrets<T>(value: T, secrets: readonly string[] = []): T {
  return stripValue(value, secrets) as T;
}

function stripValue(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === "string") return stripString(value, secrets);
  if (Array.isArray(value)) {
    const name = value[0];
    if (
      value.length === 2 &&
      typeof name === "string" &&
      /^[A-Za-z0-9_-]+$/.test(name) &&
      isSecretKey(name)
    ) {
      return [value[0], REDACTED];
    }
    return value.map((item) => stripValue(item, secrets));
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    // `{ name: "Authorization", value: "..." }` header objects.
    const named = value as { name?: unknown; value?: unknown };
    const secretPair = typeof named.name === "string" && isSecretKey(named.name) && "value" in value;
    for (const [key, item] of Object.entries(value)) {
      const secret = isSecretKey(key) || (secretPair && key === "value");
      out[key] = secret && item !== null && item !== undefined ? REDACTED : stripValue(item, secrets);
    }
    return out;
  }
  return value;
}
