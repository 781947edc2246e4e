import assert from "node:assert/strict";
import { it } from "node:test";
import {
  formatBandwidth,
  formatBytes,
  formatDuration,
  formatMeanSpread,
  formatParameters,
} from "../../src/output/units.js";

it("bytes use binary units with at most three figures, never decimal GB", () => {
  const cases: [number, string][] = [
    [0, "0 B"],
    [144, "144 B"],
    [2048, "2.00 KiB"],
    [2_958_336, "2.82 MiB"],
    [281_385_568, "268 MiB"],
    [1024 ** 3 - 1, "1.00 GiB"],
    [32_121_044_992, "29.9 GiB"],
    [2 ** 40, "1.00 TiB"],
  ];
  for (const [bytes, text] of cases) assert.equal(formatBytes(bytes), text, String(bytes));
  assert.equal(formatBytes(null), "-");
  assert.equal(formatBytes(Number.NaN), "-");
});

it("bandwidth is decimal GB/s", () => {
  assert.equal(formatBandwidth(7.04e9), "7.0 GB/s");
  assert.equal(formatBandwidth(0.854e9), "0.85 GB/s");
  assert.equal(formatBandwidth(204.8e9), "205 GB/s");
  assert.equal(formatBandwidth(2.2e6), "0.0022 GB/s");
});

it("parameter counts read like model names, never 0.005 B", () => {
  const cases: [number, string][] = [
    [812, "812"],
    [5_245_184, "5.25M"],
    [494_032_768, "494M"],
    [999_700_000, "1.00B"],
    [1_235_814_400, "1.24B"],
    [30_532_122_624, "30.5B"],
  ];
  for (const [n, text] of cases) assert.equal(formatParameters(n), text, String(n));
});

it("± appears only with two or more samples", () => {
  assert.equal(formatMeanSpread(46.36, 4.04, 3), "46.36 ± 4.04");
  assert.equal(formatMeanSpread(46.36, 0, 1), "46.36");
  assert.equal(formatMeanSpread(null, 1, 3), "-");
});

it("durations switch units as they grow", () => {
  assert.equal(formatDuration(850), "850 ms");
  assert.equal(formatDuration(4200), "4.2 s");
  assert.equal(formatDuration(185_000), "3 min 05 s");
});
