/**
 * The one redaction of secrets in tokbench. Everything that leaves the process goes through it: the
 * run's configuration (before the terminal, `--json`, the database or a report sees it), error
 * messages that quote a URL or a server's answer, and what storage writes.
 *
 * Two kinds of secret are removed:
 * - by shape: the user name and password of a URL, URL query parameters, object keys, header names
 *   and `Name: value` lines whose name says credential (see {@link isSecretKey}), and
 *   `Bearer ...` / `Basic ...` credentials;
 * - by value: literal strings known to be secret (the API key, a header's value, a password taken
 *   from a URL), wherever they appear, because servers echo them back in error messages.
 */

/** What replaces a secret value, so a reader can see that one was configured without seeing it. */
export const REDACTED = "[redacted]";

/** What replaces a known secret found inside free text (an error message, a server's echo). */
export const REDACTED_TEXT = "***";

/** Literal secrets shorter than this are not searched for in text: they would match by chance. */
const MIN_LITERAL_LENGTH = 4;

/** Words that make a name a credential wherever they appear in it. */
const SECRET_WORDS = new Set([
  "password",
  "passwd",
  "pwd",
  "passphrase",
  "secret",
  "secrets",
  "authorization",
  "auth",
  "oauth",
  "credential",
  "credentials",
  "cookie",
  "apikey",
  "bearer",
  "signature",
  "sig",
  "jwt",
]);

/** Words that make a name a credential when they end it: `api_key`, `x-api-key`, `hf_token`, `key`. */
const SECRET_LAST_WORDS = new Set(["token", "key"]);

/**
 * Names that are a credential only when they are the whole name: Azure Functions' `?code=` is the
 * function key, `pass` a password; `error_code` or `passthrough` are not.
 */
const SECRET_WHOLE_NAMES = new Set(["code", "pass"]);

/** Splits `apiKey`, `api_key`, `X-Api-Key`, `OPENAI_API_KEY` into lower-case words. */
function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word.length > 0);
}

/**
 * True when a name (an object key, an HTTP header, a URL query parameter) says its value is a
 * credential: `api_key`, `apiKey`, `x-api-key`, `key`, `authorization`, `proxy-authorization`,
 * `cookie`, `token`, `access_token`, `hf_token`, `password`, `client_secret`, `signature`, `sig`, ...
 * Plural `tokens` (`max_tokens`, `prompt_tokens`), `tokenizer` and `key_count` are not credentials.
 */
export function isSecretKey(name: string): boolean {
  const words = nameWords(name);
  if (words.length === 0) return false;
  if (words.some((word) => SECRET_WORDS.has(word))) return true;
  if (words.length === 1 && SECRET_WHOLE_NAMES.has(words[0] as string)) return true;
  return SECRET_LAST_WORDS.has(words[words.length - 1] as string);
}

/** `Authorization: Bearer x` style header lines, as repeatable `--header` flags hold them. */
const HEADER_LINE = /^\s*([A-Za-z0-9_-]+)\s*:/;
/** A word after an HTTP auth scheme, anywhere in text: a credential when {@link looksLikeCredential}. */
const AUTH_SCHEME_WORD = /\b(Bearer|Basic|bearer|basic|BEARER|BASIC)(\s+)([A-Za-z0-9._~+/=-]{8,})/g;

/**
 * Whether a word after `Bearer`/`Basic` is a credential rather than prose ("Bearer authentication"):
 * it holds a digit or punctuation, or mixes cases after its first letter (base64).
 */
function looksLikeCredential(word: string): boolean {
  return /[0-9._~+/=-]/.test(word) || (/[a-z]/.test(word.slice(1)) && /[A-Z]/.test(word.slice(1)));
}

/**
 * `scheme://...` in text: up to the first character that cannot be part of a URL written in text,
 * less trailing punctuation (`POST http://h/v1?key=x: ...` ends before the colon).
 */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]*[^\s"'<>`.,:;)!?]/gi;

/**
 * A URL with its secrets replaced by `[redacted]`: the user-info part (`user:password@`) and the
 * value of every query parameter whose name {@link isSecretKey}. Everything else is kept as written,
 * so the URL stays recognisable. Works on text that does not parse as a URL too.
 */
export function redactUrl(url: URL | string): string {
  const text = typeof url === "string" ? url : url.href;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text);
  if (scheme === null) return text;
  let rest = text.slice(scheme[0].length);
  // User info ends at the last `@` before the path: a password may hold an unescaped `@`.
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd);
  const at = authority.lastIndexOf("@");
  if (at !== -1) rest = `${REDACTED}@${rest.slice(at + 1)}`;
  const query = rest.indexOf("?");
  if (query === -1) return scheme[0] + rest;
  const hash = rest.indexOf("#", query);
  const search = rest.slice(query + 1, hash === -1 ? undefined : hash);
  const params = search.split("&").map((pair) => {
    const equals = pair.indexOf("=");
    const name = equals === -1 ? pair : pair.slice(0, equals);
    return equals !== -1 && isSecretKey(safeDecode(name)) ? `${name}=${REDACTED}` : pair;
  });
  return `${scheme[0]}${rest.slice(0, query)}?${params.join("&")}${hash === -1 ? "" : rest.slice(hash)}`;
}

/**
 * The literal secrets a URL carries, to look for in text where its shape is lost (a server echoing
 * them): the password (or the user name when it comes alone), and credential query values.
 */
export function urlSecrets(url: URL | string): string[] {
  let parsed: URL;
  try {
    parsed = typeof url === "string" ? new URL(url) : url;
  } catch {
    return [];
  }
  const found: string[] = [];
  if (parsed.password !== "") found.push(parsed.password, safeDecode(parsed.password));
  // A user name alone is the whole credential (`https://TOKEN@host`, sent as Basic TOKEN:). Beside a
  // password it is an identity, and a common word ("bench") would be cut out of every message.
  else if (parsed.username !== "") found.push(parsed.username, safeDecode(parsed.username));
  for (const [name, value] of parsed.searchParams) {
    if (isSecretKey(name) && value !== "") found.push(value, encodeURIComponent(value));
  }
  return [...new Set(found)];
}

/**
 * The literal secrets in a configuration value, at any depth: values of credential keys and
 * `[name, value]` / `{name, value}` header pairs, and the secrets of every URL in a string. Give
 * them to {@link redactText} for text that may quote them.
 */
export function secretValues(value: unknown): string[] {
  const found = new Set<string>();
  const walk = (item: unknown, secret: boolean): void => {
    if (typeof item === "string") {
      if (secret) {
        found.add(item);
        // The credential alone, as a server would echo it: `Bearer sk-...` -> `sk-...`.
        const scheme = /^\s*(?:bearer|basic)\s+(\S+)\s*$/i.exec(item);
        if (scheme?.[1] !== undefined) found.add(scheme[1]);
      }
      const line = HEADER_LINE.exec(item);
      if (line?.[1] !== undefined && !item.includes("://") && isSecretKey(line[1])) {
        walk(item.slice(line[0].length).trim(), true);
      }
      for (const match of item.match(URL_IN_TEXT) ?? []) for (const s of urlSecrets(match)) found.add(s);
      return;
    }
    if (typeof item === "number" || typeof item === "boolean") {
      if (secret) found.add(String(item));
      return;
    }
    if (Array.isArray(item)) {
      const pairName = headerPairName(item);
      if (pairName !== null) walk(item[1], secret || isSecretKey(pairName));
      else for (const element of item) walk(element, secret);
      return;
    }
    if (item !== null && typeof item === "object") {
      const named = item as { name?: unknown };
      const secretPair = typeof named.name === "string" && isSecretKey(named.name);
      for (const [key, child] of Object.entries(item)) {
        walk(child, secret || isSecretKey(key) || (secretPair && key === "value"));
      }
    }
  };
  walk(value, false);
  return [...found].filter((s) => s.length >= MIN_LITERAL_LENGTH);
}

/**
 * Text with its secrets removed: every URL in it redacted as {@link redactUrl} does, `Bearer x` /
 * `Basic x` credentials replaced, and every literal in `literals` (the API key, values from
 * {@link secretValues}) replaced by `***`. For error messages and other free text; literals are
 * replaced first, so a secret that is also part of a URL leaves nothing behind.
 */
export function redactText(text: string, literals: readonly string[] = []): string {
  let out = text;
  // Longest first: a secret containing a shorter one must not be half replaced.
  const sorted = literals.filter((s) => s.length >= MIN_LITERAL_LENGTH).sort((a, b) => b.length - a.length);
  for (const secret of sorted) out = out.split(secret).join(REDACTED_TEXT);
  out = out.replace(URL_IN_TEXT, (url) => redactUrl(url));
  return out.replace(AUTH_SCHEME_WORD, (match, scheme: string, space: string, word: string) =>
    looksLikeCredential(word) ? `${scheme}${space}${REDACTED}` : match,
  );
}

function redactString(value: string, literals: readonly string[]): string {
  const header = HEADER_LINE.exec(value);
  if (header?.[1] !== undefined && !value.includes("://") && isSecretKey(header[1])) {
    return `${header[1]}: ${REDACTED}`;
  }
  if (/^\s*(bearer|basic)\s+\S/i.test(value)) return REDACTED;
  return redactText(value, literals);
}

/** The name of a `[name, value]` header pair, or null when `item` is not one. */
function headerPairName(item: readonly unknown[]): string | null {
  const name = item[0];
  return item.length === 2 && typeof name === "string" && /^[A-Za-z0-9_-]+$/.test(name) ? name : null;
}

/**
 * A deep copy of `value` with every secret removed: the configuration of a run goes through this
 * once, before anything sees it, and storage applies it again as a second line of defence. It
 * replaces with `[redacted]`:
 * - the value of any key that {@link isSecretKey} (objects, at any depth);
 * - `[name, value]` and `{ name, value }` header pairs and `"Name: value"` header lines whose name is a credential;
 * - `Bearer ...` / `Basic ...` strings, the user info of URLs and their credential query parameters;
 * and every literal in `literals` found in any string by `***` ({@link redactText}).
 */
export function redactSecrets<T>(value: T, literals: readonly string[] = []): T {
  return redactValue(value, literals) as T;
}

function redactValue(value: unknown, literals: readonly string[]): unknown {
  if (typeof value === "string") return redactString(value, literals);
  if (Array.isArray(value)) {
    const pairName = headerPairName(value);
    if (pairName !== null && isSecretKey(pairName)) return [value[0], REDACTED];
    return value.map((item) => redactValue(item, literals));
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    // `{ name: "Authorization", value: "..." }` header objects.
    const named = value as { name?: unknown; value?: unknown };
    const secretPair = typeof named.name === "string" && isSecretKey(named.name) && "value" in value;
    for (const [key, item] of Object.entries(value)) {
      const secret = isSecretKey(key) || (secretPair && key === "value");
      out[key] = secret && item !== null && item !== undefined ? REDACTED : redactValue(item, literals);
    }
    return out;
  }
  return value;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    return text;
  }
}
