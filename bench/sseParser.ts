/**
 * Throughput of the SSE parser on an OpenAI-style stream, against a naive reference (decode to a
 * string, split lines with a regex) measured in the same run. Prints MB/s and events/s for pushes
 * of 64 KiB, 1,460 bytes (one TCP segment) and one event at a time.
 *
 * Run: `node dist/bench/sseParser.js`
 */
import { performance } from "node:perf_hooks";
import { StringDecoder } from "node:string_decoder";
import { SseParser } from "../src/http/SseParser.js";
import { median } from "../src/stats/descriptive.js";
import { parseBenchArgs } from "./benchArgs.js";

// No flags: --help prints the comment above, anything else is refused.
parseBenchArgs({ script: import.meta.url, options: {} });
const EVENTS = 100_000;

function buildStream(): { bytes: Buffer; perEvent: Buffer[] } {
  const perEvent: Buffer[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const chunk = {
      id: "chatcmpl-123",
      object: "chat.completion.chunk",
      created: 1700000000,
      model: "llama-3.1-8b-instruct",
      choices: [{ index: 0, delta: { content: i % 7 === 0 ? " héllo" : " token" }, finish_reason: null }],
    };
    perEvent.push(Buffer.from(`data: ${JSON.stringify(chunk)}\n\n`, "utf8"));
  }
  return { bytes: Buffer.concat(perEvent), perEvent };
}

function split(bytes: Buffer, size: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  return parts;
}

function runParser(parts: readonly Buffer[]): number {
  let events = 0;
  let chars = 0;
  const parser = new SseParser({
    onEvent: (event) => {
      events++;
      chars += event.data.length;
    },
  });
  for (const part of parts) parser.push(part);
  parser.end();
  if (chars === 0) throw new Error("no data");
  return events;
}

/** The usual hand-written approach: decode to text, keep a string buffer, split on line ends. */
function runNaive(parts: readonly Buffer[]): number {
  const decoder = new StringDecoder("utf8");
  let buffer = "";
  let events = 0;
  let data: string[] = [];
  for (const part of parts) {
    buffer += decoder.write(part);
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop() ?? "";
    for (const line of lines) {
      if (line === "") {
        if (data.length > 0) events++;
        data = [];
      } else if (line.startsWith("data:")) {
        data.push(line.slice(line[5] === " " ? 6 : 5));
      }
    }
  }
  return events;
}

function measure(
  name: string,
  fn: (parts: readonly Buffer[]) => number,
  parts: readonly Buffer[],
  bytes: number,
) {
  fn(parts); // warm-up
  const rounds = 5;
  const times: number[] = [];
  let events = 0;
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    events = fn(parts);
    times.push(performance.now() - start);
  }
  const ms = median(times);
  if (events !== EVENTS) throw new Error(`${name}: ${events} events, expected ${EVENTS}`);
  return { ms, mbps: bytes / 1e6 / (ms / 1000), eps: events / (ms / 1000) };
}

const { bytes, perEvent } = buildStream();
const layouts: [string, Buffer[]][] = [
  ["64 KiB pushes", split(bytes, 65536)],
  ["1,460 B pushes", split(bytes, 1460)],
  ["one push per event", perEvent],
];
process.stdout.write(
  `SSE parser: ${EVENTS} events, ${(bytes.length / 1e6).toFixed(1)} MB (median of 5 runs)\n`,
);
for (const [label, parts] of layouts) {
  const ours = measure("SseParser", runParser, parts, bytes.length);
  const naive = measure("naive", runNaive, parts, bytes.length);
  process.stdout.write(
    `${label.padEnd(20)} SseParser ${ours.mbps.toFixed(0).padStart(5)} MB/s ${(ours.eps / 1e6).toFixed(2)} M events/s` +
      ` | naive ${naive.mbps.toFixed(0).padStart(5)} MB/s | ratio ${(ours.mbps / naive.mbps).toFixed(2)}x\n`,
  );
}
