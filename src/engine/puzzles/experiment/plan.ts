/**
 * What a Table 1 run does in each round, as steps at positions of the run (one stored episode
 * each), and the seeds every step uses; a resumed run redoes exactly the steps not yet stored.
 *
 * Round r's steps, in run order (contextIndex counts the blocks below, task by task):
 *   1. held-out puzzles with the round's model: in round 0, each task answered in context
 *      ('icl'), with the oracle recipe ('oracle') and with `evaluation.samples` recipes sampled
 *      from the untrained model ('ttt_untrained'); in later rounds, recipes sampled from the
 *      round's model ('seal');
 *   2. before the last round, the E-step: `rl.samples` recipes for each of the round's training
 *      puzzles, each applied and rewarded 1 when it solves the puzzle;
 *   3. the M-step (behaviour cloning on the solved recipes), at `mStepPosition`.
 *
 * A held-out task's n-th recipe has the same sampling and training seeds in every round, so the
 * conditions differ by the model alone.
 */
import { streamSeed } from '../../random';
import type { PuzzleCondition, RunPosition } from '../../store';
import { seedOf } from '../../seal/plan';
import type { PuzzleWorldTask } from '../world';
import type { Table1Config } from './config';

export interface Table1Tasks {
  /** Puzzles the RL rounds train on. */
  rl: PuzzleWorldTask[];
  /** Puzzles Table 1 is measured on. */
  heldOut: PuzzleWorldTask[];
}

export type PuzzleStep =
  | {
      kind: 'puzzle-eval';
      position: RunPosition;
      condition: PuzzleCondition;
      task: PuzzleWorldTask;
      /** The task's index among the held-out tasks. */
      taskIndex: number;
      sampleIndex: number;
    }
  | {
      kind: 'recipe';
      position: RunPosition;
      task: PuzzleWorldTask;
      /** The task's index in the 'rl' split. */
      taskIndex: number;
      sampleIndex: number;
    };

export interface PuzzleRoundPlan {
  round: number;
  steps: PuzzleStep[];
  /** Where the M-step sits (null in the last round, which only evaluates). */
  mStepPosition: RunPosition | null;
}

export const PUZZLE_STREAM = {
  batch: 1,
  heldOutSample: 2,
  heldOutTraining: 3,
  rlSample: 4,
  rlTraining: 5,
  behaviourCloning: 6,
} as const;

/** Seeds of one recipe: its sampling (a batch per task and attempt) and its test-time training. */
export interface RecipeSeeds {
  /** Seed of the batch of the task's recipes; row `sampleIndex` is this recipe. */
  sample: number;
  training: number;
}

export function recipeSeeds(config: Table1Config, step: PuzzleStep, round: number): RecipeSeeds {
  const heldOut = step.kind === 'puzzle-eval';
  // Held-out draws are paired across rounds; training draws are new every round.
  const path = heldOut ? [step.taskIndex] : [round, step.taskIndex];
  return {
    sample: seedOf(
      config.seed,
      heldOut ? PUZZLE_STREAM.heldOutSample : PUZZLE_STREAM.rlSample,
      ...path,
    ),
    training: seedOf(
      config.seed,
      heldOut ? PUZZLE_STREAM.heldOutTraining : PUZZLE_STREAM.rlTraining,
      ...path,
      step.sampleIndex,
    ),
  };
}

/** The training puzzles of `round`: consecutive slices of one seeded shuffle of the 'rl' split. */
export function roundTasks(config: Table1Config, tasks: Table1Tasks, round: number): number[] {
  const order = tasks.rl.map((_, i) => i);
  let state = seedOf(config.seed, PUZZLE_STREAM.batch);
  for (let i = order.length - 1; i > 0; i--) {
    state = streamSeed(state, i);
    const j = state % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const size = Math.min(config.rl.tasksPerRound, order.length);
  return Array.from({ length: size }, (_, i) => order[(round * size + i) % order.length]!);
}

/** Every step of `round`, in run order; see the module's comment. */
export function planPuzzleRound(
  config: Table1Config,
  tasks: Table1Tasks,
  round: number,
): PuzzleRoundPlan {
  const heldOut = tasks.heldOut.slice(0, config.evaluation.tasks);
  const steps: PuzzleStep[] = [];
  let contextIndex = 0;
  const block = (condition: PuzzleCondition, samples: number) => {
    heldOut.forEach((task, taskIndex) => {
      for (let sampleIndex = 0; sampleIndex < samples; sampleIndex++) {
        steps.push({
          kind: 'puzzle-eval',
          position: { round, contextIndex: contextIndex + taskIndex, sampleIndex },
          condition,
          task,
          taskIndex,
          sampleIndex,
        });
      }
    });
    contextIndex += heldOut.length;
  };
  if (round === 0) {
    block('icl', 1);
    block('oracle', 1);
    block('ttt_untrained', config.evaluation.samples);
  } else {
    block('seal', config.evaluation.samples);
  }
  if (round === config.rl.rounds) return { round, steps, mStepPosition: null };
  roundTasks(config, tasks, round).forEach((taskIndex, batchIndex) => {
    for (let sampleIndex = 0; sampleIndex < config.rl.samples; sampleIndex++) {
      steps.push({
        kind: 'recipe',
        position: { round, contextIndex: contextIndex + batchIndex, sampleIndex },
        task: tasks.rl[taskIndex]!,
        taskIndex,
        sampleIndex,
      });
    }
  });
  contextIndex += Math.min(config.rl.tasksPerRound, tasks.rl.length);
  return { round, steps, mStepPosition: { round, contextIndex, sampleIndex: 0 } };
}

/** Episodes a run of `config` stores from start to end. */
export function totalPuzzleSteps(config: Table1Config, tasks: Table1Tasks): number {
  let total = 0;
  for (let round = 0; round <= config.rl.rounds; round++) {
    total += planPuzzleRound(config, tasks, round).steps.length;
  }
  return total;
}
