import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import { disposeModelWeights } from '../../src/engine/model/weights';
import {
  checkpointFiles,
  packDocuments,
  parseCheckpointFiles,
  Pretrainer,
  type PretrainOptions,
} from '../../src/engine/train/pretrain';
import { randomModelWeights, SMALL_LLAMA_CONFIG } from '../../src/engine/train/randomModel';

const CONFIG = { ...SMALL_LLAMA_CONFIG, vocabSize: 32, hiddenSize: 32, intermediateSize: 64 };

/** Counting sequences with a per-document start: easy to learn, different row by row. */
const DOCUMENTS = Array.from({ length: 40 }, (_, d) =>
  Array.from({ length: 6 + (d % 5) }, (_, t) => (d * 7 + t) % CONFIG.vocabSize),
);

const OPTIONS: PretrainOptions = {
  sequenceLength: 24,
  batchSize: 4,
  learningRate: 1e-2,
  warmupSteps: 2,
  totalSteps: 40,
  weightDecay: 0.01,
  maxGradNorm: 1,
  seed: 3,
};

function trainer(): Pretrainer {
  return new Pretrainer(CONFIG, randomModelWeights(CONFIG, 5), DOCUMENTS, OPTIONS);
}

beforeAll(async () => {
  await selectBackend('wasm');
});

describe('packDocuments', () => {
  it('packs whole documents in order, never over the row length, cutting only lone long ones', () => {
    const documents = [[1, 2, 3], [4, 5], [6, 7, 8, 9, 10, 11, 12], [13]];
    expect(packDocuments(documents, [0, 1, 2, 3], 6)).toEqual(
      [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11], [13]].filter((row) => row.length >= 2),
    );
    expect(packDocuments(documents, [3, 0, 1], 6)).toEqual([[13, 1, 2, 3, 4, 5]]);
  });
});

describe('Pretrainer', () => {
  it('lowers the loss on the corpus', async () => {
    const run = trainer();
    const losses: number[] = [];
    for (let i = 0; i < 40; i++) losses.push((await run.trainStep()).loss);
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    expect(mean(losses.slice(-5))).toBeLessThan(mean(losses.slice(0, 5)) * 0.6);
    expect(run.progress.step).toBe(40);
    expect(run.progress.cursor.epoch).toBeGreaterThan(0);
    run.dispose();
  });

  it('resumes from a checkpoint exactly where an uninterrupted run would be', async () => {
    const uninterrupted = trainer();
    const first: number[] = [];
    for (let i = 0; i < 12; i++) first.push((await uninterrupted.trainStep()).loss);

    const interrupted = trainer();
    for (let i = 0; i < 7; i++) await interrupted.trainStep();
    const files = checkpointFiles(await interrupted.exportCheckpoint());
    interrupted.dispose();

    const resumed = trainer();
    resumed.restoreCheckpoint(parseCheckpointFiles(files));
    expect(resumed.progress.step).toBe(7);
    const after: number[] = [];
    for (let i = 7; i < 12; i++) after.push((await resumed.trainStep()).loss);
    expect(after).toEqual(first.slice(7));
    expect(resumed.progress).toEqual(uninterrupted.progress);
    resumed.dispose();
    uninterrupted.dispose();
  });

  it('does not grow the tensor count across steps', async () => {
    const weights = randomModelWeights(CONFIG, 5);
    const run = new Pretrainer(CONFIG, weights, DOCUMENTS, OPTIONS);
    await run.trainStep();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 4; i++) await run.trainStep();
    expect(tf.memory().numTensors).toBe(before);
    run.dispose();
    disposeModelWeights(weights);
  });

  it('refuses bad options and token ids outside the vocabulary', () => {
    const weights = randomModelWeights(CONFIG, 5);
    expect(() => new Pretrainer(CONFIG, weights, DOCUMENTS, { ...OPTIONS, batchSize: 0 })).toThrow(
      /batchSize must be a positive integer/,
    );
    expect(() => new Pretrainer(CONFIG, weights, [[1, 99]], OPTIONS)).toThrow(
      /token id 99, outside the vocabulary of 32/,
    );
    expect(() => new Pretrainer(CONFIG, weights, [], OPTIONS)).toThrow(/corpus is empty/);
    disposeModelWeights(weights);
  });
});
