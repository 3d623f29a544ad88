/**
 * The training examples of test-time training: small puzzles made from a task's demonstrations
 * alone. Leave-one-out holds one demonstration out as the query and shows the others; leave-two-out
 * also drops one more, so the model learns from fewer shots too. Each such puzzle is copied under
 * every augmentation the recipe chose that keeps it within the side limit, optionally recoloured,
 * with its demonstrations in a seeded order. The task's test pair is never read.
 */
import { createRng, type Rng } from '../world/random';
import {
  augmentPair,
  augmentationsFor,
  colourAugmentation,
  composeAugmentations,
  fitsPairs,
  randomColourPermutation,
  type AugmentationChoice,
  type GridAugmentation,
} from './augment';
import type { GridPair, PuzzleTask } from './grid';
import { recipeSteps, withinBudget, type Recipe } from './recipe';
import type { TestTimeTrainingSettings } from './testTimeTraining';

export interface TttExample {
  demonstrations: GridPair[];
  query: GridPair;
  /** The augmentation's name (`parseAugmentation` turns it back into the augmentation). */
  augmentation: string;
}

export interface TttOptions {
  seed: number | string;
  /** Largest side an augmented grid may have; an augmentation that exceeds it is skipped. */
  maxSide: number;
  leaveTwoOut: boolean;
  /** Recoloured copies of each example, in addition to the example in its own colours. */
  colourPermutations: number;
  /** Keep at most this many examples, a seeded choice among all of them. */
  maxExamples?: number;
}

/** A puzzle cut from the demonstrations, named by which ones it holds out. */
interface HeldOut {
  key: string;
  demonstrations: GridPair[];
  query: GridPair;
}

/** One example still to be built: its puzzle, augmentation and copy (0: original colours). */
interface Planned {
  heldOut: HeldOut;
  augmentation: GridAugmentation;
  copy: number;
}

function heldOutPuzzles(train: readonly GridPair[], leaveTwoOut: boolean): HeldOut[] {
  if (train.length < 2) return [];
  const others = (...excluded: number[]) => train.filter((_, i) => !excluded.includes(i));
  const puzzles = train.map((query, q) => ({ key: `q${q}`, demonstrations: others(q), query }));
  if (leaveTwoOut && train.length >= 3) {
    train.forEach((query, q) =>
      train.forEach((_, dropped) => {
        if (dropped !== q)
          puzzles.push({ key: `q${q}-d${dropped}`, demonstrations: others(q, dropped), query });
      }),
    );
  }
  return puzzles;
}

function checkOptions(options: TttOptions): void {
  const { maxSide, colourPermutations, maxExamples } = options;
  if (!Number.isInteger(maxSide) || maxSide < 1)
    throw new Error(`maxSide must be a positive integer, got ${maxSide}`);
  if (!Number.isInteger(colourPermutations) || colourPermutations < 0)
    throw new Error(`colourPermutations must be a whole number ≥ 0, got ${colourPermutations}`);
  if (maxExamples !== undefined && (!Number.isInteger(maxExamples) || maxExamples < 1))
    throw new Error(`maxExamples must be a positive integer, got ${maxExamples}`);
}

/** Which examples there are, in a fixed order, before any grid is built. */
function plan(task: PuzzleTask, choice: AugmentationChoice, options: TttOptions): Planned[] {
  checkOptions(options);
  const augmentations = augmentationsFor(choice);
  const planned = heldOutPuzzles(task.train, options.leaveTwoOut).flatMap((heldOut) =>
    augmentations
      .filter((augmentation) =>
        fitsPairs(augmentation, [...heldOut.demonstrations, heldOut.query], options.maxSide),
      )
      .flatMap((augmentation) =>
        Array.from({ length: 1 + options.colourPermutations }, (_, copy) => ({
          heldOut,
          augmentation,
          copy,
        })),
      ),
  );
  const { maxExamples } = options;
  if (maxExamples === undefined || planned.length <= maxExamples) return planned;
  const kept = createRng(options.seed)
    .fork('subset')
    .shuffle(planned.map((_, i) => i))
    .slice(0, maxExamples)
    .sort((a, b) => a - b);
  return kept.map((i) => planned[i] as Planned);
}

function build({ heldOut, augmentation, copy }: Planned, root: Rng): TttExample {
  // Each example draws from its own stream, so it does not depend on which others are built.
  const rng = root.fork(`${heldOut.key}/${augmentation.name}/${copy}`);
  const full =
    copy === 0
      ? augmentation
      : composeAugmentations(
          augmentation,
          colourAugmentation(randomColourPermutation(rng.fork('colours'))),
        );
  return {
    demonstrations: rng
      .fork('order')
      .shuffle(heldOut.demonstrations)
      .map((pair) => augmentPair(pair, full)),
    query: augmentPair(heldOut.query, full),
    augmentation: full.name,
  };
}

/** The test-time training examples of `task` under `choice`; an empty list below two demonstrations. */
export function tttExamples(
  task: PuzzleTask,
  choice: AugmentationChoice,
  options: TttOptions,
): TttExample[] {
  const root = createRng(options.seed);
  return plan(task, choice, options).map((planned) => build(planned, root));
}

/** How many examples `tttExamples` builds, counted without building them. */
export function tttExampleCount(
  task: PuzzleTask,
  choice: AugmentationChoice,
  options: TttOptions,
): number {
  return plan(task, choice, options).length;
}

export interface RecipeCost {
  exampleCount: number;
  steps: number;
  maxSteps: number;
  /** False when the recipe makes no example or more steps than the budget: it is discarded. */
  withinBudget: boolean;
}

/** The example-building options of test-time training with `settings`. */
export function tttOptions(settings: TestTimeTrainingSettings, seed: number): TttOptions {
  return {
    seed,
    maxSide: settings.maxSide,
    leaveTwoOut: settings.leaveTwoOut,
    colourPermutations: settings.colourPermutations,
  };
}

/** How many examples and optimizer steps `recipe` makes of `task`, counted without building them. */
export function recipeCostUnder(
  settings: TestTimeTrainingSettings,
  task: PuzzleTask,
  recipe: Recipe,
  seed: number,
): RecipeCost {
  const exampleCount = tttExampleCount(
    { train: task.train, test: [] },
    recipe,
    tttOptions(settings, seed),
  );
  const steps = recipeSteps(exampleCount, recipe, settings.batchSize);
  return {
    exampleCount,
    steps,
    maxSteps: settings.maxSteps,
    withinBudget: exampleCount > 0 && withinBudget(steps, settings.maxSteps),
  };
}
