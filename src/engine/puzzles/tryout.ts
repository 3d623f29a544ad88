/**
 * Trying one puzzle by hand: the test-time-training settings the playground uses and what a
 * recipe would cost on a task before it runs. Pure, so the UI shows the cost as the recipe is
 * edited and the engine applies the same settings.
 */
import { DEFAULT_PUZZLE_WORLD_PARAMS } from './world';
import { height, width, type PuzzleTask } from './grid';
import { DEFAULT_TABLE1_CONFIG, oracleRecipe } from './experiment/config';
import type { Recipe } from './recipe';
import type { TestTimeTrainingSettings } from './testTimeTraining';
import { recipeCostUnder, type RecipeCost } from './ttt';

export type { RecipeCost } from './ttt';

/**
 * The Table 1 experiment's test-time-training settings, so that a recipe tried by hand costs and
 * behaves as it would in the experiment.
 */
export const TRYOUT_SETTINGS: Omit<TestTimeTrainingSettings, 'maxSide'> =
  DEFAULT_TABLE1_CONFIG.testTimeTraining;

/** The recipe to start from: the experiment's hand-tuned (oracle) recipe. */
export const STARTING_RECIPE: Recipe = oracleRecipe(DEFAULT_TABLE1_CONFIG);

/** The settings for `task`: augmentations may grow its grids up to the world's largest side. */
export function tryoutSettings(task: PuzzleTask): TestTimeTrainingSettings {
  const sides = [...task.train, ...task.test].flatMap(({ input, output }) =>
    [input, output].flatMap((grid) => [height(grid), width(grid)]),
  );
  return { ...TRYOUT_SETTINGS, maxSide: Math.max(DEFAULT_PUZZLE_WORLD_PARAMS.maxSide, ...sides) };
}

/** How many examples and optimizer steps `recipe` asks for on `task`, against the step budget. */
export function recipeCost(task: PuzzleTask, recipe: Recipe, seed: number): RecipeCost {
  return recipeCostUnder(tryoutSettings(task), task, recipe, seed);
}
