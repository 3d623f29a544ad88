/**
 * A model with seeded random weights for any config, under Hugging Face's names and layouts:
 * benchmarks and tests train on it without any files.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../model/config';
import { parameterShapes, type ModelWeights } from '../model/weights';
import { createRandom, streamSeed } from '../random';
import type { TokenizedSequence } from './dataset';

/** Llama-shaped, small enough for a training step to take milliseconds on wasm. */
export const SMALL_LLAMA_CONFIG: ModelConfig = {
  architecture: 'LlamaForCausalLM',
  vocabSize: 256,
  hiddenSize: 64,
  intermediateSize: 128,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 16,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  maxPositionEmbeddings: 256,
  tieWordEmbeddings: false,
  attentionBias: false,
  mlpBias: false,
  bosTokenId: null,
  eosTokenIds: [],
};

/** About 5 M parameters: a real workload on wasm, still quick on a software WebGPU. */
export const BENCHMARK_LLAMA_CONFIG: ModelConfig = {
  ...SMALL_LLAMA_CONFIG,
  vocabSize: 2048,
  hiddenSize: 256,
  intermediateSize: 688,
  numLayers: 4,
  numHeads: 8,
  numKvHeads: 4,
  headDim: 32,
  maxPositionEmbeddings: 512,
};

/** The shape of SmolLM2-135M (HuggingFaceTB/SmolLM2-135M's config.json): a real small model. */
export const SMOLLM2_135M_SHAPE: ModelConfig = {
  ...SMALL_LLAMA_CONFIG,
  vocabSize: 49152,
  hiddenSize: 576,
  intermediateSize: 1536,
  numLayers: 30,
  numHeads: 9,
  numKvHeads: 3,
  headDim: 64,
  ropeTheta: 100000,
  maxPositionEmbeddings: 8192,
  tieWordEmbeddings: true,
};

/**
 * Norm gains start at 1, biases at 0, everything else ~ N(0, std²); transformers uses 0.02, whose
 * near-uniform output a LoRA cannot sharpen much, so tests that must learn use a larger `std`.
 */
export function randomModelWeights(config: ModelConfig, seed: number, std = 0.02): ModelWeights {
  const weights: ModelWeights = new Map();
  parameterShapes(config).forEach(([name, shape], index) => {
    const value = tf.tidy(() => {
      if (name.endsWith('norm.weight')) return tf.variable(tf.ones(shape), false);
      if (name.endsWith('.bias')) return tf.variable(tf.zeros(shape), false);
      const init = tf.randomNormal(shape, 0, std, 'float32', streamSeed(seed, index));
      return tf.variable(init, false);
    });
    weights.set(name, value);
  });
  return weights;
}

/** `count` sequences of `length` seeded random token ids, every token after the first a target. */
export function randomSequences(
  count: number,
  length: number,
  vocabSize: number,
  seed: number,
): TokenizedSequence[] {
  const random = createRandom(seed);
  return Array.from({ length: count }, () => {
    const ids = Array.from({ length }, () => Math.floor(random() * vocabSize));
    return { ids, isTarget: ids.map((_, t) => t > 0) };
  });
}
