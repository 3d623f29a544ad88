/**
 * What `realGpuBench.ts` measures, once `navigator.gpu` exists: see that file. Every figure uses
 * our kernels; each timing follows an untimed run that compiles the shaders.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/engine/backend';
import type { ModelConfig } from '../../src/engine/model/config';
import {
  greedyDecodeSpeed,
  EVERY_PROJECTION_LORA,
  PROMPT_TOKENS,
} from '../../src/engine/model/float16Benchmark';
import {
  disposeModelWeights,
  storedCopy,
  weightBytes,
  type ModelWeights,
} from '../../src/engine/model/weights';
import { LoraAdapter } from '../../src/engine/train/lora';
import {
  randomModelWeights,
  randomSequences,
  SMOLLM2_135M_SHAPE,
} from '../../src/engine/train/randomModel';
import type { TrainingTarget } from '../../src/engine/train/sft';
import { trainingTokensPerSecond } from '../../src/engine/shapeBenchmark';
import { loadModelFolder } from '../modelFolder';

interface Sizes {
  newTokens: number;
  decodeRuns: number;
  batch: number;
  length: number;
  steps: number;
}

const FULL: Sizes = { newTokens: 64, decodeRuns: 3, batch: 8, length: 128, steps: 4 };
const QUICK: Sizes = { newTokens: 4, decodeRuns: 1, batch: 1, length: 16, steps: 1 };

/** Nothing cancels these runs. */
const noCheckpoint = async () => {};

/** Greedy decoding speed and the bytes a decoded token reads at least (weights, keys, values). */
async function decoding(config: ModelConfig, weights: ModelWeights, sizes: Sizes) {
  const speed = await greedyDecodeSpeed(
    config,
    weights,
    sizes.newTokens,
    sizes.decodeRuns,
    noCheckpoint,
  );
  const averageContext = PROMPT_TOKENS + sizes.newTokens / 2;
  const cacheBytes = 2 * config.numLayers * config.numKvHeads * config.headDim * averageContext * 4;
  return { tokensPerSecond: speed, bytesPerToken: weightBytes(weights) + cacheBytes };
}

function trainingSpeed(
  config: ModelConfig,
  weights: ModelWeights,
  target: TrainingTarget,
  sizes: Sizes,
): Promise<number> {
  const data = randomSequences(sizes.batch, sizes.length, config.vocabSize, 7);
  return trainingTokensPerSecond({ config, weights }, data, target, {
    steps: sizes.steps,
    checkpoint: noCheckpoint,
  });
}

async function loraSpeed(config: ModelConfig, weights: ModelWeights, sizes: Sizes) {
  const adapter = LoraAdapter.create(weights, EVERY_PROJECTION_LORA, 3);
  try {
    return await trainingSpeed(config, weights, { kind: 'lora', adapter }, sizes);
  } finally {
    adapter.dispose();
  }
}

export async function runRealGpuBenchmark(options: {
  modelFolder: string;
  bandwidthGbps: number;
  quick: boolean;
}) {
  const backend = await selectBackend('webgpu');
  if (backend.active !== 'webgpu') {
    throw new Error(`webgpu did not start: ${backend.fallbackReasons.join('; ')}`);
  }
  const sizes = options.quick ? QUICK : FULL;
  const metrics: Record<string, number> = {};
  const share = (name: string, run: { tokensPerSecond: number; bytesPerToken: number }) => {
    metrics[`${name}_decode_tokens_per_s`] = run.tokensPerSecond;
    metrics[`${name}_decode_bytes_per_token`] = run.bytesPerToken;
    if (Number.isFinite(options.bandwidthGbps)) {
      metrics[`${name}_decode_bandwidth_share`] =
        (run.tokensPerSecond * run.bytesPerToken) / (options.bandwidthGbps * 1e9);
    }
  };

  const model = await loadModelFolder(options.modelFolder);
  share('default', await decoding(model.config, model.weights, sizes));
  metrics.default_full_train_tokens_per_s = await trainingSpeed(
    model.config,
    model.weights,
    { kind: 'full' },
    sizes,
  );
  metrics.default_lora_train_tokens_per_s = await loraSpeed(model.config, model.weights, sizes);
  disposeModelWeights(model.weights);

  const config = SMOLLM2_135M_SHAPE;
  const float32 = randomModelWeights(config, 1);
  share('smollm_float32', await decoding(config, float32, sizes));
  metrics.smollm_lora_train_tokens_per_s = await loraSpeed(config, float32, sizes);
  const halves = await storedCopy(float32, 'float16');
  disposeModelWeights(float32);
  share('smollm_float16', await decoding(config, halves, sizes));
  metrics.smollm_float16_lora_train_tokens_per_s = await loraSpeed(config, halves, sizes);
  disposeModelWeights(halves);
  metrics.tensors_left = tf.memory().numTensors;
  return { adapter: backend.adapter, quick: options.quick, metrics };
}
