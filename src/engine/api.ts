/**
 * The one surface the UI uses to reach the engine. In the app it is served from a Web Worker
 * (see src/worker.ts); in Node, tests and scripts call `createEngine()` directly.
 */
import type { BackendInfo, BackendRequest } from './backend';
import type { ModelJob, ProgressListener } from './jobs';
import type { ModelApi, ModelSummary } from './model/service';
import type { GenerationStep } from './model/generate';
import type { GenerateRequest, GenerateResponse, Logits } from './model/generateText';
import type { StoreApi, StoreChange } from './store';
import type { AdapterInfo, TrainApi } from './train/service';
import type { SealApi } from './seal/service';
import type { WalkthroughApi } from './seal/walkthroughService';
import type { Table1Api } from './puzzles/experiment/service';
import type { PuzzleApi } from './puzzles/service';
import type { WebGpuKernelComparison } from './kernelCheck';
import type { Float16Comparison } from './float16Check';
import type { OptimizerComparison } from './webgpuOptimizerCheck';
import type { DecodingComparison, WebGpuInferenceComparison } from './inferenceKernelCheck';
import type { ProxyMarked } from 'comlink';

export type { BackendInfo, BackendRequest } from './backend';
export type { JobProgress, ModelJob, ProgressListener } from './jobs';
export type { ModelApi, ModelSource, ModelSummary, ShippedModel } from './model/service';
export type { WeightStorage } from './model/float16';
export type { GenerationStep } from './model/generate';
export type { WebGpuKernelComparison } from './kernelCheck';
export type { Float16Comparison } from './float16Check';
export type { OptimizerComparison } from './webgpuOptimizerCheck';
export type { DecodingComparison, WebGpuInferenceComparison } from './inferenceKernelCheck';
export type { GenerateRequest, GenerateResponse, Logits } from './model/generateText';
export type { AdapterInfo } from './train/service';
export type {
  ForgettingRequest,
  PlannedRunRequest,
  RecordedRunLabel,
  RecordedRunView,
  RunWork,
  SealApi,
  SealConfig,
  SealEvent,
  SealExportFiles,
  SealResults,
  SealRunJobOptions,
  SealStartRequest,
  SpeedProbe,
  SpeedTimings,
  TrainingSelfEdit,
  WorldStarter,
} from './seal/service';
export type {
  AnswerSide,
  MarkedLine,
  QuestionOutcome,
  WalkthroughApi,
  WalkthroughEvent,
  WalkthroughPassage,
  WalkthroughRequest,
  WalkthroughSelfEdit,
  WalkthroughUpdate,
} from './seal/walkthroughService';
export type {
  Table1Api,
  Table1Config,
  Table1Event,
  Table1Results,
  Table1RoundSummary,
  Table1RunJobOptions,
  Table1StartRequest,
} from './puzzles/experiment/service';
export type {
  ApplyRecipeRequest,
  BrowsableSplit,
  PuzzleApi,
  RecipeEvent,
  WorldTaskView,
} from './puzzles/service';
export type { PuzzleAnswer, RecipeOutcome } from './puzzles/testTimeTraining';

export interface Matrix {
  rows: number;
  cols: number;
  /** Row-major values. */
  values: Float32Array;
}

export interface MemoryInfo {
  numTensors: number;
  numBytes: number;
  /** Bytes the WebGPU backend holds in GPU buffers (used and pooled), when WebGPU is active. */
  gpuBytes: number | null;
  /** Of `gpuBytes`, those of freed buffers the backend keeps for reuse (see webgpuMemory.ts). */
  gpuPooledBytes: number | null;
}

export interface LogEntry {
  time: number;
  level: 'info' | 'warn' | 'error';
  message: string;
}

export type EngineEvent =
  | { type: 'log'; entry: LogEntry }
  /** Something in the store changed, in this tab or another. */
  | { type: 'store'; change: StoreChange }
  /** The job using the model started (`job`) or ended (null). */
  | { type: 'model-job'; job: ModelJob | null }
  /** Another model was loaded (tiny demo model included), or none is now. */
  | { type: 'model'; model: ModelSummary | null }
  /** The loaded model's LoRA adapters changed: one added, removed or applied, or all freed. */
  | { type: 'adapters'; adapters: AdapterInfo[] };
export type EngineEventListener = (event: EngineEvent) => void;

export interface MatmulBenchmarkOptions {
  size: number;
  iterations: number;
}

export interface MatmulBenchmarkResult {
  size: number;
  iterations: number;
  msPerMatmul: number;
  gflopsPerSecond: number;
}

export interface EngineApi {
  /** Starts (or switches) the tfjs backend; safe to call again. */
  init(request: BackendRequest): Promise<BackendInfo>;
  backendInfo(): Promise<BackendInfo | null>;
  memory(): Promise<MemoryInfo>;
  /**
   * The one job now reading or changing the model's weights (generation, fine-tuning, a SEAL
   * run, a model load, …), or null; a second one is refused while it runs.
   */
  modelJob(): Promise<ModelJob | null>;
  /** Receives logs and other unsolicited events. */
  subscribe(listener: EngineEventListener): void;
  matmul(a: Matrix, b: Matrix): Promise<Matrix>;
  /** Repeated square matmuls, timed; a long call that reports progress and can be cancelled. */
  matmulBenchmark(
    jobId: string,
    options: MatmulBenchmarkOptions,
    onProgress?: ProgressListener,
  ): Promise<MatmulBenchmarkResult>;
  /**
   * Our webgpu kernels against tfjs's own on the active (webgpu) backend: matrix products of many
   * shapes and a small model's loss gradients, as relative differences. For tests and diagnosis.
   */
  compareWebGpuKernels(): Promise<WebGpuKernelComparison>;
  /**
   * Our webgpu AdamW and clipping against the stock op sequence on the active (webgpu) backend:
   * several steps of a few parameter sets, as relative differences, with our programs' dispatch
   * counts. For tests and diagnosis.
   */
  compareWebGpuOptimizer(): Promise<OptimizerComparison[]>;
  /**
   * Our webgpu inference kernels against the stock op sequences on the active (webgpu) backend:
   * each kernel, a small model's cached logits and greedy decoding, kernel calls per decoded
   * token, tensor growth and the buffer pool after generation. For tests and diagnosis.
   */
  compareWebGpuInference(): Promise<WebGpuInferenceComparison>;
  /**
   * The loaded model decoding `prompts` (left-padded into one batch) for `newTokens` greedy tokens
   * on the active backend, our inference kernels against the stock ops: cached logits, both
   * continuations and how often our kernels ran. For tests and diagnosis.
   */
  compareDecoding(prompts: number[][], newTokens: number): Promise<DecodingComparison>;
  /**
   * Float16 weight storage on the active (webgpu) backend: packing and widening against the
   * JavaScript ones, products reading packed weights, and a small model stored as halves against
   * float32 weights rounded to float16. For tests and diagnosis.
   */
  compareFloat16Storage(): Promise<Float16Comparison>;
  /** Names of the benchmarks `runBenchmark` knows. */
  listBenchmarks(): Promise<string[]>;
  /** Runs one named benchmark on the active backend; metrics are snake_case with a unit suffix. */
  runBenchmark(jobId: string, name: string): Promise<Record<string, number>>;
  /** Asks the job to stop at its next checkpoint; resolves whether such a job was running. */
  cancel(jobId: string): Promise<boolean>;
  /**
   * Generates from the loaded model, with the active adapter if there is one: completion or chat
   * prompts, several samples each. `onStep` gets every sequence's text after each step.
   */
  generate(
    jobId: string,
    request: GenerateRequest,
    onStep?: (step: GenerationStep) => void,
  ): Promise<GenerateResponse>;
  /** The loaded model's logits (active adapter included) at every position of equal-length rows. */
  logits(tokenIds: number[][]): Promise<Logits>;
  /**
   * Runs, episodes, checkpoints, datasets and cached model files kept in this browser, with
   * export and import (see src/engine/store and docs/formats.md). Proxy-marked so that over the
   * RPC `engine.store.listRuns()` is one call into the Worker.
   */
  store: StoreApi & ProxyMarked;
  /**
   * The model: shipped with the app, from the Hugging Face Hub, a URL or picked files, e.g.
   * `engine.model.load(jobId, { kind: 'hub', repo: 'Qwen/Qwen2.5-0.5B' }, onProgress)`.
   */
  model: ModelApi & ProxyMarked;
  /**
   * LoRA adapters on the loaded model and fine-tuning jobs (see src/engine/train), e.g.
   * `engine.train.finetune(jobId, request, onProgress)`; cancel with `engine.cancel(jobId)`.
   */
  train: TrainApi & ProxyMarked;
  /**
   * SEAL runs on the loaded model (see src/engine/seal), e.g.
   * `engine.seal.startRun(jobId, { config, worldSeed }, onEvent)`; pause or cancel with
   * `engine.seal.stopRun(jobId, 'paused' | 'cancelled')`, continue with `resumeRun`, step one
   * episode with `resumeRun(jobId, runId, onEvent, { pauseAfterEpisodes: 1 })`.
   */
  seal: SealApi & ProxyMarked;
  /**
   * One SEAL episode step by step on the loaded model, for the guided walkthrough: e.g.
   * `engine.walkthrough.passage({ worldSeed: 1, seed: 1 })`, then `writeSelfEdit(jobId, request,
   * onEvent)`, then `applySelfEdit(jobId, request, selfEdit.text, onEvent)`; cancel with
   * `engine.cancel(jobId)`.
   */
  walkthrough: WalkthroughApi & ProxyMarked;
  /**
   * The few-shot puzzle experiment (Table 1) on the loaded model, e.g.
   * `engine.table1.runTable1(jobId, { config }, onEvent)`; pause or cancel with
   * `engine.table1.stopRun(jobId, 'paused' | 'cancelled')`, continue with `resumeTable1`.
   */
  table1: Table1Api & ProxyMarked;
  /**
   * Few-shot grid puzzles (see src/engine/puzzles): the seeded world's tasks, imported ARC files,
   * and one task tried on the loaded model, e.g.
   * `engine.puzzles.applyRecipe(jobId, { task, recipe, seed }, onEvent)`; cancel with `cancel`.
   */
  puzzles: PuzzleApi & ProxyMarked;
}
