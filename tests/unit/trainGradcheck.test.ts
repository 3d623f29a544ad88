import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import type { ModelConfig } from '../../src/engine/model/config';
import { LoraAdapter, setBaseTrainable } from '../../src/engine/train/lora';
import { randomModelWeights, SMALL_LLAMA_CONFIG } from '../../src/engine/train/randomModel';
import { makeBatch, weightedTokenLoss, type TrainableModel } from '../../src/engine/train/sft';

/**
 * Gradients against central finite differences, (L(θ+ε) − L(θ−ε)) / 2ε, in float32. With
 * ε = 1e-2 the truncation error is O(ε²·L''') and float32 rounding of a loss near 5 is ~1e-6,
 * i.e. ~1e-4 in the quotient; the stated tolerance is |analytic − numeric| ≤ 2e-3 + 2 %.
 */
const EPSILON = 1e-2;
const ABSOLUTE_TOLERANCE = 2e-3;
const RELATIVE_TOLERANCE = 0.02;

/** Tied embeddings and q/k/v biases: the embedding gets gradient through gather and lm_head. */
const config: ModelConfig = {
  ...SMALL_LLAMA_CONFIG,
  architecture: 'Qwen2ForCausalLM',
  vocabSize: 48,
  hiddenSize: 16,
  intermediateSize: 24,
  numHeads: 2,
  numKvHeads: 1,
  headDim: 8,
  tieWordEmbeddings: true,
  attentionBias: true,
};

const sequences = [
  { ids: [3, 17, 5, 40, 22, 9], isTarget: [false, false, false, true, true, true] },
  { ids: [1, 2, 30, 31], isTarget: [false, true, true, true] },
];

let model: TrainableModel;

beforeAll(async () => {
  await selectBackend('wasm');
  model = { config, weights: randomModelWeights(config, 21, 0.3) };
  // Biases start at zero; give them values so their gradients are not a special case.
  for (const [name, weight] of model.weights) {
    if (name.endsWith('.bias')) weight.assign(tf.randomNormal(weight.shape, 0, 0.3, 'float32', 2));
  }
});

async function loss(adapter?: LoraAdapter): Promise<number> {
  const batch = makeBatch(sequences, 6, config.vocabSize);
  const value = weightedTokenLoss(model, batch, adapter);
  const [result] = await value.data();
  tf.dispose([value, batch.inputIds, batch.attentionMask, batch.labelIndices, batch.lossWeights]);
  return result!;
}

async function analyticGradients(
  params: tf.Variable[],
  adapter?: LoraAdapter,
): Promise<Map<tf.Variable, Float32Array>> {
  const batch = makeBatch(sequences, 6, config.vocabSize);
  const { value, grads } = tf.variableGrads(() => weightedTokenLoss(model, batch, adapter), params);
  const result = new Map<tf.Variable, Float32Array>();
  for (const param of params) result.set(param, (await grads[param.name]!.data()) as Float32Array);
  tf.dispose([value, ...Object.values(grads)]);
  tf.dispose([batch.inputIds, batch.attentionMask, batch.labelIndices, batch.lossWeights]);
  return result;
}

async function nudge(param: tf.Variable, index: number, delta: number): Promise<void> {
  const values = (await param.data()) as Float32Array;
  values[index] = values[index]! + delta;
  const nudged = tf.tensor(values, param.shape);
  param.assign(nudged);
  nudged.dispose();
}

/** Checks the elements of largest gradient plus a few seeded others, for each parameter. */
async function checkAgainstFiniteDifferences(params: tf.Variable[], adapter?: LoraAdapter) {
  const analytic = await analyticGradients(params, adapter);
  let checked = 0;
  for (const param of params) {
    const gradient = analytic.get(param)!;
    const byMagnitude = [...gradient.keys()].sort(
      (a, b) => Math.abs(gradient[b]!) - Math.abs(gradient[a]!),
    );
    const indices = [...byMagnitude.slice(0, 3), (param.size * 7) >> 3, param.size >> 1];
    expect(Math.abs(gradient[byMagnitude[0]!]!)).toBeGreaterThan(1e-3);
    for (const index of indices) {
      await nudge(param, index, EPSILON);
      const up = await loss(adapter);
      await nudge(param, index, -2 * EPSILON);
      const down = await loss(adapter);
      await nudge(param, index, EPSILON);
      const numeric = (up - down) / (2 * EPSILON);
      const bound = ABSOLUTE_TOLERANCE + RELATIVE_TOLERANCE * Math.abs(numeric);
      expect(
        Math.abs(gradient[index]! - numeric),
        `${param.name}[${index}]: analytic ${gradient[index]}, numeric ${numeric}`,
      ).toBeLessThanOrEqual(bound);
      checked++;
    }
  }
  return checked;
}

describe('gradients match central finite differences (float32, wasm)', () => {
  it('for LoRA A and B on every kind of linear', async () => {
    const adapter = LoraAdapter.create(
      model.weights,
      { targets: ['q_proj', 'v_proj', 'o_proj', 'down_proj'], rank: 2, alpha: 4, dropout: 0 },
      1,
    );
    for (const { b } of adapter.modules.values()) {
      b.assign(tf.randomNormal(b.shape, 0, 0.3, 'float32', 3));
    }
    const params = adapter.variables().filter((_, i) => i % 3 === 0 || i === 1);
    expect(await checkAgainstFiniteDifferences(params, adapter)).toBeGreaterThanOrEqual(20);
    adapter.dispose();
  });

  it('for the full model: tied embedding, norms, biases, projections', async () => {
    const params = setBaseTrainable(model.weights, true).filter((p) =>
      [
        'model.embed_tokens.weight',
        'model.layers.0.input_layernorm.weight',
        'model.layers.0.self_attn.k_proj.bias',
        'model.layers.1.self_attn.q_proj.weight',
        'model.layers.1.mlp.up_proj.weight',
        'model.norm.weight',
      ].some((name) => model.weights.get(name) === p),
    );
    expect(params).toHaveLength(6);
    try {
      expect(await checkAgainstFiniteDifferences(params)).toBe(30);
    } finally {
      setBaseTrainable(model.weights, false);
    }
  });
});
