// Replays a tokbench trace (docs/trace.md) as text: one line per step, then, for observation runs,
// one line per layer ("tg32/t1/obs/r0 decode step 12, layer 7 took 0.310 ms") and the step's input
// and output parts. Reads the file as it is (validate it with `validateTrace` from tokbench's
// library when in doubt). Needs `npm run build` (it uses tokbench's terminal sanitiser).
//
//   node scripts/replay-trace.mjs run.ndjson [--id ID] [--layers-only]
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

const { sanitizeText } = await import(new URL("../dist/src/text/sanitizeText.js", import.meta.url).href);

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith("--"));
const idIndex = args.indexOf("--id");
const onlyId = idIndex >= 0 ? args[idIndex + 1] : undefined;
const layersOnly = args.includes("--layers-only");
if (file === undefined) {
  process.stderr.write("usage: replay-trace.mjs TRACE.ndjson [--id GENERATION] [--layers-only]\n");
  process.exit(2);
}

const ms = (x) => Number(x).toFixed(3);
// Names and ids come from the model file and the trace: nothing in them may act on the terminal.
const clean = (s) => sanitizeText(String(s));
const out = [];
let lineNo = 0;
try {
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })) {
    lineNo++;
    if (line.trim() === "") continue;
    const e = JSON.parse(line);
    if (onlyId !== undefined && e.id !== undefined && e.id !== onlyId) continue;
    const step = (name) => (name === "prefill_batch" ? "prefill batch" : "decode step");
    switch (e.event) {
      case "session_start": {
        const m = e.model ?? {};
        out.push(
          `session ${e.started_at} level ${e.level}: ${clean(m.model_filename ?? m.path ?? "?")} ` +
            `(${clean(m.architecture ?? "?")}, ${m.n_layer ?? "?"} layers, n_embd ${m.n_embd ?? "?"}` +
            `${m.n_expert ? `, ${m.n_expert} experts, ${m.n_expert_used} used` : ""})`,
        );
        break;
      }
      case "generation_start":
        if (!layersOnly) {
          const kind = e.observed === true ? " observed" : e.observed === false ? " unobserved" : "";
          out.push(`${clean(e.id)}${kind}: ${e.prompt_tokens} prompt tokens, ${e.max_tokens} to generate`);
        }
        break;
      case "prefill_batch":
      case "decode_step":
        if (!layersOnly) out.push(`${clean(e.id)} ${step(e.event)} ${e.index}: ${e.tokens} token(s) in ${ms(e.duration_ms)} ms`);
        break;
      case "layer":
        if (e.part === "layer") out.push(`${clean(e.id)} ${step(e.step)} ${e.index}, layer ${e.layer} took ${ms(e.duration_ms)} ms`);
        else if (!layersOnly) out.push(`${clean(e.id)} ${step(e.step)} ${e.index}, ${e.part} part took ${ms(e.duration_ms)} ms`);
        break;
      case "tensor":
        if (!layersOnly) {
          out.push(
            `${clean(e.id)} ${step(e.step)} ${e.index}, node ${e.node} ${clean(e.name)} = ${clean(e.op)}(${e.inputs.map(clean).join(", ")}) ${clean(e.type)} [${e.shape.join(" x ")}] ${e.bytes} B`,
          );
        }
        break;
      case "generation_end":
        if (!layersOnly) out.push(`${clean(e.id)} done: ${e.output_tokens} output tokens in ${ms(e.total_ms)} ms`);
        break;
      case "session_end":
        out.push(`session ${e.status}: ${e.generations} generations`);
        break;
      default:
        out.push(`line ${lineNo}: unknown event ${clean(e.event)}`);
    }
    if (out.length >= 4096) process.stdout.write(`${out.splice(0).join("\n")}\n`);
  }
} catch (error) {
  process.stderr.write(`replay-trace: ${clean(file)} line ${lineNo}: ${clean(error instanceof Error ? error.message : String(error))}\n`);
  process.exit(1);
}
process.stdout.write(`${out.join("\n")}\n`);
