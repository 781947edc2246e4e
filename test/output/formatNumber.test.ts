import assert from "node:assert/strict";
import { it } from "node:test";
import { formatNumber } from "../../src/output/formatNumber.js";

it("formatNumber: integers with en-US thousands separators from 100 up, 3 significant digits below", () => {
  for (const value of [100, 999.5, 1000, 4948, -1234567.4, 123456789, 1e21]) {
    assert.equal(formatNumber(value), Math.round(value).toLocaleString("en-US"), String(value));
  }
  assert.equal(formatNumber(12.345), "12.3");
  assert.equal(formatNumber(1.234), "1.23");
  assert.equal(formatNumber(0.01234), "0.0123");
  assert.equal(formatNumber(0), "0");
  assert.equal(formatNumber(null), "-");
  assert.equal(formatNumber(Number.NaN), "-");
});
