import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import type { ModelWeights } from '../../src/engine/model/weights';
import { LoraAdapter, setBaseTrainable } from '../../src/engine/train/lora';

beforeAll(async () => {
  await selectBackend('wasm');
});

/** Two layers of q/v/down linears with the HF names and [out, in] layout, and nothing else. */
function linearWeights(seed: number): ModelWeights {
  const weights: ModelWeights = new Map();
  let next = seed;
  const add = (name: string, shape: [number, number]) =>
    weights.set(
      name,
      tf.tidy(() => tf.variable(tf.randomNormal(shape, 0, 0.5, 'float32', next++), false)),
    );
  for (const layer of [0, 1]) {
    add(`model.layers.${layer}.self_attn.q_proj.weight`, [6, 4]);
    add(`model.layers.${layer}.self_attn.v_proj.weight`, [2, 4]);
    add(`model.layers.${layer}.mlp.down_proj.weight`, [4, 6]);
  }
  return weights;
}

/** Every linear of `weights` applied to x (+ the adapter), summed: enough to exercise the hook. */
function applyLinears(weights: ModelWeights, x: tf.Tensor, adapter?: LoraAdapter): tf.Tensor {
  return tf.tidy(() => {
    const outputs: tf.Tensor[] = [];
    for (const [name, w] of weights) {
      const path = name.replace(/\.weight$/, '');
      const input = w.shape[1] === 4 ? x : tf.concat([x, x.slice([0, 0, 0], [-1, -1, 2])], 2);
      const base = tf.matMul(input.reshape([-1, w.shape[1]!]), w, false, true);
      const shaped = base.reshape([...input.shape.slice(0, 2), w.shape[0]!]);
      outputs.push((adapter ? adapter.adapt(path, input, shaped) : shaped).sum());
    }
    return tf.stack(outputs);
  });
}

async function values(t: tf.Tensor): Promise<number[]> {
  const data = [...(await t.data())];
  t.dispose();
  return data;
}

function disposeWeights(weights: ModelWeights) {
  tf.dispose([...weights.values()]);
}

describe('LoRA adapters', () => {
  it('adds scale·x·Aᵀ·Bᵀ to the targeted linears only', async () => {
    const weights = linearWeights(1);
    const adapter = LoraAdapter.create(
      weights,
      { targets: ['q_proj'], rank: 2, alpha: 6, dropout: 0 },
      7,
    );
    expect([...adapter.modules.keys()]).toEqual([
      'model.layers.0.self_attn.q_proj',
      'model.layers.1.self_attn.q_proj',
    ]);
    expect(adapter.scale).toBe(3);
    const module = adapter.modules.get('model.layers.1.self_attn.q_proj')!;
    expect(module.a.shape).toEqual([2, 4]);
    expect(module.b.shape).toEqual([6, 2]);
    // B starts at zero: a fresh adapter changes nothing.
    const x = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 3);
    const input = x.reshape([6, 4]);
    expect(await values(adapter.adapt(module.path, x, tf.zeros([2, 3, 6])))).toEqual(
      new Array(36).fill(0),
    );
    module.b.assign(tf.randomNormal([6, 2], 0, 1, 'float32', 4));
    const expected = tf.tidy(() =>
      input.matMul(module.b.matMul(module.a).mul(3), false, true).reshape([2, 3, 6]),
    );
    const got = adapter.adapt(module.path, x, tf.zeros([2, 3, 6]));
    const [e, g] = [await values(expected), await values(got)];
    e.forEach((value, i) => expect(g[i]).toBeCloseTo(value, 4));
    const untouched = tf.ones([2, 3, 2]);
    expect(adapter.adapt('model.layers.0.self_attn.v_proj', x, untouched)).toBe(untouched);
    tf.dispose([x, input, untouched]);
    adapter.dispose();
    disposeWeights(weights);
  });

  it('initialises A like PEFT (U(±1/√in)), reproducibly from its seed', async () => {
    const weights = linearWeights(1);
    const settings = { targets: ['q_proj', 'down_proj'], rank: 4, alpha: 8, dropout: 0 };
    const first = LoraAdapter.create(weights, settings, 5);
    const second = LoraAdapter.create(weights, settings, 5);
    const other = LoraAdapter.create(weights, settings, 6);
    const a = await first.modules.get('model.layers.0.mlp.down_proj')!.a.data();
    expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(6));
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(0.5 / Math.sqrt(6));
    for (const [path, module] of first.modules) {
      expect(await module.a.data()).toEqual(await second.modules.get(path)!.a.data());
      expect(await module.a.data()).not.toEqual(await other.modules.get(path)!.a.data());
    }
    // Different modules get different draws.
    const layers = [...first.modules.values()];
    expect(await layers[0]!.a.data()).not.toEqual(await layers[1]!.a.data());
    [first, second, other].forEach((adapter) => adapter.dispose());
    disposeWeights(weights);
  });

  it('resets, clones and switches without touching the base weights or leaking', async () => {
    const weights = linearWeights(1);
    const x = tf.randomNormal([1, 2, 4], 0, 1, 'float32', 9);
    const baseOutput = await values(applyLinears(weights, x));
    const settings = { targets: ['q_proj', 'v_proj', 'down_proj'], rank: 2, alpha: 2, dropout: 0 };
    const adapter = LoraAdapter.create(weights, settings, 1);
    for (const { b } of adapter.modules.values()) {
      b.assign(tf.randomNormal(b.shape, 0, 1, 'float32', 2));
    }
    const trainedOutput = await values(applyLinears(weights, x, adapter));
    expect(trainedOutput).not.toEqual(baseOutput);

    const copy = adapter.clone();
    expect(await values(applyLinears(weights, x, copy))).toEqual(trainedOutput);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) adapter.reset(i);
    expect(tf.memory().numTensors).toBe(before);
    // Reset gives B = 0 again, and the clone kept its own values: switching is just choosing one.
    expect(await values(applyLinears(weights, x, adapter))).toEqual(baseOutput);
    expect(await values(applyLinears(weights, x, copy))).toEqual(trainedOutput);
    expect(await values(applyLinears(weights, x))).toEqual(baseOutput);
    adapter.dispose();
    copy.dispose();
    expect(tf.memory().numTensors).toBe(before - 2 * adapter.modules.size * 2);
    x.dispose();
    disposeWeights(weights);
  });

  it('merges into the base weights: merged model == base + adapter', async () => {
    const weights = linearWeights(1);
    const x = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 9);
    const adapter = LoraAdapter.create(
      weights,
      { targets: ['q_proj', 'down_proj'], rank: 3, alpha: 5, dropout: 0 },
      1,
    );
    for (const { b } of adapter.modules.values()) {
      b.assign(tf.randomNormal(b.shape, 0, 1, 'float32', 2));
    }
    const withAdapter = await values(applyLinears(weights, x, adapter));
    const before = tf.memory().numTensors;
    adapter.mergeInto(weights);
    expect(tf.memory().numTensors).toBe(before);
    const merged = await values(applyLinears(weights, x));
    withAdapter.forEach((value, i) => expect(merged[i]).toBeCloseTo(value, 3));
    adapter.dispose();
    x.dispose();
    disposeWeights(weights);
  });

  it('applies dropout only while a dropout seed is set, reproducibly', async () => {
    const weights = linearWeights(1);
    const adapter = LoraAdapter.create(
      weights,
      { targets: ['q_proj'], rank: 2, alpha: 2, dropout: 0.5 },
      1,
    );
    const module = [...adapter.modules.values()][0]!;
    module.b.assign(tf.ones(module.b.shape));
    const x = tf.ones([1, 8, 4]);
    const zeros = tf.zeros([1, 8, 6]);
    const run = () => values(adapter.adapt(module.path, x, zeros));
    const plain = await run();
    adapter.setDropoutSeed(3);
    const dropped = await run();
    adapter.setDropoutSeed(3);
    expect(await run()).toEqual(dropped);
    adapter.setDropoutSeed(4);
    expect(await run()).not.toEqual(dropped);
    expect(dropped).not.toEqual(plain);
    adapter.setDropoutSeed(null);
    expect(await run()).toEqual(plain);
    tf.dispose([x, zeros]);
    adapter.dispose();
    disposeWeights(weights);
  });

  it('rejects targets the model lacks and bad settings, naming them', () => {
    const weights = linearWeights(1);
    const settings = { targets: ['q_proj'], rank: 2, alpha: 2, dropout: 0 };
    expect(() => LoraAdapter.create(weights, { ...settings, targets: ['gate_proj'] }, 1)).toThrow(
      "LoRA target 'gate_proj' is not a linear of this model; it has: q_proj, v_proj, down_proj",
    );
    expect(() => LoraAdapter.create(weights, { ...settings, rank: 0 }, 1)).toThrow(
      'LoRA rank must be a positive integer, got 0',
    );
    expect(() => LoraAdapter.create(weights, { ...settings, dropout: 1 }, 1)).toThrow(
      'LoRA dropout must be in [0, 1), got 1',
    );
    expect(() => LoraAdapter.create(weights, { ...settings, targets: [] }, 1)).toThrow(
      'at least one target',
    );
    disposeWeights(weights);
  });

  it('flips the base weights to trainable for full fine-tuning and back', () => {
    const weights = linearWeights(1);
    expect([...weights.values()].every((v) => !v.trainable)).toBe(true);
    expect(setBaseTrainable(weights, true).every((v) => v.trainable)).toBe(true);
    expect(setBaseTrainable(weights, false).some((v) => v.trainable)).toBe(false);
    disposeWeights(weights);
  });
});
