/**
 * Settings of a Table 1 run (SEAL's few-shot puzzle experiment). The defaults are sized for a
 * small puzzle model on a laptop's CPU: fewer recipes per task than the paper's 15 and a step
 * budget scaled down from its 375 with the grids and the demonstrations.
 */
import * as v from 'valibot';
import { LoraSchema, overlay, TemperatureSchema, TopPSchema } from '../../seal/config';
import { LORA_TARGETS } from '../../train/targets';
import { positiveNumberSchema, shownValue, wholeNumberSchema } from '../../validation';
import { parseRecipe, type Recipe } from '../recipe';
import type { TestTimeTrainingSettings } from '../testTimeTraining';

/** Where the held-out puzzles come from: validation (to choose settings) or evaluation (to report). */
export const TABLE1_SPLITS = ['validation', 'evaluation'] as const;
export type Table1Split = (typeof TABLE1_SPLITS)[number];

const wholeNumber = (min: number) => wholeNumberSchema(`a whole number ≥ ${min}`, min);
const positiveNumber = () => positiveNumberSchema('a number > 0');

/**
 * A recipe written in the config as the model writes it, `{"basic": true, …, "lr": 0.003, …}`,
 * checked by the same parser the model's recipes go through.
 */
const RecipeSettingSchema = v.pipe(
  v.record(v.string(), v.union([v.boolean(), v.number(), v.string()]), 'a recipe object'),
  v.check(
    (written) => parseRecipe(JSON.stringify(written)).ok,
    (issue) => {
      const parsed = parseRecipe(JSON.stringify(issue.input));
      return `a valid recipe (${parsed.ok ? '' : parsed.reason})`;
    },
  ),
);

const Table1ConfigSchema = v.strictObject({
  /** Every random choice of the run derives from it. */
  seed: v.pipe(v.number('a whole number'), v.safeInteger('a whole number')),
  /** The seed of the puzzle world whose splits the run trains and is evaluated on. */
  world: v.strictObject({
    seed: v.pipe(v.number('a whole number'), v.safeInteger('a whole number')),
  }),
  /** Applying a recipe: test-time training and the voted answer. */
  testTimeTraining: v.strictObject({
    lora: LoraSchema,
    batchSize: wholeNumber(1),
    maxSteps: wholeNumber(1),
    maxSide: wholeNumber(1),
    leaveTwoOut: v.boolean('true or false'),
    colourPermutations: wholeNumber(0),
    attempts: wholeNumber(1),
  }),
  /** Sampling recipes from the model; an invalid one is resampled up to `maxAttempts` times. */
  recipes: v.strictObject({
    temperature: TemperatureSchema,
    topP: TopPSchema,
    maxAttempts: wholeNumber(1),
    maxNewTokens: wholeNumber(1),
  }),
  /** ReST-EM on the 'rl' split with a binary reward. */
  rl: v.strictObject({
    rounds: wholeNumber(0),
    tasksPerRound: wholeNumber(1),
    /** Recipes sampled per task (the paper's 15). */
    samples: wholeNumber(1),
    /** Behaviour cloning: SFT of the model on (recipe prompt → recipe) of every solved recipe. */
    behaviourCloning: v.strictObject({
      method: v.picklist(['lora', 'full'], 'one of lora, full'),
      lora: LoraSchema,
      epochs: wholeNumber(1),
      learningRate: positiveNumber(),
      batchSize: wholeNumber(1),
    }),
  }),
  /** Table 1's measurements on held-out puzzles. */
  evaluation: v.strictObject({
    split: v.picklist(TABLE1_SPLITS, `one of ${TABLE1_SPLITS.join(', ')}`),
    tasks: wholeNumber(1),
    /** Recipes sampled per task and model (untrained, after each round). */
    samples: wholeNumber(1),
    /** The one hand-tuned recipe, fixed and chosen on validation puzzles. */
    oracle: RecipeSettingSchema,
  }),
});

export type Table1Config = v.InferOutput<typeof Table1ConfigSchema>;

const ALL_PROJECTIONS = [...LORA_TARGETS];

export const DEFAULT_TABLE1_CONFIG: Table1Config = {
  seed: 1,
  world: { seed: 1 },
  testTimeTraining: {
    lora: { targets: ALL_PROJECTIONS, rank: 16, alpha: 32, dropout: 0 },
    batchSize: 4,
    // The paper's 375 steps cover its recipes over up to ~10 demonstrations with their
    // augmentations; 2–4 demonstrations of grids up to 6×6 need about a fifteenth of that. At
    // batch 4 the oracle recipe (8 symmetries, 2 epochs) takes 8–16 steps, so it fits, while
    // about a third of the untrained model's recipe spread asks for more and is discarded.
    maxSteps: 24,
    maxSide: 6,
    leaveTwoOut: false,
    colourPermutations: 0,
    attempts: 2,
  },
  // A recipe is 36 tokens of the puzzle tokenizer, its end marker included.
  recipes: { temperature: 1, topP: 1, maxAttempts: 3, maxNewTokens: 48 },
  rl: {
    rounds: 1,
    tasksPerRound: 32,
    samples: 5,
    behaviourCloning: {
      method: 'lora',
      lora: { targets: ALL_PROJECTIONS, rank: 16, alpha: 32, dropout: 0 },
      epochs: 2,
      learningRate: 3e-4,
      batchSize: 4,
    },
  },
  evaluation: {
    split: 'evaluation',
    tasks: 32,
    samples: 5,
    // To be chosen on validation puzzles with the shipped puzzle model.
    oracle: {
      basic: true,
      size: false,
      chain: false,
      repeat: false,
      loss: 'outputs',
      lr: 3e-3,
      epochs: 2,
    },
  },
};

/**
 * The defaults with `overrides` laid over them, checked. An error names the first bad setting by
 * its path in the config, the rule it breaks and the value.
 */
export function resolveTable1Config(overrides: unknown = {}): Table1Config {
  const config = overlay(DEFAULT_TABLE1_CONFIG, overrides, '');
  const result = v.safeParse(Table1ConfigSchema, config, { abortEarly: true });
  if (result.success) return result.output;
  const [issue] = result.issues;
  const keys = (issue.path ?? []).map((item) => String(item.key));
  const value = keys.reduce<unknown>(
    (group, key) => (group as Record<string, unknown> | undefined)?.[key],
    config,
  );
  throw new Error(
    `Table 1 setting ${keys.join('.') || 'config'} must be ${issue.message}, got ${shownValue(value)}`,
  );
}

/** The hand-tuned recipe of the oracle condition. */
export function oracleRecipe(config: Table1Config): Recipe {
  const parsed = parseRecipe(JSON.stringify(config.evaluation.oracle));
  if (!parsed.ok) throw new Error(`the oracle recipe is not valid: ${parsed.reason}`);
  return parsed.recipe;
}

/** The settings `applyRecipe` and `answerPuzzle` take. */
export function testTimeTrainingSettings(config: Table1Config): TestTimeTrainingSettings {
  return config.testTimeTraining;
}
