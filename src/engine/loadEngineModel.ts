import { stat } from "node:fs/promises";
import { InsufficientMemoryError, type LlamaModel } from "node-llama-cpp";
import { isTokbenchError, TokbenchError } from "../errors/TokbenchError.js";
import { inspectModel, type ModelInspection } from "../gguf/inspectModel.js";
import { type EngineBinding, firstLine } from "./EngineBinding.js";
import { type EngineModelInfo, engineModelInfo } from "./EngineModelInfo.js";

/** A GGUF file checked and parsed (by tokbench's reader, once), weights not loaded. */
export interface InspectedModelFile {
  path: string;
  file_bytes: number;
  /** Everything `tokbench inspect` says about the file: parameters, tensors, bytes per token... */
  inspection: ModelInspection;
  info: EngineModelInfo;
}

/** A model loaded into the engine. */
export interface LoadedEngineModel {
  model: LlamaModel;
  info: EngineModelInfo;
  /** Wall-clock time of `loadModel`, ms. */
  load_ms: number;
  /** Layers actually offloaded to the GPU (0 on a CPU-only binding). */
  gpu_layers: number;
}

/**
 * The size of the model file at `path`; FILE_NOT_FOUND when there is no regular file there. A
 * command calls it before it opens a database or starts anything, so a mistyped path costs nothing.
 */
export async function modelFileBytes(path: string): Promise<number> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new Error("not a regular file");
    return s.size;
  } catch (cause) {
    throw new TokbenchError("FILE_NOT_FOUND", `model file not found: ${path}`, { cause, context: { path } });
  }
}

/**
 * Checks that `path` is a readable GGUF file and parses its metadata and tensor table with
 * tokbench's GGUF reader. Throws FILE_NOT_FOUND when it does not exist and ENGINE_LOAD_FAILED when
 * it is not a valid GGUF (the reader's GGUF_* error is the cause).
 */
export async function inspectModelFile(path: string): Promise<InspectedModelFile> {
  const fileBytes = await modelFileBytes(path);
  let inspection: ModelInspection;
  try {
    inspection = await inspectModel(path);
  } catch (cause) {
    // The reader's messages start with the path already.
    const detail = isTokbenchError(cause) ? cause.message.replace(`${path}: `, "") : firstLine(cause);
    throw new TokbenchError("ENGINE_LOAD_FAILED", `cannot read model ${path}: ${detail}`, {
      cause,
      context: { path },
    });
  }
  return { path, file_bytes: fileBytes, inspection, info: engineModelInfo(path, inspection, null) };
}

/** Options of one model load. */
export interface EngineModelLoadOptions {
  /** Layers to offload to the GPU. Defaults to 0. */
  gpuLayers?: number;
  /** Map the file instead of reading it (llama.cpp `--mmap`). Defaults to true. */
  useMmap?: boolean;
}

/**
 * Loads a model's weights into the engine and times it. Throws ENGINE_OUT_OF_MEMORY when
 * node-llama-cpp finds it cannot fit and ENGINE_LOAD_FAILED for any other failure, with llama.cpp's
 * own warning appended when it logged one.
 */
export async function loadEngineModel(
  binding: EngineBinding,
  file: InspectedModelFile,
  options: EngineModelLoadOptions = {},
): Promise<LoadedEngineModel> {
  binding.takeWarnings();
  const started = performance.now();
  let model: LlamaModel;
  try {
    model = await binding.llama.loadModel({
      modelPath: file.path,
      gpuLayers: options.gpuLayers ?? 0,
      useMmap: options.useMmap ?? true,
    });
  } catch (cause) {
    const detail = [firstLine(cause), ...binding.takeWarnings().slice(-1)].filter((s) => s !== "").join("; ");
    const oom = cause instanceof InsufficientMemoryError;
    throw new TokbenchError(
      oom ? "ENGINE_OUT_OF_MEMORY" : "ENGINE_LOAD_FAILED",
      `cannot load model ${file.path}: ${detail}`,
      { cause, context: { path: file.path, gpu_layers: options.gpuLayers ?? 0 } },
    );
  }
  const loadMs = performance.now() - started;
  const info = engineModelInfo(file.path, file.inspection, {
    model_type: model.typeDescription,
    model_size: model.size,
  });
  return { model, info, load_ms: loadMs, gpu_layers: model.gpuLayers };
}
