import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import { JobRegistry } from '../../src/engine/jobs';
import { createModelSession } from '../../src/engine/model/session';
import { arcTaskJson, parseArcFile } from '../../src/engine/puzzles/arc';
import type { Grid, PuzzleTask } from '../../src/engine/puzzles/grid';
import type { Recipe } from '../../src/engine/puzzles/recipe';
import {
  createPuzzleService,
  readsGridsByCell,
  type RecipeEvent,
} from '../../src/engine/puzzles/service';
import { recipeCost, STARTING_RECIPE, TRYOUT_SETTINGS } from '../../src/engine/puzzles/tryout';
import { generatePuzzleWorld } from '../../src/engine/puzzles/world';
import { tinySealModel } from '../../src/engine/seal/tinyModel';
import { freshStore } from './storeHelpers';

const session = createModelSession();
afterAll(() => session.replace(null));
beforeAll(async () => {
  await selectBackend('wasm');
});

function newService() {
  const jobs = new JobRegistry();
  return { jobs, puzzles: createPuzzleService(freshStore(), jobs, session) };
}

const mirror = (grid: Grid): Grid => grid.map((row) => [...row].reverse());
const inputs: Grid[] = [
  [
    [1, 0, 0],
    [0, 2, 0],
  ],
  [
    [0, 3],
    [4, 0],
    [0, 5],
  ],
  [
    [6, 6, 0],
    [0, 0, 7],
  ],
  [
    [1, 2, 0],
    [0, 0, 3],
  ],
];
const mirrorTask: PuzzleTask = {
  train: inputs.slice(0, 3).map((input) => ({ input, output: mirror(input) })),
  test: [{ input: inputs[3]!, output: mirror(inputs[3]!) }],
};
const collection = JSON.stringify({
  b2: JSON.parse(arcTaskJson(mirrorTask)) as unknown,
  a1: { train: mirrorTask.train.slice(0, 2), test: mirrorTask.test },
});

describe('importing ARC files', () => {
  it('stores every task of a collection by its id, in file order, and reads them back unchanged', async () => {
    const { puzzles } = newService();
    const imported = await puzzles.importArcFile('tasks.json', collection);
    expect(imported.map((record) => record.name)).toEqual(['b2', 'a1']);
    const stored = await puzzles.storedTasks();
    expect(stored.map((record) => record.name)).toEqual(['b2', 'a1']);
    expect(stored.map((record) => record.task)).toEqual(
      parseArcFile(collection).map(({ task }) => task),
    );
    expect(stored[0]!.fileName).toBe('tasks.json');
  });

  it('names a one-task file after the file, and deletes a task by id', async () => {
    const { puzzles } = newService();
    const [record] = await puzzles.importArcFile('mirror.json', arcTaskJson(mirrorTask));
    expect(record).toMatchObject({ name: 'mirror', task: mirrorTask });
    await puzzles.importArcFile('tasks.json', collection);
    await puzzles.deleteTask(record!.id);
    expect((await puzzles.storedTasks()).map((r) => r.name)).toEqual(['b2', 'a1']);
  });

  const oversized = Array.from({ length: 31 }, () => [0]);
  const badFiles: [string, string, RegExp][] = [
    ['not JSON', '{"train": [', /^bad\.json: not JSON/],
    ['a list', '[1, 2]', /a task file must hold a task/],
    [
      'a ragged grid',
      JSON.stringify({ train: [{ input: [[1, 2], [3]], output: [[1]] }], test: [] }),
      /^bad\.json: bad: train\[0\]\.input: row 2 has 1 cells, row 1 has 2/,
    ],
    [
      'a colour out of range',
      JSON.stringify({ ...mirrorTask, test: [{ input: [[12]], output: [[1]] }] }),
      /test\[0\]\.input: cell \(1, 1\) is 12; a colour must be an integer 0–9/,
    ],
    [
      'an oversized grid',
      JSON.stringify({ ...mirrorTask, test: [{ input: oversized, output: [[1]] }] }),
      /31 rows; at most 30/,
    ],
    [
      'too many demonstrations',
      JSON.stringify({ ...mirrorTask, train: Array(11).fill(mirrorTask.train[0]) }),
      /11 demonstrations; at most 10/,
    ],
    [
      'one bad task in a collection',
      JSON.stringify({ good: mirrorTask, bad: { train: mirrorTask.train } }),
      /^bad\.json: bad: a task needs "test"/,
    ],
  ];
  it.each(badFiles)(
    'refuses %s with a plain message and stores nothing',
    async (_, text, message) => {
      const { puzzles } = newService();
      await expect(puzzles.importArcFile('bad.json', text)).rejects.toThrow(message);
      expect(await puzzles.storedTasks()).toEqual([]);
    },
  );
});

describe("the world's tasks", () => {
  it('lists the asked splits only, each task as the whole world has it, with its rule in words', async () => {
    const { puzzles } = newService();
    const browsed = await puzzles.listWorldTasks(2, ['rl', 'validation']);
    const world = generatePuzzleWorld({ seed: 2 });
    const expected = world.tasks.filter((t) => t.split === 'rl' || t.split === 'validation');
    expect(browsed.map((t) => t.id)).toEqual(expected.map((t) => t.id));
    expect(browsed.map((t) => t.task)).toEqual(expected.map((t) => t.task));
    expect(browsed.map((t) => t.rule)).toEqual(expected.map((t) => t.rule.description));
    const evaluation = await puzzles.listWorldTasks(2, ['evaluation']);
    expect(new Set(evaluation.map((t) => t.split))).toEqual(new Set(['evaluation']));
  });
});

describe('trying a task on the loaded model', () => {
  it('needs a model that reads grids cell by cell', async () => {
    const { puzzles } = newService();
    session.replace(null);
    expect(await puzzles.modelProblem()).toMatch(/No model is loaded/);
    const sealModel = tinySealModel(3, 1);
    expect(readsGridsByCell(sealModel)).toBe(false);
    session.replace(sealModel);
    expect(await puzzles.modelProblem()).toMatch(/tiny-seal-3-world-1 does not read grids/);
    await expect(puzzles.answerInContext('refused', mirrorTask)).rejects.toThrow(
      /a puzzle model is needed/,
    );
    expect(await puzzles.loadTinyModel(4)).toBe('tiny-puzzle-4');
    expect(await puzzles.modelProblem()).toBeNull();
  });

  it('answers in context with a vote under the symmetries, freeing every tensor', async () => {
    const { puzzles } = newService();
    await puzzles.loadTinyModel(4);
    const before = tf.memory().numTensors;
    const answer = await puzzles.answerInContext('icl', mirrorTask);
    expect(tf.memory().numTensors).toBe(before);
    expect(answer.vote.ballots).toHaveLength(8);
    expect(answer.vote.attempts.length).toBeLessThanOrEqual(2);
  });

  it('applies a recipe as the model job: the planned steps, every loss, the vote; no tensor kept', async () => {
    const { jobs, puzzles } = newService();
    await puzzles.loadTinyModel(4);
    const recipe: Recipe = { ...STARTING_RECIPE, epochs: 1 };
    const cost = recipeCost(mirrorTask, recipe, 9);
    const before = tf.memory().numTensors;
    const events: RecipeEvent[] = [];
    const labels: (string | null)[] = [];
    jobs.onModelJobChange((job) => labels.push(job?.label ?? null));
    const outcome = await puzzles.applyRecipe(
      'ttt',
      { task: mirrorTask, recipe, seed: 9 },
      (event) => events.push(structuredClone(event)),
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(labels).toEqual(['test-time training', null]);
    expect(outcome.status).toBe('applied');
    if (outcome.status !== 'applied') return;
    expect(events).toEqual([
      {
        type: 'planned',
        exampleCount: cost.exampleCount,
        steps: cost.steps,
        maxSteps: TRYOUT_SETTINGS.maxSteps,
      },
      { type: 'trained', losses: outcome.losses },
    ]);
    expect(outcome.losses).toHaveLength(cost.steps);
    expect(outcome.vote.ballots).toHaveLength(8);
  });

  it('discards a recipe over the step budget without training', async () => {
    const { puzzles } = newService();
    await puzzles.loadTinyModel(4);
    const greedy: Recipe = {
      ...STARTING_RECIPE,
      size: true,
      chain: true,
      repeat: true,
      epochs: 10,
    };
    expect(recipeCost(mirrorTask, greedy, 1).withinBudget).toBe(false);
    const events: RecipeEvent[] = [];
    const outcome = await puzzles.applyRecipe(
      'greedy',
      { task: mirrorTask, recipe: greedy, seed: 1 },
      (event) => events.push(event),
    );
    expect(outcome.status).toBe('over-budget');
    expect(events.map((event) => event.type)).toEqual(['planned']);
  });

  it('stops at the next step when cancelled, freeing what it made', async () => {
    const { jobs, puzzles } = newService();
    await puzzles.loadTinyModel(4);
    const before = tf.memory().numTensors;
    const running = puzzles.applyRecipe('cancelled', {
      task: mirrorTask,
      recipe: STARTING_RECIPE,
      seed: 2,
    });
    expect(jobs.cancel('cancelled')).toBe(true);
    await expect(running).rejects.toMatchObject({ name: 'CancelledError' });
    expect(tf.memory().numTensors).toBe(before);
    expect(jobs.currentModelJob).toBeNull();
  });
});
