import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import { isCancelledError, JobRegistry } from '../../src/engine/jobs';
import { forward } from '../../src/engine/model/llama';
import type { TokenizedSequence } from '../../src/engine/train/dataset';
import { LoraAdapter } from '../../src/engine/train/lora';
import { randomModelWeights, SMALL_LLAMA_CONFIG } from '../../src/engine/train/randomModel';
import {
  DEFAULT_SFT_OPTIONS,
  evaluateLoss,
  planSteps,
  trainSft,
  type SftOptions,
  type TrainableModel,
} from '../../src/engine/train/sft';

const config = SMALL_LLAMA_CONFIG;
const ALL_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

let model: TrainableModel;

beforeAll(async () => {
  await selectBackend('wasm');
  // A larger init than transformers' 0.02 gives logits a LoRA can sharpen (see randomModel.ts).
  model = { config, weights: randomModelWeights(config, 1, 0.15) };
});

const adapters: LoraAdapter[] = [];
afterEach(() => {
  adapters.splice(0).forEach((adapter) => adapter.dispose());
});

function newAdapter(targets = ALL_TARGETS, seed = 3): LoraAdapter {
  const adapter = LoraAdapter.create(
    model.weights,
    { targets, rank: 8, alpha: 16, dropout: 0 },
    seed,
  );
  adapters.push(adapter);
  return adapter;
}

function textSequence(ids: number[]): TokenizedSequence {
  return { ids, isTarget: ids.map((_, t) => t > 0) };
}

function promptCompletion(prompt: number[], completion: number[]): TokenizedSequence {
  const ids = [...prompt, ...completion];
  return { ids, isTarget: ids.map((_, t) => t >= prompt.length) };
}

const TEXT = Array.from({ length: 20 }, (_, i) => (i * 37 + 11) % config.vocabSize);

function options(overrides: Partial<SftOptions>): SftOptions {
  return { ...DEFAULT_SFT_OPTIONS, learningRate: 1e-2, reportEvery: 4, ...overrides };
}

/** Greedy continuation of `prefix` for `count` tokens, one full forward pass per token. */
async function greedy(prefix: number[], count: number, adapter?: LoraAdapter): Promise<number[]> {
  const ids = [...prefix];
  for (let i = 0; i < count; i++) {
    const next = tf.tidy(() => {
      const logits = forward(config, model.weights, tf.tensor2d([ids], undefined, 'int32'), {
        adapter,
      });
      return logits
        .slice([0, ids.length - 1, 0], [1, 1, -1])
        .reshape([-1])
        .argMax();
    });
    ids.push((await next.data())[0]!);
    next.dispose();
  }
  return ids.slice(prefix.length);
}

/** −log p(token t | tokens before t) for every t ≥ 1, from one unpadded forward pass. */
async function tokenLosses(ids: number[], adapter?: LoraAdapter): Promise<number[]> {
  const logProbs = tf.tidy(() =>
    tf.logSoftmax(
      forward(config, model.weights, tf.tensor2d([ids], undefined, 'int32'), { adapter }),
    ),
  );
  const values = await logProbs.data();
  logProbs.dispose();
  const vocab = config.vocabSize;
  return ids.slice(1).map((id, t) => -values[t * vocab + id]!);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('SFT on wasm', () => {
  it('memorises a short text with LoRA: loss < 0.1, then reproduces it greedily', async () => {
    const adapter = newAdapter();
    const before = await evaluateLoss(model, [textSequence(TEXT)], adapter);
    expect(before).toBeGreaterThan(3);
    const result = await trainSft(
      model,
      [textSequence(TEXT)],
      { kind: 'lora', adapter },
      options({ epochs: 40 }),
    );
    expect(result.steps).toBe(40);
    expect(result.losses).toHaveLength(40);
    expect(result.losses.at(-1)).toBeLessThan(0.1);
    expect(await evaluateLoss(model, [textSequence(TEXT)], adapter)).toBeLessThan(0.1);
    expect(await greedy(TEXT.slice(0, 1), TEXT.length - 1, adapter)).toEqual(TEXT.slice(1));
    // The base model, without the adapter, did not learn anything.
    expect(await greedy(TEXT.slice(0, 1), TEXT.length - 1)).not.toEqual(TEXT.slice(1));
  });

  it('memorises with full fine-tuning, then freezes the base weights again', async () => {
    const weights = randomModelWeights(config, 2, 0.15);
    const own = { config, weights };
    const result = await trainSft(
      own,
      [textSequence(TEXT)],
      { kind: 'full' },
      options({ epochs: 25, learningRate: 3e-3 }),
    );
    expect(result.losses.at(-1)).toBeLessThan(0.1);
    expect([...weights.values()].some((w) => w.trainable)).toBe(false);
    tf.dispose([...weights.values()]);
  });

  it('computes the loss on completion tokens only, padding masked, as their mean NLL', async () => {
    const adapter = newAdapter();
    // Make the adapter non-trivial so the check also covers the adapter path.
    for (const { b } of adapter.modules.values()) {
      b.assign(tf.randomNormal(b.shape, 0, 0.1, 'float32', 5));
    }
    const short = promptCompletion([5, 6, 7], [8, 9]);
    const long = promptCompletion([10, 11], [12, 13, 14, 15, 16, 17]);
    const perToken = [
      ...(await tokenLosses(short.ids, adapter)).slice(2),
      ...(await tokenLosses(long.ids, adapter)).slice(1),
    ];
    expect(perToken).toHaveLength(2 + 6);
    const batched = await evaluateLoss(model, [short, long], adapter);
    expect(batched).toBeCloseTo(mean(perToken), 4);
    const allTokens = await evaluateLoss(model, [textSequence(short.ids)], adapter);
    expect(allTokens).toBeCloseTo(mean(await tokenLosses(short.ids, adapter)), 4);
    expect(Math.abs(allTokens - (await evaluateLoss(model, [short], adapter)))).toBeGreaterThan(
      1e-3,
    );
  });

  it('learns the completion but not the prompt when the loss is on completions only', async () => {
    const adapter = newAdapter();
    const prompt = [40, 41, 42, 43, 44, 45, 46, 47];
    const completion = [90, 91, 92, 93];
    const example = promptCompletion(prompt, completion);
    const promptLossBefore = mean((await tokenLosses(example.ids, adapter)).slice(0, 7));
    await trainSft(model, [example], { kind: 'lora', adapter }, options({ epochs: 30 }));
    const losses = await tokenLosses(example.ids, adapter);
    expect(mean(losses.slice(7))).toBeLessThan(0.1);
    // Had prompt tokens counted, these would have been learned as well.
    expect(mean(losses.slice(0, 7))).toBeGreaterThan(Math.min(3, promptLossBefore - 0.5));
    expect(await greedy(prompt, 4, adapter)).toEqual(completion);
  });

  it('sums accumulated micro-batches into the same step as one big batch', async () => {
    const data = [textSequence(TEXT.slice(0, 9)), textSequence(TEXT.slice(5, 17))];
    const trained: Float32Array[][] = [];
    for (const [batchSize, gradientAccumulation] of [
      [2, 1],
      [1, 2],
    ]) {
      const adapter = newAdapter(['q_proj', 'v_proj'], 8);
      await trainSft(
        model,
        data,
        { kind: 'lora', adapter },
        options({ epochs: 3, batchSize, gradientAccumulation, learningRate: 1e-3 }),
      );
      trained.push(
        await Promise.all(adapter.variables().map((v) => v.data() as Promise<Float32Array>)),
      );
    }
    trained[0]!.forEach((values, i) =>
      values.forEach((value, j) => expect(trained[1]![i]![j]).toBeCloseTo(value, 5)),
    );
  });

  it('is reproducible from its seed, and the seed sets the data order', () => {
    const plan = (seed: number) =>
      planSteps(6, options({ epochs: 2, batchSize: 2, gradientAccumulation: 1, seed }));
    expect(plan(1)).toEqual(plan(1));
    expect(plan(1)).not.toEqual(plan(2));
    const first = plan(1);
    expect(first).toHaveLength(6);
    expect(
      first
        .slice(0, 3)
        .flatMap((s) => s.microBatches.flat())
        .sort(),
    ).toEqual([0, 1, 2, 3, 4, 5]);
    expect(first[3]!.epoch).toBe(1);
  });

  it('reports every step, reading losses back only every few steps', async () => {
    const adapter = newAdapter(['q_proj', 'v_proj']);
    const reports: { step: number; at: number }[] = [];
    let reads = 0;
    const originalData = tf.Tensor.prototype.data;
    tf.Tensor.prototype.data = function (this: tf.Tensor) {
      reads++;
      return originalData.call(this);
    } as typeof originalData;
    try {
      await trainSft(
        model,
        [textSequence(TEXT)],
        { kind: 'lora', adapter },
        options({ epochs: 10, reportEvery: 4, schedule: 'cosine', warmupSteps: 2 }),
        {
          onProgress: (p) => {
            reports.push({ step: p.step, at: reads });
            expect(p.totalSteps).toBe(10);
            expect(p.tokensPerSecond).toBeGreaterThan(0);
            expect(Number.isFinite(p.loss)).toBe(true);
          },
        },
      );
    } finally {
      tf.Tensor.prototype.data = originalData;
    }
    expect(reports.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Three reads (after steps 4, 8 and 10) for ten steps.
    expect(reads).toBe(3);
  });

  it('stops at a cancel between steps, leaving the adapter as after its last full step', async () => {
    const jobs = new JobRegistry();
    const adapter = newAdapter(['q_proj', 'v_proj'], 4);
    const tensorsBefore = tf.memory().numTensors;
    const run = jobs.run('train', (checkpoint) =>
      trainSft(
        model,
        [textSequence(TEXT)],
        { kind: 'lora', adapter },
        options({ epochs: 1000, reportEvery: 1 }),
        {
          checkpoint,
          onProgress: (p) => {
            if (p.step === 5) jobs.cancel('train');
          },
        },
      ),
    );
    expect(isCancelledError(await run.catch((e: unknown) => e))).toBe(true);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    const reference = newAdapter(['q_proj', 'v_proj'], 4);
    await trainSft(
      model,
      [textSequence(TEXT)],
      { kind: 'lora', adapter: reference },
      options({ epochs: 5, reportEvery: 1 }),
    );
    const variables = adapter.variables();
    for (const [i, variable] of reference.variables().entries()) {
      expect(await variables[i]!.data()).toEqual(await variable.data());
    }
  });

  it('holds the tensor count flat across 50 steps and across adapter resets', async () => {
    const adapter = newAdapter(['q_proj', 'v_proj', 'down_proj']);
    const counts: number[] = [];
    const before = tf.memory().numTensors;
    await trainSft(
      model,
      [textSequence(TEXT), textSequence(TEXT.slice(3, 15))],
      { kind: 'lora', adapter },
      options({ epochs: 25, batchSize: 1, reportEvery: 5, maxGradNorm: 1, weightDecay: 0.01 }),
      { onProgress: (p) => p.step % 5 === 0 && counts.push(tf.memory().numTensors) },
    );
    expect(counts).toHaveLength(10);
    expect(new Set(counts).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    for (let seed = 0; seed < 10; seed++) adapter.reset(seed);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses bad options and empty data, naming the field', async () => {
    const adapter = newAdapter(['q_proj']);
    const target = { kind: 'lora' as const, adapter };
    const data = [textSequence(TEXT)];
    await expect(trainSft(model, data, target, options({ batchSize: 0 }))).rejects.toThrow(
      'batchSize must be a positive integer, got 0',
    );
    await expect(trainSft(model, data, target, options({ learningRate: -1 }))).rejects.toThrow(
      'learningRate must be positive, got -1',
    );
    await expect(trainSft(model, [], target, options({}))).rejects.toThrow('the dataset is empty');
  });
});
