/**
 * tokbench as a library. Every run returns a plain, typed result; printing, storage and reports
 * are separate consumers of it. The CLI (`tokbench`) is built on exactly these exports.
 */

export { type BenchmarkInput, runBenchmark } from "./benchmark/runBenchmark.js";
export { type EmbeddedBenchOptions, runEmbeddedBench } from "./benchmark/runEmbeddedBench.js";
export type { WorkloadOptions } from "./benchmark/WorkloadOptions.js";
// History: statistics, comparisons, regression verdicts, reports
export { type ComparableRun, loadComparableRun } from "./compare/ComparableRun.js";
export { type Comparison, type ComparisonRow, compareRuns, type Verdict } from "./compare/compareRuns.js";
export {
  DEFAULT_THRESHOLDS,
  judgeLongShortItl,
  judgeRegression,
  type RegressionReport,
  type RegressionThresholds,
} from "./compare/judgeRegression.js";
export {
  GraphObserver,
  type ObservedDecode,
  type ObserveWhat,
} from "./engine/observe/GraphObserver.js";
export { runObservedTests } from "./engine/observe/runObservedTests.js";
export { runLlamaBench } from "./engine/runLlamaBench.js";
// Errors
export { ERROR_CODES, type ErrorCode } from "./errors/ErrorCode.js";
export { isTokbenchError, TokbenchError } from "./errors/TokbenchError.js";
export { inspectModel, type ModelInspection } from "./gguf/inspectModel.js";
// Models: GGUF, synthesis, roofline, engine
export { readGguf } from "./gguf/readGguf.js";
export { SseParser } from "./http/SseParser.js";
export type { LoadOptions } from "./load/LoadOptions.js";
export { type LoadHooks, type LoadOutcome, runLoad } from "./load/runLoad.js";
export { allocateChunkTokens } from "./metrics/allocateChunkTokens.js";
// Measurement: metric definitions and the load generator
export {
  BUFFERED_TOKEN_FRACTION,
  computeRequestMetrics,
  type InterTokenSample,
  type RequestMetrics,
  type RequestMetricsContext,
  TIMING_MISMATCH_TOLERANCE,
} from "./metrics/computeRequestMetrics.js";
export { RunSummarizer } from "./metrics/RunSummarizer.js";
export { MockServer, type MockServerOptions } from "./mock/MockServer.js";
export {
  SimulatedServer,
  type SimulatedServerHooks,
  type SimulatedServerOptions,
} from "./mock/SimulatedServer.js";
export {
  type ClosedLoopOutcome,
  type ClosedLoopWorkload,
  simulateClosedLoop,
} from "./mock/simulation/simulateClosedLoop.js";
export { renderReportHtml } from "./output/html/renderReportHtml.js";
export type {
  ObservedChunk,
  RequestError,
  RequestObservation,
  ServerReportedTimings,
  ServerUsage,
} from "./records/RequestObservation.js";
export { collectReportData } from "./report/collectReportData.js";
// Results (the public, versioned format)
export type { DistributionStats } from "./results/DistributionStats.js";
export type { GpuInfo, MachineInfo } from "./results/MachineInfo.js";
export type {
  ExpertUsage,
  LayerTiming,
  ObservationInfo,
} from "./results/Observation.js";
export type { RequestLog, RequestLogWriter } from "./results/RequestLog.js";
export {
  type RequestRecord,
  type ServerTimingsRecord,
  TOKEN_SOURCES,
  type TokenSource,
  TRUST_FLAGS,
  type TrustFlag,
} from "./results/RequestRecord.js";
export { RequestTable } from "./results/RequestTable.js";
export type { ResourcePoint } from "./results/ResourceTimeline.js";
export type { ResourceUsage } from "./results/ResourceUsage.js";
export type { DistributionMetric, RunDistributions } from "./results/RunDistributions.js";
export { RESULT_SCHEMA_VERSION, type RunResult, type RunStatus } from "./results/RunResult.js";
export type { RunSummary } from "./results/RunSummary.js";
export { type WorkloadIdentity, workloadIdentity } from "./results/workloadIdentity.js";
export { measureMemoryBandwidth } from "./roofline/measureMemoryBandwidth.js";
export { decodeCeiling, prefillCeiling } from "./roofline/rooflineMath.js";
export { bootstrapRatioInterval } from "./stats/bootstrap.js";
export { mean, median, quantile, sampleStddev } from "./stats/descriptive.js";
export { compareQuantiles, HistogramBuckets, mannWhitneyHistograms } from "./stats/HistogramBuckets.js";
export { mannWhitneyU } from "./stats/mannWhitneyU.js";
export { StatsAccumulator } from "./stats/StatsAccumulator.js";
export { welchTTest } from "./stats/welchTTest.js";
export { RecordedRequestLog } from "./storage/RecordedRequestLog.js";
// Storage and system
export type {
  BaselineEntry,
  RunFilter,
  RunHistory,
  RunListItem,
  StoredRunHeader,
} from "./storage/RunHistory.js";
export { RunStore } from "./storage/RunStore.js";
export { SpillFileRequestLog } from "./storage/SpillFileRequestLog.js";
export { listPresets } from "./synth/presets.js";
export { synthesizeModel } from "./synth/synthesizeModel.js";
export { collectMachineInfo } from "./system/machineInfo.js";
export { ResourceSampler } from "./system/ResourceSampler.js";
export { EmbeddedTarget } from "./targets/embedded/EmbeddedTarget.js";
export { OllamaTarget } from "./targets/ollama/OllamaTarget.js";
export { type BodyStreamHooks, OpenAiTarget } from "./targets/openai/OpenAiTarget.js";
export { type OpenAiChunkInfo, readOpenAiChunk } from "./targets/openai/readOpenAiChunk.js";
export type { TargetOptions } from "./targets/openai/TargetOptions.js";
// Targets
export type { SendOptions, Target, WorkloadRequest } from "./targets/Target.js";
// Traces
export { type TraceProblem, validateTrace } from "./trace/traceSchema.js";
export { readPromptFile } from "./workload/readPromptFile.js";
export { SyntheticPromptSource } from "./workload/SyntheticPromptSource.js";
