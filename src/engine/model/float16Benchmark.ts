/**
 * The `float16` benchmark: float32 against float16 weights (float16.ts), one storage at a time so
 * that memory readings hold one model's weights only.
 * - The shape benchmark's model (shapeBenchmark.ts): greedy decoding with the KV cache and LoRA
 *   training steps (rank 8 on every projection, as in SEAL's inner loop), with the most device
 *   memory in use while training on webgpu (mostly activations at this size).
 * - A random model of SmolLM2-135M's shape, where the weights are most of the memory: the bytes
 *   its weights take (on webgpu, the device buffers in use once it has decoded) and its greedy
 *   decoding speed.
 * On webgpu our products read the halves packed; on wasm and cpu each product widens its weight
 * first, so there float16 buys memory at the cost of speed.
 */
import type { Checkpoint } from '../jobs';
import {
  decodeTokensPerSecond,
  SHAPE_BENCHMARK_CONFIG,
  trainingTokensPerSecond,
} from '../shapeBenchmark';
import { LoraAdapter } from '../train/lora';
import { LORA_TARGETS } from '../train/targets';
import { randomModelWeights, randomSequences, SMOLLM2_135M_SHAPE } from '../train/randomModel';
import { trackWebGpuPeak, webGpuMemory } from '../webgpuMemory';
import type { ModelConfig } from './config';
import type { WeightStorage } from './float16';
import { GREEDY } from './sampling';
import { disposeModelWeights, storedCopy, weightBytes, type ModelWeights } from './weights';

const BATCH = 8;
const SEQUENCE_LENGTH = 128;
const TRAINING_STEPS = 4;
export const PROMPT_TOKENS = 16;
/** Rank 8 on every projection, as SEAL's inner loop trains. */
export const EVERY_PROJECTION_LORA = { targets: [...LORA_TARGETS], rank: 8, alpha: 16, dropout: 0 };

/** A random model (seed 1) stored as `storage`; its float32 original is freed once copied. */
async function randomModel(config: ModelConfig, storage: WeightStorage): Promise<ModelWeights> {
  const original = randomModelWeights(config, 1);
  if (storage === 'float32') return original;
  try {
    return await storedCopy(original, storage);
  } finally {
    disposeModelWeights(original);
  }
}

/** Median greedy decoding speed of a seeded prompt of PROMPT_TOKENS random tokens. */
export function greedyDecodeSpeed(
  config: ModelConfig,
  weights: ModelWeights,
  newTokens: number,
  runs: number,
  checkpoint: Checkpoint,
): Promise<number> {
  const prompt = randomSequences(1, PROMPT_TOKENS, config.vocabSize, 2)[0]!.ids;
  return decodeTokensPerSecond({ config, weights }, prompt, {
    newTokens,
    runs,
    sampling: GREEDY,
    checkpoint,
  });
}

async function shapeModel(storage: WeightStorage, checkpoint: Checkpoint) {
  const config = SHAPE_BENCHMARK_CONFIG;
  const weights = await randomModel(config, storage);
  const metrics: Record<string, number> = {
    [`decode_tokens_per_s_${storage}`]: await greedyDecodeSpeed(config, weights, 32, 3, checkpoint),
  };
  const data = randomSequences(BATCH, SEQUENCE_LENGTH, config.vocabSize, 7);
  const adapter = LoraAdapter.create(weights, EVERY_PROJECTION_LORA, 3);
  // Set once the untimed step is done, so the peak covers the timed steps only.
  let peak: ReturnType<typeof trackWebGpuPeak> | undefined;
  try {
    metrics[`lora_train_tokens_per_s_${storage}`] = await trainingTokensPerSecond(
      { config, weights },
      data,
      { kind: 'lora', adapter },
      { steps: TRAINING_STEPS, checkpoint, afterWarmup: () => (peak = trackWebGpuPeak()) },
    );
    const bytes = peak?.stop();
    if (bytes) metrics[`lora_peak_gpu_bytes_in_use_${storage}`] = bytes.inUseBytes;
  } finally {
    adapter.dispose();
    disposeModelWeights(weights);
  }
  return metrics;
}

async function smolModel(storage: WeightStorage, checkpoint: Checkpoint) {
  const config = SMOLLM2_135M_SHAPE;
  const weights = await randomModel(config, storage);
  try {
    const decode = await greedyDecodeSpeed(config, weights, 8, 2, checkpoint);
    const memory = webGpuMemory();
    return {
      [`smollm_weight_bytes_${storage}`]: weightBytes(weights),
      ...(memory ? { [`smollm_gpu_bytes_in_use_${storage}`]: memory.inUseBytes } : {}),
      [`smollm_decode_tokens_per_s_${storage}`]: decode,
    };
  } finally {
    disposeModelWeights(weights);
  }
}

export async function runFloat16Benchmark(checkpoint: Checkpoint): Promise<Record<string, number>> {
  const metrics: Record<string, number> = {};
  // Float32 is measured first: warm the engine up so that it is not timed cold (wasm decoding of
  // float32 ran at 267 tokens/s measured first in Chromium, against 625 in the shape benchmark).
  const warmup = await randomModel(SHAPE_BENCHMARK_CONFIG, 'float32');
  await greedyDecodeSpeed(SHAPE_BENCHMARK_CONFIG, warmup, 32, 3, checkpoint);
  disposeModelWeights(warmup);
  for (const storage of ['float32', 'float16'] as const) {
    Object.assign(metrics, await shapeModel(storage, checkpoint));
    Object.assign(metrics, await smolModel(storage, checkpoint));
  }
  const ratio = (name: string) => {
    const [float32, float16] = [metrics[`${name}_float32`], metrics[`${name}_float16`]];
    if (float32 !== undefined && float16 !== undefined) {
      metrics[`${name}_ratio`] = float16 / float32;
    }
  };
  for (const name of [
    'decode_tokens_per_s',
    'lora_train_tokens_per_s',
    'lora_peak_gpu_bytes_in_use',
    'smollm_weight_bytes',
    'smollm_gpu_bytes_in_use',
    'smollm_decode_tokens_per_s',
  ]) {
    ratio(name);
  }
  return metrics;
}
