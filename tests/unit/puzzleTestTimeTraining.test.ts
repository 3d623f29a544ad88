import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import type { LoadedModel } from '../../src/engine/model/session';
import { gridKey, type Grid, type PuzzleTask } from '../../src/engine/puzzles/grid';
import type { Recipe } from '../../src/engine/puzzles/recipe';
import {
  answerPuzzle,
  applyRecipe,
  type TestTimeTrainingSettings,
} from '../../src/engine/puzzles/testTimeTraining';
import { tinyPuzzleModel } from '../../src/engine/puzzles/tinyModel';
import { tttExampleCount } from '../../src/engine/puzzles/ttt';

let model: LoadedModel;

beforeAll(async () => {
  await selectBackend('wasm');
  model = tinyPuzzleModel(3);
});

const flip = (grid: Grid): Grid => grid.map((row) => [...row].reverse());
const inputs: Grid[] = [
  [
    [1, 0, 0],
    [0, 2, 0],
    [0, 0, 0],
  ],
  [
    [0, 3, 0],
    [4, 0, 0],
    [0, 0, 5],
  ],
  [
    [6, 6, 0],
    [0, 0, 0],
    [0, 7, 0],
  ],
  [
    [0, 0, 8],
    [0, 9, 0],
    [1, 0, 0],
  ],
];
const task: PuzzleTask = {
  train: inputs.slice(0, 3).map((input) => ({ input, output: flip(input) })),
  test: [{ input: inputs[3]!, output: flip(inputs[3]!) }],
};

const settings: TestTimeTrainingSettings = {
  lora: { targets: ['q_proj', 'v_proj'], rank: 4, alpha: 8, dropout: 0 },
  batchSize: 2,
  maxSteps: 40,
  maxSide: 6,
  leaveTwoOut: false,
  colourPermutations: 0,
  attempts: 2,
};

const recipe: Recipe = {
  basic: true,
  size: false,
  chain: false,
  repeat: false,
  loss: 'outputs',
  learningRate: 1e-2,
  epochs: 2,
};

describe('test-time training on a puzzle', () => {
  it('trains for the steps the recipe asks, votes under the eight symmetries and grades the attempts', async () => {
    const exampleCount = tttExampleCount(task, recipe, { ...settings, seed: 5 });
    const outcome = await applyRecipe(model, task, recipe, settings, 5);
    expect(outcome.status).toBe('applied');
    if (outcome.status !== 'applied') return;
    expect(outcome.exampleCount).toBe(exampleCount);
    expect(outcome.steps).toBe(Math.ceil(exampleCount / settings.batchSize) * recipe.epochs);
    expect(outcome.losses).toHaveLength(outcome.steps);
    expect(outcome.losses.every((loss) => Number.isFinite(loss) && loss > 0)).toBe(true);
    expect(outcome.vote.ballots.map((b) => b.augmentation)).toHaveLength(8);
    expect(outcome.vote.attempts.length).toBeLessThanOrEqual(settings.attempts);
    const truth = gridKey(task.test[0]!.output);
    expect(outcome.solved).toBe(outcome.vote.attempts.some((grid) => gridKey(grid) === truth));
  });

  it('is replayed exactly from its seed', async () => {
    const first = await applyRecipe(model, task, recipe, settings, 9);
    const second = await applyRecipe(model, task, recipe, settings, 9);
    if (first.status !== 'applied' || second.status !== 'applied') throw new Error('not applied');
    expect(second.losses).toEqual(first.losses);
    expect(second.vote.ballots).toEqual(first.vote.ballots);
  });

  it('discards a recipe over the step budget without training', async () => {
    const before = tf.memory().numTensors;
    const outcome = await applyRecipe(
      model,
      task,
      { ...recipe, epochs: 10 },
      { ...settings, maxSteps: 20 },
      5,
    );
    expect(outcome).toEqual({ status: 'over-budget', exampleCount: 24, steps: 120 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('leaves no tensor behind across repeated applications and in-context answers', async () => {
    await applyRecipe(model, task, { ...recipe, epochs: 1 }, settings, 1);
    await answerPuzzle(model, task, settings);
    const tensors = tf.memory().numTensors;
    const bytes = tf.memory().numBytes;
    for (let seed = 2; seed < 4; seed++) {
      await applyRecipe(model, task, { ...recipe, epochs: 1 }, settings, seed);
      await answerPuzzle(model, task, settings);
    }
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.memory().numBytes).toBe(bytes);
  });
});
