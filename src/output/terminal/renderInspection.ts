import type { ModelInspection } from "../../gguf/inspectModel.js";
import { createTable } from "../createTable.js";
import { formatBytes, formatParameters } from "../units.js";

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
    { parameters: `${int(m.parameters)} (${formatParameters(m.parameters)})` },
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
    // Consecutive identical layers share a row: a dense model is one row, not 32.
    const layers = createTable({ head: ["layers", "tensors each", "parameters each", "bytes each"] });
    let start = 0;
    for (let i = 1; i <= m.layers.length; i++) {
      const a = m.layers[start];
      const b = m.layers[i];
      if (
        a !== undefined &&
        (b === undefined || b.bytes !== a.bytes || b.parameters !== a.parameters || b.tensors !== a.tensors)
      ) {
        const last = m.layers[i - 1] ?? a;
        const label = last.layer === a.layer ? String(a.layer) : `${a.layer}..${last.layer}`;
        layers.push([label, a.tensors, int(a.parameters), formatBytes(a.bytes)]);
        start = i;
      }
    }
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
  } else {
    out.push(`${m.tensors.length} tensors (--tensors lists them)`);
  }
  return `${out.join("\n")}\n`;
}
