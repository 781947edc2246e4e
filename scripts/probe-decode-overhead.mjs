// Per-token cost outside llama_decode: wall time of N single-token decodes minus llama.cpp's own
// eval time (llama_perf_context_print). Evidence tool for docs/engine-speed.md; needs `npm run build`.
//
//   node scripts/probe-decode-overhead.mjs <model.gguf> [native|prebuilt] [threads] [controlled|generator|nologits] [N]
//   UV_THREADPOOL_SIZE=1 node scripts/probe-decode-overhead.mjs ...   # the tuned process environment
const root = new URL("../", import.meta.url);
const { LlamaLogLevel } = await import(new URL("node_modules/node-llama-cpp/dist/index.js", root).href);
const { getTunedLlama } = await import(new URL("dist/src/engine/native/getTunedLlama.js", root).href);
const [modelPath, build = "native", threadsArg = "1", mode = "controlled", nArg = "32"] = process.argv.slice(2);
if (!modelPath) {
  process.stderr.write("usage: probe-decode-overhead.mjs <model.gguf> [native|prebuilt] [threads] [mode] [N]\n");
  process.exit(2);
}
const threads = Number(threadsArg);
const n = Number(nArg);
const tuned = await getTunedLlama({ build, gpu: false, logLevel: "error" });
const { llama } = tuned;
const lines = [];
let capture = false;
llama.logger = (_level, message) => {
  if (capture) lines.push(message);
};
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const vocab = Number(model.fileInfo.tensorInfo?.find((t) => t.name === "token_embd.weight")?.dimensions[1] ?? 256);
const readEvalMs = async (context) => {
  lines.length = 0;
  capture = true;
  llama.logLevel = LlamaLogLevel.info;
  await context.printTimings();
  await new Promise((resolve) => setTimeout(resolve, 50));
  capture = false;
  llama.logLevel = LlamaLogLevel.error;
  const match = lines.map((l) => /(?<!prompt )eval time\s*=\s*([\d.]+)\s*ms/.exec(l)).find(Boolean);
  return match ? Number(match[1]) : Number.NaN;
};
for (let round = 0; round < 2; round++) {
  const context = await model.createContext({
    contextSize: n + 16,
    batchSize: 64,
    threads,
    flashAttention: "auto",
    performanceTracking: true,
  });
  const sequence = context.getSequence();
  await sequence.controlledEvaluate([[1, { generateNext: { token: true } }]]);
  await sequence.clearHistory();
  await readEvalMs(context); // resets the counters
  let token = 1;
  const next = () => {
    token = (token * 7919 + 13) % vocab;
    return token;
  };
  const start = performance.now();
  if (mode === "generator") {
    let produced = 0;
    for await (const _ of sequence.evaluate([1], { temperature: 0 })) if (++produced >= n) break;
  } else if (mode === "nologits") {
    for (let i = 0; i < n; i++) await sequence.evaluateWithoutGeneratingNewTokens([next()]);
  } else {
    for (let i = 0; i < n; i++) await sequence.controlledEvaluate([[next(), { generateNext: { token: true } }]]);
  }
  const wallMs = performance.now() - start;
  const evalMs = await readEvalMs(context);
  process.stdout.write(
    `${JSON.stringify({
      build: tuned.build,
      uv_threadpool_size: process.env.UV_THREADPOOL_SIZE ?? "default",
      threads,
      mode,
      n,
      tg_wall_ts: +((n * 1000) / wallMs).toFixed(2),
      tg_engine_ts: +((n * 1000) / evalMs).toFixed(2),
      outside_decode_ms_per_token: +((wallMs - evalMs) / n).toFixed(3),
    })}\n`,
  );
  await context.dispose();
}
await model.dispose();
await llama.dispose();
