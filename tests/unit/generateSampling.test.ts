import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import {
  CANDIDATES_WITHOUT_TOP_K,
  chooseFromRow,
  chooseToken,
  TokenSampler,
  type SamplingOptions,
} from '../../src/engine/model/sampling';
import { createRandom, streamSeed } from '../../src/engine/random';

const IDS = [7, 8, 9];
const PROBS = [0.5, 0.3, 0.2];

describe('seeded random numbers', () => {
  it('repeat for a seed, differ between seeds, and stay in [0, 1)', () => {
    const draw = (seed: number) => Array.from({ length: 1000 }, createRandom(seed));
    const first = draw(42);
    expect(draw(42)).toEqual(first);
    expect(draw(43)).not.toEqual(first);
    expect(Math.min(...first)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...first)).toBeLessThan(1);
    const mean = first.reduce((a, b) => a + b, 0) / first.length;
    expect(mean).toBeCloseTo(0.5, 1);
  });

  it('give independent streams per index', () => {
    const seeds = new Set(Array.from({ length: 100 }, (_, i) => streamSeed(5, i)));
    expect(seeds.size).toBe(100);
    expect(streamSeed(5, 0)).not.toBe(streamSeed(6, 0));
    expect(() => createRandom(NaN)).toThrow('a random seed must be a finite number');
  });
});

describe('choosing a token from sorted candidates', () => {
  it('walks the cumulative probabilities with the draw', () => {
    expect(chooseToken(PROBS, IDS, 1, true, 0.1)).toBe(7);
    expect(chooseToken(PROBS, IDS, 1, true, 0.6)).toBe(8);
    expect(chooseToken(PROBS, IDS, 1, true, 0.9)).toBe(9);
  });

  it('top-p keeps the fewest tokens whose mass reaches p, as transformers does', () => {
    // Tokens before 9 hold 0.8 ≥ 0.7, so 9 is cut; draws scale over the kept 0.8.
    expect(chooseToken(PROBS, IDS, 0.7, true, 0.99)).toBe(8);
    expect(chooseToken(PROBS, IDS, 0.7, true, 0.6)).toBe(7);
    expect(chooseToken(PROBS, IDS, 0.7, true, 0.7)).toBe(8);
    // transformers drops tokens whose ascending cumulative mass is ≤ 1 - p: here 0.2 and 0.3.
    expect(chooseToken(PROBS, IDS, 0.5, true, 0.99)).toBe(7);
    // The most likely token always stays.
    expect(chooseToken(PROBS, IDS, 0.01, true, 0.99)).toBe(7);
  });

  it('says when the unread rest of the distribution decides', () => {
    const probs = [0.4, 0.3]; // the other 0.3 was not read back
    expect(chooseToken(probs, IDS, 1, false, 0.5)).toBe(8);
    expect(chooseToken(probs, IDS, 1, false, 0.8)).toBeNull();
    expect(chooseToken(probs, IDS, 0.6, false, 0.99)).toBe(8);
    expect(chooseToken(probs, IDS, 0.9, false, 0.1)).toBeNull();
  });

  it('draws each token about as often as its probability', () => {
    const random = createRandom(1);
    const counts = new Map<number, number>();
    const draws = 20000;
    for (let i = 0; i < draws; i++) {
      const token = chooseToken(PROBS, IDS, 1, true, random())!;
      counts.set(token, (counts.get(token) ?? 0) + 1);
    }
    IDS.forEach((id, i) => expect(counts.get(id)! / draws).toBeCloseTo(PROBS[i]!, 1));
  });
});

describe('choosing a token from a full row', () => {
  // Ids 0..4; ids 1 and 3 tie at 0.25, so 1 comes first.
  const row = Float32Array.from([0.125, 0.25, 0.0625, 0.25, 0.3125]);

  it('orders by falling probability, ties by rising id', () => {
    // Order 4, 1, 3, 0, 2: running sums 0.3125, 0.5625, 0.8125, 0.9375, 1.
    expect([0, 0.3, 0.32, 0.6, 0.85, 0.95].map((u) => chooseFromRow(row, 0, 1, u))).toEqual([
      4, 4, 1, 3, 0, 2,
    ]);
  });

  it('applies top-k, then top-p on what top-k kept', () => {
    // Top-2 keeps 4 and 1 (mass 0.5625); u = 0.6 lands in 1's share.
    expect(chooseFromRow(row, 2, 1, 0.6)).toBe(1);
    // Top-p 0.35 keeps 4 and 1 (0.3125 < 0.35); top-3 then top-p 0.35 keeps 4 alone, since
    // top-p is a share of what top-k kept (0.3125 ≥ 0.35 × 0.8125).
    expect(chooseFromRow(row, 0, 0.35, 0.99)).toBe(1);
    expect(chooseFromRow(row, 3, 0.35, 0.99)).toBe(4);
  });
});

describe('sampling a batch on the device (wasm)', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  const sampling = (overrides: Partial<SamplingOptions>): SamplingOptions => ({
    temperature: 1,
    topK: 0,
    topP: 1,
    seed: 0,
    ...overrides,
  });

  /** Random logits for `rows` rows of a `vocab`-token vocabulary, seeded. */
  const logitsOf = (rows: number, vocab: number, seed: number) =>
    tf.randomNormal([rows, vocab], 0, 2, 'float32', seed) as tf.Tensor2D;

  async function sampleSteps(options: SamplingOptions, logits: tf.Tensor2D, steps: number) {
    const sampler = new TokenSampler(options, logits.shape[1], logits.shape[0]);
    const out: number[][] = [];
    for (let i = 0; i < steps; i++) out.push(await sampler.sample(logits));
    return out;
  }

  it('repeats for a seed, differs across seeds, and leaks no tensors', async () => {
    const logits = logitsOf(4, 500, 3);
    const before = tf.memory().numTensors;
    const first = await sampleSteps(sampling({ seed: 11 }), logits, 20);
    expect(tf.memory().numTensors).toBe(before);
    expect(await sampleSteps(sampling({ seed: 11 }), logits, 20)).toEqual(first);
    expect(await sampleSteps(sampling({ seed: 12 }), logits, 20)).not.toEqual(first);
    // Rows draw from their own streams: identical logits still give different rows.
    const rows = first.map((step) => step.join(','));
    expect(new Set(first.flat()).size).toBeGreaterThan(4);
    expect(rows.some((row) => new Set(row.split(',')).size > 1)).toBe(true);
    logits.dispose();
  });

  it('greedy and top-k = 1 both pick the argmax', async () => {
    const logits = logitsOf(3, 300, 4);
    const argmax = Array.from(await logits.argMax(1).data());
    expect(await sampleSteps(sampling({ temperature: 0 }), logits, 1)).toEqual([argmax]);
    expect(await sampleSteps(sampling({ topK: 1, seed: 9 }), logits, 3)).toEqual([
      argmax,
      argmax,
      argmax,
    ]);
    logits.dispose();
  });

  it('top-k keeps only the k most likely tokens', async () => {
    const logits = logitsOf(2, 300, 5);
    const top = await tf.topk(logits, 5).indices.array();
    const steps = await sampleSteps(sampling({ topK: 5, temperature: 3 }), logits, 50);
    for (const step of steps) {
      step.forEach((token, row) => expect(top[row]).toContain(token));
    }
    logits.dispose();
  });

  it('is exact beyond the candidates it reads back: a flat distribution reaches every token', async () => {
    const vocab = 4 * CANDIDATES_WITHOUT_TOP_K;
    const logits = tf.zeros([50, vocab]) as tf.Tensor2D;
    const tokens = (await sampleSteps(sampling({ seed: 3 }), logits, 8)).flat();
    const candidates = new Set(
      Array.from(await tf.topk(logits, CANDIDATES_WITHOUT_TOP_K).indices.data()).slice(
        0,
        CANDIDATES_WITHOUT_TOP_K,
      ),
    );
    const outside = tokens.filter((token) => !candidates.has(token)).length / tokens.length;
    expect(outside).toBeGreaterThan(0.65);
    expect(outside).toBeLessThan(0.85);
    logits.dispose();
  });

  it('rejects bad settings with clear messages', () => {
    expect(() => new TokenSampler(sampling({ temperature: -1 }), 10, 1)).toThrow(
      'temperature must be 0 (greedy) or positive',
    );
    expect(() => new TokenSampler(sampling({ topK: 1.5 }), 10, 1)).toThrow('top-k must be');
    expect(() => new TokenSampler(sampling({ topP: 0 }), 10, 1)).toThrow('top-p must be in (0, 1]');
    expect(() => new TokenSampler(sampling({ seed: 0.5 }), 10, 1)).toThrow('seed must be');
  });
});
