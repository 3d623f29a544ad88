/**
 * The self-edit of the few-shot puzzle experiment: a training recipe the model writes as a small
 * JSON object after reading a puzzle's demonstrations — which augmentation families to train on,
 * which tokens the loss reads, a learning rate and a number of epochs (SEAL's Experiment B).
 * Applying a recipe is test-time training; this module reads, writes, checks and samples recipes.
 */
import * as v from 'valibot';
import type { Rng } from '../world/random';
import { shownValue } from '../validation';

/** 'all': every token of a training example is learned; 'outputs': only its answer grid. */
export type RecipeLoss = 'all' | 'outputs';

export const RECIPE_LOSSES: readonly RecipeLoss[] = ['all', 'outputs'];

export interface Recipe {
  /** Rotations, flips and transposes of the demonstrations. */
  basic: boolean;
  /** Grids at twice the resolution. */
  size: boolean;
  /** A geometric transform followed by a change of resolution. */
  chain: boolean;
  /** Grids tiled (repeated). */
  repeat: boolean;
  loss: RecipeLoss;
  learningRate: number;
  epochs: number;
}

/** The learning rates a recipe may ask for, inclusive. */
export const LEARNING_RATE_RANGE = { min: 1e-5, max: 0.1 } as const;

/** The numbers of epochs a recipe may ask for, inclusive. */
export const EPOCH_RANGE = { min: 1, max: 10 } as const;

/**
 * The keys of a recipe's text, in the order it is written. The learning rate is `lr` there: the
 * model writes every character of a recipe, so its text is kept short.
 */
export const RECIPE_KEYS = ['basic', 'size', 'chain', 'repeat', 'loss', 'lr', 'epochs'] as const;

/** Significant digits of a recipe's learning rate as text: 0.0003, never 0.00030000000000000003. */
const LEARNING_RATE_DIGITS = 2;

const rangeText = ({ min, max }: { min: number; max: number }) => `${min}–${max}`;

const flag = (key: string) =>
  v.boolean((issue) => `"${key}" must be true or false, got ${shownValue(issue.input)}`);

const inRange = (key: string, range: { min: number; max: number }) =>
  v.check(
    (value: number) => value >= range.min && value <= range.max,
    (issue) => `${key} ${shownValue(issue.input)} is outside ${rangeText(range)}`,
  );

const mustBeNumber = (key: string) => (issue: v.BaseIssue<unknown>) =>
  `"${key}" must be a number, got ${shownValue(issue.input)}`;

/** A recipe as the model writes it: exactly these seven keys, in any order. */
const RecipeTextSchema = v.strictObject(
  {
    basic: flag('basic'),
    size: flag('size'),
    chain: flag('chain'),
    repeat: flag('repeat'),
    loss: v.picklist(
      RECIPE_LOSSES,
      (issue) => `"loss" must be "all" or "outputs", got ${shownValue(issue.input)}`,
    ),
    lr: v.pipe(v.number(mustBeNumber('lr')), inRange('lr', LEARNING_RATE_RANGE)),
    epochs: v.pipe(
      v.number(mustBeNumber('epochs')),
      v.integer((issue) => `epochs ${shownValue(issue.input)} is not a whole number`),
      inRange('epochs', EPOCH_RANGE),
    ),
  },
  (issue) => {
    const key = String(issue.path?.at(-1)?.key);
    return issue.expected === 'never' ? `unknown key "${key}"` : `missing "${key}"`;
  },
);

/** The canonical text of a recipe: keys in RECIPE_KEYS order, no spaces, lr rounded. */
export function recipeText(recipe: Recipe): string {
  const text: Record<(typeof RECIPE_KEYS)[number], boolean | string | number> = {
    basic: recipe.basic,
    size: recipe.size,
    chain: recipe.chain,
    repeat: recipe.repeat,
    loss: recipe.loss,
    lr: Number(recipe.learningRate.toPrecision(LEARNING_RATE_DIGITS)),
    epochs: recipe.epochs,
  };
  return JSON.stringify(text);
}

export type RecipeParse = { ok: true; recipe: Recipe } | { ok: false; reason: string };

/**
 * The first `{…}` in `text`, braces inside JSON strings not counted. Text before and after it is
 * left out: generated text goes on past the object (an end marker, more tokens).
 */
function firstObjectText(text: string): string | null {
  const start = text.indexOf('{');
  if (start < 0) return null;
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === '\\') i++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === '{') depth++;
    else if (char === '}' && --depth === 0) return text.slice(start, i + 1);
  }
  return text.slice(start);
}

/** Reads the recipe the model wrote in `text`, or says in plain words why it is not one. */
export function parseRecipe(text: string): RecipeParse {
  const objectText = firstObjectText(text);
  if (objectText === null) return { ok: false, reason: 'not JSON: no "{" in the text' };
  let json: unknown;
  try {
    json = JSON.parse(objectText);
  } catch (error) {
    return { ok: false, reason: `not JSON: ${(error as Error).message}` };
  }
  const result = v.safeParse(RecipeTextSchema, json, { abortEarly: true });
  if (!result.success) return { ok: false, reason: result.issues[0].message };
  const { lr, ...rest } = result.output;
  return { ok: true, recipe: { ...rest, learningRate: lr } };
}

/** Optimizer steps a recipe asks for: its epochs over `exampleCount` examples in batches. */
export function recipeSteps(
  exampleCount: number,
  recipe: Pick<Recipe, 'epochs'>,
  batchSize: number,
): number {
  if (!Number.isInteger(exampleCount) || exampleCount < 0) {
    throw new Error(`the number of examples must be a whole number ≥ 0, got ${exampleCount}`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`the batch size must be a whole number ≥ 1, got ${batchSize}`);
  }
  return Math.ceil(exampleCount / batchSize) * recipe.epochs;
}

/** Whether a recipe's steps fit the step budget; recipes over it are discarded, not trained. */
export function withinBudget(steps: number, maxSteps: number): boolean {
  return steps <= maxSteps;
}

export interface RecipeSampling {
  /** The first valid recipe, or null when every attempt was invalid. */
  recipe: Recipe | null;
  /** Every attempt's text, with the reason it was refused (null for the valid one). */
  attempts: { text: string; reason: string | null }[];
}

/**
 * Samples recipe texts until one is valid, at most `maxAttempts` times: an invalid self-edit is
 * resampled, as in the paper. `sample` gets the attempt's index, 0 first.
 */
export async function sampleRecipeUntilValid(
  sample: (attempt: number) => Promise<string>,
  maxAttempts: number,
): Promise<RecipeSampling> {
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new Error(`the number of attempts must be a whole number ≥ 1, got ${maxAttempts}`);
  }
  const attempts: RecipeSampling['attempts'] = [];
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const text = await sample(attempt);
    const parsed = parseRecipe(text);
    attempts.push({ text, reason: parsed.ok ? null : parsed.reason });
    if (parsed.ok) return { recipe: parsed.recipe, attempts };
  }
  return { recipe: null, attempts };
}

type AugmentationFamily = 'basic' | 'size' | 'chain' | 'repeat';

/** The distribution `randomRecipe` draws from; every field is drawn independently. */
export interface RecipeSpread {
  /** The chance that each augmentation family is switched on. */
  augmentation: Readonly<Record<AugmentationFamily, number>>;
  /** The chance that the loss reads the answer only (otherwise every token). */
  outputsLoss: number;
  /** Learning rates to pick from, each equally likely. */
  learningRates: readonly number[];
  /** Epochs drawn uniformly from this inclusive range. */
  epochs: { min: number; max: number };
}

/**
 * Recipes of uneven quality, for teaching the model to write recipes before it knows which ones
 * work: every switch a coin flip, learning rates over three decades (too gentle to change
 * anything at one end, enough to wreck the model at the other), 1 to 10 epochs (so many recipes
 * overrun a step budget).
 */
export const UNEVEN_RECIPES: RecipeSpread = {
  augmentation: { basic: 0.5, size: 0.5, chain: 0.5, repeat: 0.5 },
  outputsLoss: 0.5,
  learningRates: [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1],
  epochs: { min: EPOCH_RANGE.min, max: EPOCH_RANGE.max },
};

/** A recipe drawn from `spread` with `rng`; it is always valid (parseRecipe accepts its text). */
export function randomRecipe(
  rng: Pick<Rng, 'chance' | 'pick' | 'between'>,
  spread: RecipeSpread = UNEVEN_RECIPES,
): Recipe {
  const { learningRates, epochs } = spread;
  const validRate = (rate: number) =>
    rate >= LEARNING_RATE_RANGE.min && rate <= LEARNING_RATE_RANGE.max;
  if (learningRates.length === 0 || !learningRates.every(validRate)) {
    throw new Error(
      `a recipe spread needs learning rates in ${rangeText(LEARNING_RATE_RANGE)}, got ${shownValue(learningRates)}`,
    );
  }
  if (
    !Number.isInteger(epochs.min) ||
    !Number.isInteger(epochs.max) ||
    epochs.min < EPOCH_RANGE.min ||
    epochs.max > EPOCH_RANGE.max ||
    epochs.min > epochs.max
  ) {
    throw new Error(
      `a recipe spread needs whole epochs within ${rangeText(EPOCH_RANGE)}, got ${epochs.min}–${epochs.max}`,
    );
  }
  return {
    basic: rng.chance(spread.augmentation.basic),
    size: rng.chance(spread.augmentation.size),
    chain: rng.chance(spread.augmentation.chain),
    repeat: rng.chance(spread.augmentation.repeat),
    loss: rng.chance(spread.outputsLoss) ? 'outputs' : 'all',
    learningRate: rng.pick(learningRates),
    epochs: rng.between(epochs.min, epochs.max),
  };
}
