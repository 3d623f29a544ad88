/**
 * Measuring a puzzle model: on each task, in-context success (the voted answer of the model as it
 * is) and success after test-time training with given recipes, each applied from a few seeds.
 * Shares are reported with bootstrap intervals over tasks (a task's trials are not independent),
 * and recipes are broken down by feature, to see which settings make test-time training work.
 */
import type { TextGenerationModel } from '../model/generateText';
import { accuracyInterval, DEFAULT_BOOTSTRAP, pairedDifferenceInterval } from '../seal/statistics';
import type { BootstrapOptions, ContextScore, Interval } from '../seal/statistics';
import { createRng } from '../world/random';
import type { PuzzleTask } from './grid';
import { randomRecipe, recipeText, type Recipe, type RecipeSpread } from './recipe';
import { renderGrid } from './text';
import { answerPuzzle, applyRecipe, type TestTimeTrainingSettings } from './testTimeTraining';

export interface RecipeTrial {
  recipe: Recipe;
  seed: number;
  status: 'applied' | 'over-budget';
  solved: boolean;
  exampleCount: number;
  steps: number;
  /** Training loss of the last step (null when the recipe was not applied). */
  finalLoss: number | null;
  /** Wall time of training and voting. */
  ms: number;
}

export interface TaskMeasurement {
  id: string;
  inContext: { solved: boolean; attempts: string[]; ms: number };
  trials: RecipeTrial[];
  /** Wall time of the whole task: the in-context answer and every trial. */
  ms: number;
}

/** `count` recipes drawn from `spread` for one task, the same for the same task and seed. */
export function randomRecipesFor(
  taskId: string,
  count: number,
  seed: number,
  spread: RecipeSpread,
): Recipe[] {
  const rng = createRng(`puzzle-measure/${seed}/${taskId}`);
  return Array.from({ length: count }, () => randomRecipe(rng, spread));
}

/** In-context answer, then every recipe applied once per seed. */
export async function measurePuzzleTask(
  model: TextGenerationModel,
  id: string,
  task: PuzzleTask,
  recipes: readonly Recipe[],
  seeds: readonly number[],
  settings: TestTimeTrainingSettings,
): Promise<TaskMeasurement> {
  const start = performance.now();
  const inContext = await answerPuzzle(model, task, settings);
  const trials: RecipeTrial[] = [];
  for (const recipe of recipes) {
    for (const seed of seeds) {
      const trialStart = performance.now();
      const outcome = await applyRecipe(model, task, recipe, settings, seed);
      const applied = outcome.status === 'applied';
      trials.push({
        recipe,
        seed,
        status: outcome.status,
        solved: applied && outcome.solved,
        exampleCount: outcome.exampleCount,
        steps: outcome.steps,
        finalLoss: applied ? (outcome.losses.at(-1) ?? null) : null,
        ms: performance.now() - trialStart,
      });
    }
  }
  return {
    id,
    inContext: {
      solved: inContext.solved,
      attempts: inContext.vote.attempts.map(renderGrid),
      ms: inContext.answerMs,
    },
    trials,
    ms: performance.now() - start,
  };
}

/** A recipe's features as `name=value` labels: each switch, the loss, learning rate and epochs. */
export function recipeFeatures(recipe: Recipe): string[] {
  const text = JSON.parse(recipeText(recipe)) as Record<string, unknown>;
  return Object.entries(text).map(([key, value]) => `${key}=${String(value)}`);
}

export interface FeatureShare extends Interval {
  trials: number;
  solved: number;
}

export interface PuzzleMeasurementSummary {
  /** Flat figures: shares with `_ci_low` / `_ci_high`, counts and mean seconds. */
  metrics: Record<string, number>;
  /** Share of trials solved among the recipes with each feature, over every task. */
  byFeature: Record<string, FeatureShare>;
}

function score(id: string, correct: number, asked: number): ContextScore {
  return { context: id, cluster: id, correct, asked };
}

function withInterval(metrics: Record<string, number>, name: string, interval: Interval): void {
  metrics[name] = interval.point;
  metrics[`${name}_ci_low`] = interval.low;
  metrics[`${name}_ci_high`] = interval.high;
}

const meanOf = (values: readonly number[]) =>
  values.length === 0 ? 0 : values.reduce((sum, x) => sum + x, 0) / values.length;

/**
 * `icl`: share of tasks solved in context; `ttt`: share of trials solved after training (over
 * budget counts as unsolved); `ttt_minus_icl`: their paired difference per task; `ttt_any`: share
 * of tasks that some trial solved. Intervals resample tasks.
 */
export function summarizePuzzleMeasurements(
  tasks: readonly TaskMeasurement[],
  bootstrap: BootstrapOptions = DEFAULT_BOOTSTRAP,
): PuzzleMeasurementSummary {
  if (tasks.length === 0) throw new Error('no task was measured');
  const icl = tasks.map((t) => score(t.id, t.inContext.solved ? 1 : 0, 1));
  const ttt = tasks.map((t) =>
    score(t.id, t.trials.filter((r) => r.solved).length, t.trials.length),
  );
  const trials = tasks.flatMap((t) => t.trials);
  const metrics: Record<string, number> = { tasks: tasks.length, trials: trials.length };
  withInterval(metrics, 'icl', accuracyInterval(icl, bootstrap));
  if (trials.length > 0) {
    withInterval(metrics, 'ttt', accuracyInterval(ttt, bootstrap));
    withInterval(metrics, 'ttt_minus_icl', pairedDifferenceInterval(ttt, icl, bootstrap));
    const any = tasks.map((t) => score(t.id, t.trials.some((r) => r.solved) ? 1 : 0, 1));
    withInterval(metrics, 'ttt_any', accuracyInterval(any, bootstrap));
    metrics.over_budget = trials.filter((r) => r.status === 'over-budget').length / trials.length;
    metrics.trial_seconds_mean = meanOf(trials.map((r) => r.ms)) / 1000;
  }
  metrics.icl_seconds_mean = meanOf(tasks.map((t) => t.inContext.ms)) / 1000;
  metrics.task_seconds_mean = meanOf(tasks.map((t) => t.ms)) / 1000;

  const features = [...new Set(trials.flatMap((r) => recipeFeatures(r.recipe)))].sort();
  const byFeature: Record<string, FeatureShare> = {};
  for (const feature of features) {
    const scores = tasks.map((t) => {
      const having = t.trials.filter((r) => recipeFeatures(r.recipe).includes(feature));
      return score(t.id, having.filter((r) => r.solved).length, having.length);
    });
    byFeature[feature] = {
      trials: scores.reduce((n, s) => n + s.asked, 0),
      solved: scores.reduce((n, s) => n + s.correct, 0),
      ...accuracyInterval(scores, bootstrap),
    };
  }
  return { metrics, byFeature };
}
