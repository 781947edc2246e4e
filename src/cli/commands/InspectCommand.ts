import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import type { ModelInspection } from "../../gguf/inspectModel.js";
import { createTable } from "../../output/createTable.js";
import { terminalSafeJson } from "../../text/sanitizeText.js";
import { inspectModelFromArgs, withModelFileOptions } from "../inspectModelFromArgs.js";

const builder = (yargs: Argv) =>
  withModelFileOptions(yargs)
    .option("tensors", {
      type: "boolean",
      default: true,
      describe: "Show the per-tensor table (--no-tensors)",
    })
    .example("$0 inspect model.gguf", "Hyper-parameters, tensors, quantization mix, bytes per token")
    .example("$0 inspect model.gguf --json | jq .parameters", "Machine-readable");

type InspectArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>["argv"]>>;

/** Human byte size with binary units (what `ls -lh` and llama.cpp print). */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(2)} ${units[u]}`;
}

function int(n: number | null): string {
  return n === null ? "-" : n.toLocaleString("en-US");
}

/** Renders an inspection as terminal tables. */
export function renderInspection(m: ModelInspection, showTensors: boolean): string {
  const out: string[] = [];
  const hp = m.hyperparameters;
  const summary = createTable();
  summary.push(
    { file: `${m.path} (${formatBytes(m.file_bytes)}, GGUF v${m.gguf_version})` },
    { architecture: m.architecture ?? "-" },
    { name: m.name ?? "-" },
    { parameters: `${int(m.parameters)} (${(m.parameters / 1e9).toFixed(3)} B)` },
    { "tensor data": `${formatBytes(m.tensor_bytes)}, ${m.bits_per_weight.toFixed(2)} bits/weight` },
    {
      compression: `${m.compression.ratio_vs_f16.toFixed(2)}× vs F16, ${m.compression.ratio_vs_f32.toFixed(2)}× vs F32`,
    },
    { layers: int(hp.block_count) },
    { "embedding / ffn": `${int(hp.embedding_length)} / ${int(hp.feed_forward_length)}` },
    {
      "heads / kv heads": `${int(hp.head_count)} / ${int(hp.head_count_kv)} (key ${int(hp.key_length)}, value ${int(hp.value_length)})`,
    },
    { vocabulary: int(hp.vocab_size) },
    { "context length": int(hp.context_length) },
  );
  if (hp.expert_count !== null) {
    summary.push({
      experts: `${hp.expert_used_count} of ${hp.expert_count} active, ffn ${int(hp.expert_feed_forward_length)}`,
    });
  }
  const kv = m.kv_cache;
  summary.push({
    "KV cache": `${formatBytes(kv.bytes_per_token)}/token (${kv.type}); ${formatBytes(kv.bytes_at_context)} at ${int(kv.context_length)} tokens`,
  });
  const b = m.bytes_per_token;
  const experts =
    b.expert_total_bytes > 0
      ? ` + experts ${formatBytes(b.expert_active_bytes)} of ${formatBytes(b.expert_total_bytes)}`
      : "";
  summary.push({
    "read per token": `${formatBytes(b.total_bytes)} = dense ${formatBytes(b.dense_bytes)} + embedding row ${formatBytes(b.embedding_row_bytes)}${experts}`,
  });
  out.push(summary.toString());

  const mix = createTable({ head: ["type", "tensors", "parameters", "bytes", "share"] });
  for (const q of m.quantization_mix) {
    mix.push([
      q.type,
      q.tensors,
      int(q.parameters),
      formatBytes(q.bytes),
      `${(q.bytes_fraction * 100).toFixed(1)}%`,
    ]);
  }
  out.push("Quantization mix", mix.toString());

  if (m.layers.length > 0) {
    const first = m.layers[0];
    const same =
      first !== undefined &&
      m.layers.every((l) => l.bytes === first.bytes && l.parameters === first.parameters);
    const layers = createTable({ head: ["layer", "tensors", "parameters", "bytes"] });
    const rows =
      same && first !== undefined
        ? [{ ...first, label: `0..${m.layers.length - 1} (each)` }]
        : m.layers.map((l) => ({ ...l, label: String(l.layer) }));
    for (const l of rows) layers.push([l.label, l.tensors, int(l.parameters), formatBytes(l.bytes)]);
    out.push("Per layer", layers.toString());
  }

  if (showTensors) {
    const t = createTable({ head: ["tensor", "shape", "type", "elements", "bytes", "bits/w"] });
    for (const x of m.tensors) {
      t.push([
        x.name,
        x.shape.join(" × "),
        x.type,
        int(x.elements),
        formatBytes(x.bytes),
        x.bits_per_weight.toFixed(2),
      ]);
    }
    out.push("Tensors", t.toString());
  }
  return `${out.join("\n")}\n`;
}

/** `tokbench inspect <file>`: what is inside a GGUF model. */
export const inspectCommand: CommandModule<object, InspectArgs> = {
  builder: builder as unknown as CommandModule<object, InspectArgs>["builder"],
  async handler(argv) {
    const m = await inspectModelFromArgs(argv);
    process.stdout.write(argv.json ? `${terminalSafeJson(m, 2)}\n` : renderInspection(m, argv.tensors));
  },
};
