/**
 * The `shape` benchmark: one fixed model shape (a random Llama: vocabulary 512, context 128,
 * 4 layers, 4 heads, hidden 128, MLP 512) trained and decoded the way the app does it, to follow
 * our own kernels' effect:
 * - full fine-tuning steps (AdamW, every weight) on a batch of 8 × 128 tokens, with our kernels
 *   and then with tfjs's stock ones in the same run (`speedup_vs_stock_<backend>`);
 * - decoding one sequence with the KV cache, greedy and sampled (temperature 1, top-p 0.95: how
 *   SEAL draws self-edits);
 * - kernel calls per training step and per decoded token (see kernelCalls.ts), memory growth over
 *   repeated steps and, on webgpu, device memory (see webgpuMemory.ts): `peak_gpu_bytes` is the
 *   most bytes tfjs's buffer pool held at once while training with our kernels (buffers in use
 *   plus freed ones kept for reuse: what the device had to provide), `peak_gpu_bytes_in_use` the
 *   most in use at once, `stock_peak_*` the same with stock kernels, and
 *   `pooled_*_after_training` what the pool kept for reuse once training had finished.
 * Steps are few: on a software WebGPU (SwiftShader) one step of this shape takes seconds.
 */
import * as tf from '@tensorflow/tfjs';
import { setOwnKernels } from './backend';
import type { Checkpoint } from './jobs';
import { countKernelCalls } from './kernelCalls';
import type { ModelConfig } from './model/config';
import { generate, type GenerationModel } from './model/generate';
import { GREEDY, type SamplingOptions } from './model/sampling';
import { disposeModelWeights } from './model/weights';
import { createRandom } from './random';
import { trackWebGpuPeak, webGpuMemory } from './webgpuMemory';
import type { TokenizedSequence } from './train/dataset';
import { randomModelWeights, randomSequences, SMALL_LLAMA_CONFIG } from './train/randomModel';
import {
  DEFAULT_SFT_OPTIONS,
  trainSft,
  type TrainableModel,
  type TrainingTarget,
} from './train/sft';
import { median } from './median';

export const SHAPE_BENCHMARK_CONFIG: ModelConfig = {
  ...SMALL_LLAMA_CONFIG,
  vocabSize: 512,
  hiddenSize: 128,
  intermediateSize: 512,
  numLayers: 4,
  numHeads: 4,
  numKvHeads: 4,
  headDim: 32,
  maxPositionEmbeddings: 128,
};

const BATCH = 8;
const SEQUENCE_LENGTH = 128;
const TIMED_STEPS = 4;
const PROMPT_TOKENS = 16;
/** Decoding runs this many tokens and, for the per-token kernel count, this many more. */
const NEW_TOKENS = 32;
const DECODE_RUNS = 3;
const SAMPLED: SamplingOptions = { temperature: 1, topK: 0, topP: 0.95, seed: 1 };

/** `steps` optimizer steps of `target`, one per pass over `data`; resolves their wall time. */
async function train(
  model: TrainableModel,
  data: TokenizedSequence[],
  target: TrainingTarget,
  steps: number,
  checkpoint: Checkpoint,
): Promise<number> {
  const options = {
    ...DEFAULT_SFT_OPTIONS,
    batchSize: data.length,
    epochs: steps,
    reportEvery: steps,
    learningRate: 1e-4,
  };
  const result = await trainSft(model, data, target, options, { checkpoint });
  return result.elapsedMs;
}

/**
 * Tokens per second of `steps` training steps of `target` (each one pass over `data`), after one
 * untimed step that compiles shaders; `afterWarmup` runs between the two.
 */
export async function trainingTokensPerSecond(
  model: TrainableModel,
  data: TokenizedSequence[],
  target: TrainingTarget,
  {
    steps,
    checkpoint,
    afterWarmup,
  }: { steps: number; checkpoint: Checkpoint; afterWarmup?: () => void },
): Promise<number> {
  await train(model, data, target, 1, checkpoint);
  afterWarmup?.();
  const elapsedMs = await train(model, data, target, steps, checkpoint);
  const tokens = data.reduce((sum, sequence) => sum + sequence.ids.length, 0);
  return (steps * tokens * 1000) / elapsedMs;
}

/**
 * Median decoding speed of `prompt` over `runs` generations of `newTokens`, after an untimed one
 * (uploads, shader compiles, the buffer pool filled).
 */
export async function decodeTokensPerSecond(
  model: GenerationModel,
  prompt: number[],
  options: { newTokens: number; runs: number; sampling: SamplingOptions; checkpoint: Checkpoint },
): Promise<number> {
  const decode = () =>
    generate(model, [prompt], {
      maxNewTokens: options.newTokens,
      sampling: options.sampling,
      stopTokenIds: [],
      checkpoint: options.checkpoint,
    });
  await decode();
  const speeds: number[] = [];
  for (let i = 0; i < options.runs; i++) speeds.push((await decode()).stats.decodeTokensPerSecond);
  return median(speeds);
}

export async function runShapeBenchmark(checkpoint: Checkpoint): Promise<Record<string, number>> {
  const config = SHAPE_BENCHMARK_CONFIG;
  const model = { config, weights: randomModelWeights(config, 1) };
  const data = randomSequences(BATCH, SEQUENCE_LENGTH, config.vocabSize, 7);
  const backend = tf.getBackend();
  const metrics: Record<string, number> = {};
  // Training ends by giving pooled buffers back, so each peak starts from what is in use.
  const withPeak = async <T>(prefix: string, run: () => Promise<T>): Promise<T> => {
    const peak = trackWebGpuPeak();
    try {
      return await run();
    } finally {
      const bytes = peak?.stop();
      if (bytes) {
        metrics[`${prefix}peak_gpu_bytes`] = bytes.allocatedBytes;
        metrics[`${prefix}peak_gpu_bytes_in_use`] = bytes.inUseBytes;
      }
    }
  };
  try {
    setOwnKernels(false);
    const full = { kind: 'full' } as const;
    const stockTokensPerSecond = await withPeak('stock_', () =>
      trainingTokensPerSecond(model, data, full, { steps: TIMED_STEPS, checkpoint }),
    );
    setOwnKernels(true);
    // Tensors alive after the first step with our kernels against after three more.
    let tensorsBefore = 0;
    metrics.train_tokens_per_s = await withPeak('', () =>
      trainingTokensPerSecond(model, data, full, {
        steps: TIMED_STEPS,
        checkpoint,
        afterWarmup: () => {
          tensorsBefore = tf.memory().numTensors;
        },
      }),
    );
    metrics.stock_train_tokens_per_s = stockTokensPerSecond;
    metrics[`speedup_vs_stock_${backend}`] = metrics.train_tokens_per_s / stockTokensPerSecond;

    const stepCalls = await countKernelCalls(() => train(model, data, full, 1, checkpoint));
    metrics.tensor_count_growth = tf.memory().numTensors - tensorsBefore;
    metrics.kernel_calls_per_step = stepCalls.gpuDispatches ?? stepCalls.tfjsKernels;
    metrics.tfjs_kernel_calls_per_step = stepCalls.tfjsKernels;
    const afterTraining = webGpuMemory();
    if (afterTraining) {
      metrics.pooled_gpu_bytes_after_training = afterTraining.pooledBytes;
      metrics.pooled_uniform_gpu_bytes_after_training = afterTraining.pooledUniformBytes;
      metrics.pooled_staging_gpu_bytes_after_training = afterTraining.pooledStagingBytes;
      metrics.in_use_gpu_bytes_after_training = afterTraining.inUseBytes;
    }

    const random = createRandom(2);
    const prompt = Array.from({ length: PROMPT_TOKENS }, () =>
      Math.floor(random() * config.vocabSize),
    );
    const decode = (maxNewTokens: number, sampling: SamplingOptions) =>
      generate(model, [prompt], { maxNewTokens, sampling, stopTokenIds: [], checkpoint });
    const decodeSpeed = (sampling: SamplingOptions) =>
      decodeTokensPerSecond(model, prompt, {
        newTokens: NEW_TOKENS,
        runs: DECODE_RUNS,
        sampling,
        checkpoint,
      });
    // Two lengths: their difference leaves out the prompt pass and the setup.
    const callsPerToken = async (sampling: SamplingOptions) => {
      const short = await countKernelCalls(() => decode(NEW_TOKENS, sampling));
      const long = await countKernelCalls(() => decode(2 * NEW_TOKENS, sampling));
      const perToken = (count: (calls: typeof short) => number) =>
        (count(long) - count(short)) / NEW_TOKENS;
      return {
        dispatches: perToken((c) => c.gpuDispatches ?? c.tfjsKernels),
        tfjsKernels: perToken((c) => c.tfjsKernels),
      };
    };
    setOwnKernels(false);
    metrics.stock_decode_tokens_per_s = await decodeSpeed(GREEDY);
    metrics.stock_kernel_calls_per_token = (await callsPerToken(GREEDY)).dispatches;
    metrics.stock_sampled_decode_tokens_per_s = await decodeSpeed(SAMPLED);
    metrics.stock_sampled_kernel_calls_per_token = (await callsPerToken(SAMPLED)).dispatches;
    setOwnKernels(true);
    metrics.decode_tokens_per_s = await decodeSpeed(GREEDY);
    metrics.decode_speedup_vs_stock =
      metrics.decode_tokens_per_s / metrics.stock_decode_tokens_per_s;
    const ownCalls = await callsPerToken(GREEDY);
    metrics.kernel_calls_per_token = ownCalls.dispatches;
    metrics.tfjs_kernel_calls_per_token = ownCalls.tfjsKernels;
    metrics.sampled_decode_tokens_per_s = await decodeSpeed(SAMPLED);
    metrics.sampled_decode_speedup_vs_stock =
      metrics.sampled_decode_tokens_per_s / metrics.stock_sampled_decode_tokens_per_s;
    metrics.sampled_kernel_calls_per_token = (await callsPerToken(SAMPLED)).dispatches;
  } finally {
    setOwnKernels(true);
    disposeModelWeights(model.weights);
  }
  return metrics;
}
