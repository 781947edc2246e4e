import assert from "node:assert/strict";
import { test } from "node:test";
import { sanitizeText, terminalSafeJson } from "../../src/text/sanitizeText.js";
import { rawControlAt } from "./terminalSafe.js";

test("the hostile sample really holds raw controls", () => {
  assert.equal(rawControlAt("ok\u009b"), 2);
  assert.equal(rawControlAt("ok\n\t"), -1);
});

test("sanitizeText shows C0, DEL, C1 and bidirectional controls escaped, and keeps the rest", () => {
  const hostile = "a\u001b]0;pwned\u0007b\u001b[2Jc\u009b31md\u007fe\u202eevil\u2066f\u0000g\u2028h";
  const safe = sanitizeText(hostile);
  assert.equal(safe, "a\\x1b]0;pwned\\x07b\\x1b[2Jc\\u009b31md\\x7fe\\u202eevil\\u2066f\\x00g\\u2028h");
  assert.equal(rawControlAt(safe), -1);
  assert.equal(sanitizeText(safe), safe, "idempotent");
  // Printable text of any script, backslashes (Windows paths) and emoji are left alone.
  for (const plain of ["C:\\models\\llama.gguf", "модель 模型 モデル 🦙", "x = 1; y \\n z", ""]) {
    assert.equal(sanitizeText(plain), plain);
  }
});

test("sanitizeText: newlines are escaped on one line and kept in multi-line text", () => {
  assert.equal(sanitizeText("line 1\nline 2\r\n\tx\ry"), "line 1\\nline 2\\r\\n\\tx\\ry");
  assert.equal(
    sanitizeText("line 1\nline 2\r\n\tx\ry\u001b", { multiline: true }),
    "line 1\nline 2\n\tx\\ry\\x1b",
  );
});

test("terminalSafeJson is the same JSON value, with nothing raw a terminal would act on", () => {
  const value = { name: "a\u001b]0;t\u0007\u009b\u202e\u2028\u007f", list: ["\u0085", 1, null], plain: "ok" };
  const json = terminalSafeJson(value, 2);
  assert.equal(rawControlAt(json), -1);
  assert.deepEqual(JSON.parse(json), value);
  assert.match(json, /\\u009b/);
  assert.equal(terminalSafeJson({ plain: "ok" }), JSON.stringify({ plain: "ok" }));
});
