import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import { KvCache } from '../../src/engine/model/kvCache';
import { forward, forwardCached, type LinearAdapter } from '../../src/engine/model/llama';
import { inverseFrequencies } from '../../src/engine/model/rope';
import { disposeModelWeights } from '../../src/engine/model/weights';
import { loadFixtureModel, maxAbsDifference, MODEL_FIXTURES } from './llamaFixtures';

/**
 * Our float32 logits against transformers' float32 logits (both from the same stored weights,
 * widened exactly from F16/BF16). Absolute tolerance 1e-4; logits here reach |33|, and the
 * differences seen are ~1e-5 or below: summation order, not a formula, separates the two.
 */
const GOLDEN_TOLERANCE = 1e-4;
/** Cached decoding against a full forward pass, both ours. */
const CACHE_TOLERANCE = 1e-4;

beforeAll(async () => {
  await selectBackend('wasm');
});

describe('forward pass against transformers goldens (wasm)', () => {
  for (const folder of MODEL_FIXTURES) {
    it(`${folder}: logits, padded logits and cached decoding match`, async () => {
      const model = await loadFixtureModel(folder);
      const { config, weights, goldens } = model;
      const before = tf.memory().numTensors;
      const [batch, length] = [goldens.input_ids.length, goldens.input_ids[0]!.length];
      const vocab = config.vocabSize;

      const ids = tf.tensor2d(goldens.input_ids, undefined, 'int32');
      const logits = forward(config, weights, ids);
      expect(logits.shape).toEqual([batch, length, vocab]);
      expect(maxAbsDifference(await logits.data(), goldens.logits)).toBeLessThan(GOLDEN_TOLERANCE);

      // Left padding with a mask; transformers' plain forward numbers positions 0…T-1 anyway.
      const paddedIds = tf.tensor2d(goldens.padded_input_ids, undefined, 'int32');
      const mask = tf.tensor2d(goldens.padded_attention_mask, undefined, 'int32');
      const padded = forward(config, weights, paddedIds, { attentionMask: mask });
      const real = (index: number) =>
        goldens.padded_attention_mask.flat()[Math.floor(index / vocab)] === 1;
      expect(maxAbsDifference(await padded.data(), goldens.paddedLogits, real)).toBeLessThan(
        GOLDEN_TOLERANCE,
      );

      // One token at a time through the KV cache gives each position's logits again.
      const cache = new KvCache(config, batch, 16);
      const expected = await logits.data();
      for (let t = 0; t < length; t++) {
        const step = tf.tidy(() =>
          forwardCached(config, weights, ids.slice([0, t], [batch, 1]), cache),
        );
        const values = await step.data();
        const fromFull = Array.from({ length: batch * vocab }, (_, i) => {
          const [row, v] = [Math.floor(i / vocab), i % vocab];
          return expected[(row * length + t) * vocab + v]!;
        });
        expect(maxAbsDifference(values, fromFull)).toBeLessThan(CACHE_TOLERANCE);
        step.dispose();
      }
      expect(cache.length).toBe(length);
      cache.dispose();
      tf.dispose([ids, logits, paddedIds, mask, padded]);
      expect(tf.memory().numTensors).toBe(before);
      disposeModelWeights(weights);
    });
  }
});

describe('KV cache', () => {
  it('a left-padded batch decodes each sequence as if it were alone', async () => {
    const { config, weights } = await loadFixtureModel('tiny-qwen2');
    const prompts = [
      [5, 17, 99, 3, 250, 42],
      [77, 8],
      [300, 12, 13, 14],
    ];
    const continuation = [
      [11, 12, 13],
      [21, 22, 23],
      [31, 32, 33],
    ];
    // Each sequence alone: a plain forward pass over prompt + continuation.
    const alone = await Promise.all(
      prompts.map(async (prompt, row) => {
        const all = [...prompt, ...continuation[row]!];
        const logits = forward(config, weights, tf.tensor2d([all], undefined, 'int32'));
        const values = await logits.data();
        logits.dispose();
        return values;
      }),
    );
    const vocab = config.vocabSize;
    const lastOf = (row: number, position: number) =>
      alone[row]!.slice(position * vocab, (position + 1) * vocab);

    // Together: left-padded prefill, then the continuation one token per step.
    const width = 8;
    const ids = prompts.map((p) => [...Array<number>(width - p.length).fill(0), ...p]);
    const mask = prompts.map((p) => [
      ...Array<number>(width - p.length).fill(0),
      ...p.map(() => 1),
    ]);
    const cache = new KvCache(config, prompts.length, 64);
    const prefill = forwardCached(config, weights, tf.tensor2d(ids, undefined, 'int32'), cache, {
      attentionMask: tf.tensor2d(mask, undefined, 'int32'),
    });
    const prefillValues = await prefill.data();
    prompts.forEach((prompt, row) => {
      const ours = prefillValues.slice(row * vocab, (row + 1) * vocab);
      expect(maxAbsDifference(ours, lastOf(row, prompt.length - 1))).toBeLessThan(CACHE_TOLERANCE);
    });
    for (let step = 0; step < 3; step++) {
      const tokens = continuation.map((c) => [c[step]!]);
      const logits = forwardCached(config, weights, tf.tensor2d(tokens, undefined, 'int32'), cache);
      const values = await logits.data();
      prompts.forEach((prompt, row) => {
        const ours = values.slice(row * vocab, (row + 1) * vocab);
        const expected = lastOf(row, prompt.length + step);
        expect(maxAbsDifference(ours, expected)).toBeLessThan(CACHE_TOLERANCE);
      });
    }
    expect(() =>
      forwardCached(config, weights, tf.zeros([3, 60], 'int32') as tf.Tensor2D, cache),
    ).toThrow('the KV cache is full: 11 + 60 tokens exceed its capacity of 64');
    cache.dispose();
    disposeModelWeights(weights);
  });

  it('keeps the same tensors and sizes step after step', async () => {
    const { config, weights } = await loadFixtureModel('tiny-llama');
    const cache = new KvCache(config, 2, 32);
    const step = () => {
      const logits = tf.tidy(() =>
        forwardCached(config, weights, tf.tensor2d([[1], [2]], undefined, 'int32'), cache),
      );
      logits.dispose();
      return tf.memory();
    };
    const first = step();
    for (let i = 0; i < 5; i++) {
      const now = step();
      expect(now.numTensors).toBe(first.numTensors);
      expect(now.numBytes).toBe(first.numBytes);
    }
    cache.dispose();
    disposeModelWeights(weights);
  });
});

describe('forward pass plumbing', () => {
  it('sends every linear through the adapter, lm_head included', async () => {
    const { config, weights } = await loadFixtureModel('tiny-llama3');
    const paths: string[] = [];
    const shift: LinearAdapter = {
      adapt(path, input, output) {
        paths.push(path);
        expect(input.shape.slice(0, 2)).toEqual(output.shape.slice(0, 2));
        return path === 'lm_head' ? output.add(1) : output;
      },
    };
    const ids = tf.tensor2d([[1, 2, 3]], undefined, 'int32');
    const base = await forward(config, weights, ids).data();
    const shifted = await forward(config, weights, ids, { adapter: shift }).data();
    expect(
      maxAbsDifference(
        shifted,
        base.map((x) => x + 1),
      ),
    ).toBeLessThan(1e-5);
    const linears = [
      ...['q_proj', 'k_proj', 'v_proj', 'o_proj'].map((name) => `self_attn.${name}`),
      ...['gate_proj', 'up_proj', 'down_proj'].map((name) => `mlp.${name}`),
    ];
    expect(paths).toEqual([
      ...[0, 1].flatMap((layer) => linears.map((name) => `model.layers.${layer}.${name}`)),
      'lm_head',
    ]);
    disposeModelWeights(weights);
  });

  it('is differentiable with respect to the weights', async () => {
    const { config, weights } = await loadFixtureModel('tiny-qwen2');
    const ids = tf.tensor2d([[4, 8, 15, 16]], undefined, 'int32');
    const target = weights.get('model.layers.1.self_attn.q_proj.bias')!;
    const grads = tf.grad((bias: tf.Tensor) => {
      const swapped = new Map(weights);
      swapped.set('model.layers.1.self_attn.q_proj.bias', bias as tf.Variable);
      return forward(config, swapped, ids).square().mean();
    })(target);
    const values = await grads.data();
    expect(values.every(Number.isFinite)).toBe(true);
    expect(Math.max(...values.map(Math.abs))).toBeGreaterThan(0);
    disposeModelWeights(weights);
  });

  it('names a missing weight', async () => {
    const { config, weights } = await loadFixtureModel('tiny-llama');
    const partial = new Map(weights);
    partial.delete('model.layers.1.mlp.up_proj.weight');
    expect(() => forward(config, partial, tf.tensor2d([[1]], undefined, 'int32'))).toThrow(
      "the model's weights have no 'model.layers.1.mlp.up_proj.weight'",
    );
    disposeModelWeights(weights);
  });

  it("applies Llama 3's RoPE frequency bands", async () => {
    const { config, weights } = await loadFixtureModel('tiny-llama3');
    const plain = inverseFrequencies({ ...config, ropeScaling: null });
    const scaled = inverseFrequencies(config);
    const { factor } = config.ropeScaling!;
    // High frequencies are kept, the lowest are divided by the factor, and some are blended.
    expect(scaled[0]).toBe(plain[0]);
    expect(scaled[scaled.length - 1]).toBeCloseTo(plain[plain.length - 1]! / factor, 12);
    const blended = Array.from(scaled).filter(
      (f, i) => f < plain[i]! && f > plain[i]! / factor + 1e-12,
    );
    expect(blended.length).toBeGreaterThan(0);
    disposeModelWeights(weights);
  });
});
