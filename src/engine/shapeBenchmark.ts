/**
 * The `shape` benchmark: one fixed model shape (a random Llama: vocabulary 512, context 128,
 * 4 layers, 4 heads, hidden 128, MLP 512) trained and decoded the way the app does it, to follow
 * our own kernels' effect:
 * - full fine-tuning steps (AdamW, every weight) on a batch of 8 × 128 tokens, with our kernels
 *   and then with tfjs's stock ones in the same run (`speedup_vs_stock_<backend>`);
 * - greedy decoding of one sequence with the KV cache;
 * - kernel calls per training step and per decoded token (see kernelCalls.ts), memory growth over
 *   repeated steps and, on webgpu, the buffer pool's size at the end (it never shrinks, so that
 *   is the run's peak).
 * Steps are few: on a software WebGPU (SwiftShader) one step of this shape takes seconds.
 */
import * as tf from '@tensorflow/tfjs';
import { setOwnKernels } from './backend';
import type { Checkpoint } from './jobs';
import { countKernelCalls } from './kernelCalls';
import type { ModelConfig } from './model/config';
import { generate } from './model/generate';
import { GREEDY } from './model/sampling';
import { disposeModelWeights } from './model/weights';
import { createRandom } from './random';
import type { TokenizedSequence } from './train/dataset';
import { randomModelWeights, SMALL_LLAMA_CONFIG } from './train/randomModel';
import { DEFAULT_SFT_OPTIONS, trainSft, type TrainableModel } from './train/sft';

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
const TIMED_STEPS = 2;
const PROMPT_TOKENS = 16;
/** Decoding runs this many tokens and, for the per-token kernel count, this many more. */
const NEW_TOKENS = 32;
const DECODE_RUNS = 3;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function trainingBatch(vocabSize: number): TokenizedSequence[] {
  const random = createRandom(7);
  return Array.from({ length: BATCH }, () => {
    const ids = Array.from({ length: SEQUENCE_LENGTH }, () => Math.floor(random() * vocabSize));
    return { ids, isTarget: ids.map((_, t) => t > 0) };
  });
}

/** `steps` optimizer steps, one per pass over the batch; resolves their wall time. */
async function train(
  model: TrainableModel,
  data: TokenizedSequence[],
  steps: number,
  checkpoint: Checkpoint,
): Promise<number> {
  const options = {
    ...DEFAULT_SFT_OPTIONS,
    batchSize: BATCH,
    epochs: steps,
    reportEvery: steps,
    learningRate: 1e-4,
  };
  const result = await trainSft(model, data, { kind: 'full' }, options, { checkpoint });
  return result.elapsedMs;
}

/** Tokens per second of training steps, after one untimed step that compiles shaders. */
async function trainingSpeed(
  model: TrainableModel,
  data: TokenizedSequence[],
  checkpoint: Checkpoint,
  afterWarmup?: () => void,
): Promise<number> {
  await train(model, data, 1, checkpoint);
  afterWarmup?.();
  const elapsedMs = await train(model, data, TIMED_STEPS, checkpoint);
  return (TIMED_STEPS * BATCH * SEQUENCE_LENGTH * 1000) / elapsedMs;
}

export async function runShapeBenchmark(checkpoint: Checkpoint): Promise<Record<string, number>> {
  const config = SHAPE_BENCHMARK_CONFIG;
  const model = { config, weights: randomModelWeights(config, 1) };
  const data = trainingBatch(config.vocabSize);
  const backend = tf.getBackend();
  const metrics: Record<string, number> = {};
  try {
    setOwnKernels(false);
    const stockTokensPerSecond = await trainingSpeed(model, data, checkpoint);
    setOwnKernels(true);
    // Tensors alive after the first step with our kernels against after three more.
    let tensorsBefore = 0;
    metrics.train_tokens_per_s = await trainingSpeed(model, data, checkpoint, () => {
      tensorsBefore = tf.memory().numTensors;
    });
    metrics.stock_train_tokens_per_s = stockTokensPerSecond;
    metrics[`speedup_vs_stock_${backend}`] = metrics.train_tokens_per_s / stockTokensPerSecond;

    const stepCalls = await countKernelCalls(() => train(model, data, 1, checkpoint));
    metrics.tensor_count_growth = tf.memory().numTensors - tensorsBefore;
    metrics.kernel_calls_per_step = stepCalls.gpuDispatches ?? stepCalls.tfjsKernels;
    metrics.tfjs_kernel_calls_per_step = stepCalls.tfjsKernels;

    const random = createRandom(2);
    const prompt = Array.from({ length: PROMPT_TOKENS }, () =>
      Math.floor(random() * config.vocabSize),
    );
    const decode = (maxNewTokens: number) =>
      generate(model, [prompt], { maxNewTokens, sampling: GREEDY, stopTokenIds: [], checkpoint });
    await decode(NEW_TOKENS); // compiles shaders and fills the buffer pool
    const speeds: number[] = [];
    for (let i = 0; i < DECODE_RUNS; i++) {
      speeds.push((await decode(NEW_TOKENS)).stats.decodeTokensPerSecond);
    }
    metrics.decode_tokens_per_s = median(speeds);
    // Two lengths: their difference leaves out the prompt pass and the setup.
    const short = await countKernelCalls(() => decode(NEW_TOKENS));
    const long = await countKernelCalls(() => decode(2 * NEW_TOKENS));
    const perToken = (count: (calls: typeof short) => number) =>
      (count(long) - count(short)) / NEW_TOKENS;
    metrics.kernel_calls_per_token = perToken((c) => c.gpuDispatches ?? c.tfjsKernels);
    metrics.tfjs_kernel_calls_per_token = perToken((c) => c.tfjsKernels);

    // WebGPU's buffer pool never shrinks, so what it holds now is the run's peak.
    const gpuBytes = (tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number })
      .numBytesAllocatedInGPU;
    if (gpuBytes !== undefined) metrics.peak_gpu_bytes = gpuBytes;
  } finally {
    setOwnKernels(true);
    disposeModelWeights(model.weights);
  }
  return metrics;
}
