/**
 * A Table 1 run: ReST-EM with a binary reward on the puzzle world (SEAL's Experiment B), with
 * every recipe evaluation kept as an episode of a stored run. Each round (plan.ts lists its
 * steps) evaluates the round's model on the held-out puzzles, then — before the last round —
 * samples K recipes for each training puzzle, applies each, and clones the solved ones: SFT of
 * the model on (recipe prompt → recipe), merged, is the next round's model.
 *
 * Like the knowledge runs (seal/restem.ts, whose generator checkpoints this reuses), the store
 * moves the run's position with each episode and everything is seeded, so a run resumed after a
 * stop redoes exactly the work not yet stored and gets the same numbers.
 */
import type { SealExecutor } from '../../pool/executor';
import { seedOf } from '../../seal/plan';
import type { SealModel } from '../../seal/innerLoop';
import { updateGenerator, type SealRecords } from '../../seal/restem';
import { comparePositions, type EpisodeRecord, type NewEpisode, type RunRecord } from '../../store';
import {
  driveStoredRun,
  evaluateAndStore,
  keepRoundModel,
  nextRound,
  positionsAfter,
  restoreRoundModel,
  stepWindows,
  storedRunToResume,
  type StoredRunOptions,
} from '../../storedRun';
import { parseRecipe } from '../recipe';
import { recipeCompletion } from '../text';
import { resolveTable1Config, type Table1Config } from './config';
import { PuzzleRoundEvaluator } from './evaluate';
import {
  planPuzzleRound,
  PUZZLE_STREAM,
  totalPuzzleSteps,
  type PuzzleStep,
  type Table1Tasks,
} from './plan';

/** The run record's kind: the History panel lists Table 1 runs under it. */
export const TABLE1_RUN_KIND = 'table1';

export type Table1Event =
  | { type: 'run'; run: RunRecord; totalSteps?: number }
  | { type: 'episode'; step: PuzzleStep; episode: NewEpisode }
  /** The M-step of `round` trained on `kept` solved recipes of `recipes` sampled. */
  | { type: 'round'; round: number; kept: number; recipes: number }
  | { type: 'done'; run: RunRecord };

export interface Table1RunOptions extends StoredRunOptions {
  model: SealModel & { id: string };
  tasks: Table1Tasks;
  records: SealRecords;
  onEvent?: (event: Table1Event) => void;
}

/** Behaviour cloning's data: each solved E-step recipe as (recipe prompt, canonical recipe). */
export function behaviourCloningData(
  episodes: readonly Pick<EpisodeRecord, 'kind' | 'reward' | 'prompt' | 'parsedExamples'>[],
): { prompt: string; selfEdit: string }[] {
  return episodes.flatMap((episode) => {
    if (episode.kind !== 'recipe' || episode.reward !== 1) return [];
    const parsed = parseRecipe(episode.parsedExamples[0] ?? '');
    return parsed.ok ? [{ prompt: episode.prompt, selfEdit: recipeCompletion(parsed.recipe) }] : [];
  });
}

export async function startTable1Run(
  options: Table1RunOptions,
  input: { config: unknown; name?: string },
): Promise<RunRecord> {
  const config = resolveTable1Config(input.config);
  const run = await options.records.createRun({
    kind: TABLE1_RUN_KIND,
    name: input.name,
    config: { table1: config as unknown as Record<string, never>, model: options.model.id },
    seeds: { run: config.seed, world: config.world.seed },
    datasetIds: [],
  });
  return driveRun(options, run, config);
}

export async function resumeTable1Run(
  options: Table1RunOptions,
  runId: string,
): Promise<RunRecord> {
  const config = table1ConfigOfRun(await storedRunToResume(options, runId));
  const run = await options.records.resumeRun(runId);
  return driveRun(options, run, config);
}

export function table1ConfigOfRun(run: Pick<RunRecord, 'config' | 'id'>): Table1Config {
  const config = (run.config as { table1?: unknown }).table1;
  if (config === undefined) throw new Error(`Run ${run.id} is not a Table 1 run.`);
  return resolveTable1Config(config);
}

/** Runs from the run's position to its end; the model's weights are restored afterwards. */
async function driveRun(
  options: Table1RunOptions,
  run: RunRecord,
  config: Table1Config,
): Promise<RunRecord> {
  return driveStoredRun(options, run, {
    totalSteps: () => totalPuzzleSteps(config, options.tasks),
    restore: (round) => restoreRoundModel(options, run.id, round),
    runRounds: (executor) => runRounds(options, run, config, executor),
  });
}

async function runRounds(
  options: Table1RunOptions,
  run: RunRecord,
  config: Table1Config,
  executor: SealExecutor,
): Promise<void> {
  const { records, model } = options;
  let position = run.progress;
  for (let round = position.round; round <= config.rl.rounds; round++) {
    const plan = planPuzzleRound(config, options.tasks, round);
    const evaluator = new PuzzleRoundEvaluator({ runId: run.id, round, config, executor });
    const nextOf = positionsAfter(plan.steps, plan.mStepPosition ?? nextRound(round));
    const pending = plan.steps.filter((step) => comparePositions(step.position, position) >= 0);
    await evaluateAndStore(stepWindows(pending, executor.parallelism), {
      evaluate: (step) => evaluator.evaluate(step),
      store: async (step, episode) => {
        position = nextOf.get(step)!;
        await records.appendEpisode(episode, position);
        options.onEvent?.({ type: 'episode', step, episode });
      },
      checkpoint: options.checkpoint,
    });
    if (plan.mStepPosition === null) break;
    const recipes = (await records.listEpisodes(run.id)).filter(
      (e) => e.round === round && e.kind === 'recipe',
    );
    const kept = behaviourCloningData(recipes);
    await keepRoundModel(
      options,
      run.id,
      round,
      `round ${round + 1} model (after round ${round}'s behaviour cloning)`,
      () =>
        updateGenerator(
          model,
          kept,
          { outer: { mStep: config.rl.behaviourCloning } },
          seedOf(config.seed, PUZZLE_STREAM.behaviourCloning, round),
          options.checkpoint,
        ),
    );
    await executor.syncWeights();
    options.onEvent?.({ type: 'round', round, kept: kept.length, recipes: recipes.length });
    position = nextRound(round);
    await records.advanceRun(run.id, position);
  }
}
