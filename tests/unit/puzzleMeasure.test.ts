import { describe, expect, it } from 'vitest';
import {
  randomRecipesFor,
  recipeFeatures,
  summarizePuzzleMeasurements,
  type RecipeTrial,
  type TaskMeasurement,
} from '../../src/engine/puzzles/measure';
import { UNEVEN_RECIPES, type Recipe } from '../../src/engine/puzzles/recipe';
import { STARTING_RECIPE } from '../../src/engine/puzzles/tryout';

const BOOTSTRAP = { replicates: 500, seed: 1, level: 0.95 };

function trial(recipe: Recipe, solved: boolean, status: RecipeTrial['status'] = 'applied') {
  return { recipe, seed: 1, status, solved, exampleCount: 8, steps: 4, finalLoss: 0.1, ms: 2000 };
}

const gentle: Recipe = { ...STARTING_RECIPE, learningRate: 1e-4 };

/** Task i: solved in context when i < 2; the starting recipe solves it when i < 6, gentle never. */
const tasks: TaskMeasurement[] = Array.from({ length: 8 }, (_, i) => ({
  id: `validation-${i}`,
  inContext: { solved: i < 2, attempts: [], ms: 500 },
  trials: [
    trial(STARTING_RECIPE, i < 6),
    trial(gentle, false, i === 7 ? 'over-budget' : 'applied'),
  ],
  ms: 4500,
}));

describe('summarizePuzzleMeasurements', () => {
  it('reports in-context and trained shares, their paired difference and per-feature shares', () => {
    const { metrics, byFeature } = summarizePuzzleMeasurements(tasks, BOOTSTRAP);
    expect(metrics.tasks).toBe(8);
    expect(metrics.trials).toBe(16);
    expect(metrics.icl).toBeCloseTo(2 / 8);
    expect(metrics.ttt).toBeCloseTo(6 / 16);
    expect(metrics.ttt_any).toBeCloseTo(6 / 8);
    expect(metrics.ttt_minus_icl).toBeCloseTo(6 / 16 - 2 / 8);
    expect(metrics.over_budget).toBeCloseTo(1 / 16);
    expect(metrics.trial_seconds_mean).toBeCloseTo(2);
    expect(metrics.task_seconds_mean).toBeCloseTo(4.5);
    for (const name of ['icl', 'ttt', 'ttt_any', 'ttt_minus_icl']) {
      expect(metrics[`${name}_ci_low`]).toBeLessThanOrEqual(metrics[name]!);
      expect(metrics[`${name}_ci_high`]).toBeGreaterThanOrEqual(metrics[name]!);
    }
    expect(byFeature['lr=0.003']).toMatchObject({ trials: 8, solved: 6, point: 0.75 });
    expect(byFeature['lr=0.0001']).toMatchObject({ trials: 8, solved: 0, point: 0 });
    expect(byFeature['basic=true']!.trials).toBe(16);
    expect(byFeature['epochs=2']!.point).toBeCloseTo(6 / 16);
  });

  it('reports in-context success alone when no recipe was tried', () => {
    const { metrics, byFeature } = summarizePuzzleMeasurements(
      tasks.map((t) => ({ ...t, trials: [] })),
      BOOTSTRAP,
    );
    expect(metrics.icl).toBeCloseTo(0.25);
    expect(metrics.ttt).toBeUndefined();
    expect(byFeature).toEqual({});
  });
});

describe('recipes for a measurement', () => {
  it('labels every feature of a recipe as its text writes it', () => {
    expect(recipeFeatures(STARTING_RECIPE)).toEqual([
      'basic=true',
      'size=false',
      'chain=false',
      'repeat=false',
      'loss=outputs',
      'lr=0.003',
      'epochs=2',
    ]);
  });

  it('draws the same random recipes for the same task and seed, others for another task', () => {
    const first = randomRecipesFor('validation-0000', 6, 1, UNEVEN_RECIPES);
    expect(randomRecipesFor('validation-0000', 6, 1, UNEVEN_RECIPES)).toEqual(first);
    expect(randomRecipesFor('validation-0001', 6, 1, UNEVEN_RECIPES)).not.toEqual(first);
    expect(new Set(first.map((r) => JSON.stringify(r))).size).toBeGreaterThan(1);
  });
});
