/**
 * `npm run eval:puzzles [-- options]`: measures a puzzle model on the puzzle world of its seed:
 * per task, in-context success (no update) and success after test-time training with a recipe,
 * with wall times, written to bench/results/puzzles-eval-<date>.json with bootstrap intervals
 * over tasks. Options:
 *   --model DIR          the model folder (models/seal-puzzles-1m)
 *   --split S            validation (default), rl or pretrain; evaluation only when named here
 *   --tasks N            the split's first N tasks (all)
 *   --recipe JSON        the fixed recipe, as the model writes one (a starting recipe otherwise)
 *   --recipes random:N   instead, N recipes per task drawn from the uneven spread the corpus
 *                        teaches, to show how success depends on each recipe feature
 *   --seeds 1,2,…        each recipe is applied once per seed (1)
 *   --settings JSON      test-time-training settings over the defaults, e.g. '{"maxSteps":64}'
 *   --seed N             world seed (the model's training.json, else 1)
 *   --results DIR        where the result file goes (bench/results)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { selectBackend } from '../src/engine/backend';
import { DEFAULT_TABLE1_CONFIG } from '../src/engine/puzzles/experiment/config';
import {
  measurePuzzleTask,
  randomRecipesFor,
  recipeFeatures,
  summarizePuzzleMeasurements,
  type TaskMeasurement,
} from '../src/engine/puzzles/measure';
import { STARTING_RECIPE } from '../src/engine/puzzles/tryout';
import { parseRecipe, UNEVEN_RECIPES, type Recipe } from '../src/engine/puzzles/recipe';
import type { TestTimeTrainingSettings } from '../src/engine/puzzles/testTimeTraining';
import {
  DEFAULT_PUZZLE_WORLD_PARAMS,
  generatePuzzleWorld,
  PUZZLE_SPLITS,
  type PuzzleSplit,
  type PuzzleWorldParams,
} from '../src/engine/puzzles/world';
import { gitCommit, RESULTS_DIR, type BenchResult } from './benchResult';
import { loadModelFolder } from './modelFolder';

function wholeNumber(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`--${name} must be a whole number ≥ 1, got "${text}"`);
  }
  return value;
}

function jsonArg(name: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`--${name} is not JSON: ${(error as Error).message}`);
  }
}

/** The world the model was trained on, as its training.json records it. */
function trainedWorld(modelDir: string): Partial<PuzzleWorldParams> {
  const file = join(modelDir, 'training.json');
  if (!existsSync(file)) return {};
  const training = JSON.parse(readFileSync(file, 'utf8')) as {
    corpus?: { worldParams?: PuzzleWorldParams };
  };
  return training.corpus?.worldParams ?? {};
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'models/seal-puzzles-1m' },
      split: { type: 'string', default: 'validation' },
      tasks: { type: 'string' },
      recipe: { type: 'string' },
      recipes: { type: 'string' },
      seeds: { type: 'string', default: '1' },
      settings: { type: 'string' },
      seed: { type: 'string' },
      results: { type: 'string', default: RESULTS_DIR },
    },
  });
  const split = values.split as PuzzleSplit;
  if (!PUZZLE_SPLITS.includes(split)) {
    throw new Error(`--split must be one of ${PUZZLE_SPLITS.join(', ')}, got "${values.split}"`);
  }
  if (values.recipe !== undefined && values.recipes !== undefined) {
    throw new Error('give --recipe or --recipes, not both');
  }
  let fixedRecipe: Recipe | null = STARTING_RECIPE;
  let randomCount = 0;
  if (values.recipes !== undefined) {
    const count = /^random:(\d+)$/.exec(values.recipes)?.[1];
    if (!count) throw new Error(`--recipes must be random:N, got "${values.recipes}"`);
    randomCount = wholeNumber('recipes', count);
    fixedRecipe = null;
  } else if (values.recipe !== undefined) {
    const parsed = parseRecipe(values.recipe);
    if (!parsed.ok) throw new Error(`--recipe: ${parsed.reason}`);
    fixedRecipe = parsed.recipe;
  }
  const seeds = values.seeds!.split(',').map((seed) => wholeNumber('seeds', seed));
  const settings: TestTimeTrainingSettings = {
    ...DEFAULT_TABLE1_CONFIG.testTimeTraining,
    ...(values.settings === undefined
      ? {}
      : (jsonArg('settings', values.settings) as Partial<TestTimeTrainingSettings>)),
  };

  const backend = await selectBackend('wasm');
  const model = await loadModelFolder(values.model!);
  const worldParams = {
    ...DEFAULT_PUZZLE_WORLD_PARAMS,
    ...trainedWorld(values.model!),
    ...(values.seed === undefined ? {} : { seed: wholeNumber('seed', values.seed) }),
  };
  const world = generatePuzzleWorld(worldParams);
  const all = world.tasks.filter((task) => task.split === split);
  const tasks = values.tasks === undefined ? all : all.slice(0, wholeNumber('tasks', values.tasks));

  const started = Date.now();
  const measured: TaskMeasurement[] = [];
  for (const [i, { id, task }] of tasks.entries()) {
    const recipes = fixedRecipe
      ? [fixedRecipe]
      : randomRecipesFor(id, randomCount, seeds[0]!, UNEVEN_RECIPES);
    const result = await measurePuzzleTask(model, id, task, recipes, seeds, settings);
    measured.push(result);
    const solved = result.trials.filter((t) => t.solved).length;
    process.stderr.write(
      `${i + 1}/${tasks.length} ${id}: in context ${result.inContext.solved ? 'solved' : 'not solved'}, ` +
        `after training ${solved}/${result.trials.length} (${(result.ms / 1000).toFixed(1)} s)\n`,
    );
  }
  const summary = summarizePuzzleMeasurements(measured);
  const result: BenchResult & Record<string, unknown> = {
    name: 'puzzles-eval',
    date: new Date().toISOString(),
    commit: gitCommit(),
    machine: { cpus: os.cpus().length, node: process.version, browser: null },
    backend: backend.active,
    adapter: null,
    metrics: { ...summary.metrics, seconds: (Date.now() - started) / 1000 },
    model: values.model,
    split,
    worldParams,
    recipes: fixedRecipe ? { fixed: fixedRecipe } : { random: randomCount, spread: UNEVEN_RECIPES },
    seeds,
    settings,
    byFeature: summary.byFeature,
    tasks: measured.map((task) => ({
      ...task,
      trials: task.trials.map(({ recipe, ...trial }) => ({
        recipe: recipeFeatures(recipe).join(' '),
        ...trial,
      })),
    })),
  };
  console.log(JSON.stringify({ metrics: result.metrics, byFeature: summary.byFeature }, null, 2));
  mkdirSync(values.results!, { recursive: true });
  const file = `${values.results}/${result.name}-${result.date.replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`→ ${file}`);
}

main().catch((error: unknown) => {
  console.error(`eval:puzzles: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
