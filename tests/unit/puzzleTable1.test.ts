import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import { isCancelledError, JobRegistry } from '../../src/engine/jobs';
import { recipeCompletion, recipePrompt } from '../../src/engine/puzzles/text';
import { recipeText, type Recipe } from '../../src/engine/puzzles/recipe';
import { tinyPuzzleModel } from '../../src/engine/puzzles/tinyModel';
import {
  DEFAULT_TABLE1_CONFIG,
  oracleRecipe,
  resolveTable1Config,
} from '../../src/engine/puzzles/experiment/config';
import { recipeCost } from '../../src/engine/puzzles/tryout';
import { generatePuzzleWorld } from '../../src/engine/puzzles/world';
import { randomRecipe, UNEVEN_RECIPES } from '../../src/engine/puzzles/recipe';
import { createRng } from '../../src/engine/world/random';
import { planPuzzleRound, totalPuzzleSteps } from '../../src/engine/puzzles/experiment/plan';
import {
  table1Goals,
  table1Metrics,
  type Table1Episode,
} from '../../src/engine/puzzles/experiment/results';
import {
  behaviourCloningData,
  resumeTable1Run,
  startTable1Run,
  type Table1Event,
} from '../../src/engine/puzzles/experiment/run';
import { table1Tasks } from '../../src/engine/puzzles/experiment/worldTasks';
import { updateGenerator } from '../../src/engine/seal/restem';
import type { EpisodeRecord, PuzzleCondition } from '../../src/engine/store';
import { freshStore } from './storeHelpers';

beforeAll(async () => {
  await selectBackend('wasm');
});

const TINY = (
  JSON.parse(readFileSync('experiments/table1-tiny.json', 'utf8')) as { table1: unknown }
).table1;

describe('Table 1 config', () => {
  it('fits the oracle recipe in the step budget on every task, and discards part of the untrained spread', () => {
    const { tasks } = generatePuzzleWorld({
      counts: { pretrain: 0, rl: 64, validation: 32, evaluation: 64 },
    });
    const oracle = oracleRecipe(DEFAULT_TABLE1_CONFIG);
    const rng = createRng('budget');
    let over = 0;
    let drawn = 0;
    for (const { task } of tasks) {
      expect(recipeCost(task, oracle, 1).withinBudget).toBe(true);
      for (let seed = 0; seed < 10; seed++, drawn++) {
        if (!recipeCost(task, randomRecipe(rng, UNEVEN_RECIPES), seed).withinBudget) over++;
      }
    }
    // Part of the untrained spread is discarded: writing recipes that fit is one thing RL can learn.
    expect(over / drawn).toBeGreaterThan(0.15);
    expect(over / drawn).toBeLessThan(0.5);
  });

  it('lays overrides over the defaults, keeps the oracle as the model writes it, and names bad settings', () => {
    const config = resolveTable1Config({ rl: { samples: 15 } });
    expect(config.rl.samples).toBe(15);
    expect(config.testTimeTraining).toEqual(DEFAULT_TABLE1_CONFIG.testTimeTraining);
    expect(resolveTable1Config(config)).toEqual(config);
    expect(oracleRecipe(config).learningRate).toBe(config.evaluation.oracle.lr);
    expect(() => resolveTable1Config({ rl: { sample: 3 } })).toThrow(/unknown setting 'rl.sample'/);
    expect(() => resolveTable1Config({ evaluation: { split: 'rl' } })).toThrow(
      /^Table 1 setting evaluation.split must be one of validation, evaluation, got "rl"/,
    );
    expect(() => resolveTable1Config({ evaluation: { oracle: { epochs: 50 } } })).toThrow(
      /evaluation.oracle must be a valid recipe \(epochs 50 is outside 1–10\)/,
    );
  });

  it('plans the held-out conditions before the first round, the E-step before each M-step', () => {
    const config = resolveTable1Config(TINY);
    const tasks = table1Tasks(config);
    const first = planPuzzleRound(config, tasks, 0);
    const labels = first.steps.map((s) =>
      s.kind === 'puzzle-eval' ? `${s.condition}/${s.sampleIndex}` : `recipe/${s.sampleIndex}`,
    );
    expect(labels).toEqual([
      'icl/0',
      'oracle/0',
      'ttt_untrained/0',
      'ttt_untrained/1',
      'recipe/0',
      'recipe/1',
    ]);
    expect(first.steps.every((s) => (s.kind === 'recipe') === (s.task.split === 'rl'))).toBe(true);
    expect(first.mStepPosition).toEqual({ round: 0, contextIndex: 4, sampleIndex: 0 });
    const last = planPuzzleRound(config, tasks, 1);
    expect(last.steps.map((s) => s.kind === 'puzzle-eval' && s.condition)).toEqual([
      'seal',
      'seal',
    ]);
    expect(last.mStepPosition).toBeNull();
    expect(totalPuzzleSteps(config, tasks)).toBe(8);
  });
});

function evalEpisode(
  condition: PuzzleCondition,
  task: string,
  reward: number,
  round = 0,
  status: 'applied' | 'invalid' | 'over-budget' | 'in-context' = 'applied',
): Table1Episode {
  return { kind: 'puzzle-eval', round, contextId: task, reward, puzzle: { condition, status } };
}

describe('Table 1 metrics', () => {
  it('scores each row as the share of its samples solved, with intervals over tasks and a paired difference', () => {
    const episodes: Table1Episode[] = [
      evalEpisode('icl', 'a', 0, 0, 'in-context'),
      evalEpisode('icl', 'b', 1, 0, 'in-context'),
      evalEpisode('oracle', 'a', 1),
      evalEpisode('oracle', 'b', 1),
      evalEpisode('ttt_untrained', 'a', 1),
      evalEpisode('ttt_untrained', 'a', 0, 0, 'invalid'),
      evalEpisode('ttt_untrained', 'b', 0, 0, 'over-budget'),
      evalEpisode('ttt_untrained', 'b', 0, 0, 'invalid'),
      // A recipe of a training puzzle is not part of the table.
      { kind: 'recipe', round: 0, contextId: 'rl-a', reward: 1 },
      evalEpisode('seal', 'a', 1, 1),
      evalEpisode('seal', 'a', 0, 1),
      evalEpisode('seal', 'b', 0, 1),
      evalEpisode('seal', 'b', 0, 1),
      evalEpisode('seal', 'a', 1, 2),
      evalEpisode('seal', 'a', 1, 2),
      evalEpisode('seal', 'b', 1, 2),
      evalEpisode('seal', 'b', 0, 2),
    ];
    const metrics = table1Metrics(episodes);
    expect(metrics.icl).toBe(0.5);
    expect(metrics.oracle).toBe(1);
    expect(metrics.ttt_untrained).toBe(0.25);
    expect(metrics.ttt_untrained_invalid).toBe(0.5);
    expect(metrics.ttt_untrained_over_budget).toBe(0.25);
    expect(metrics.seal_round_1).toBe(0.25);
    expect(metrics.seal_round_2).toBe(0.75);
    expect(metrics.seal).toBe(0.75);
    expect(metrics.seal_minus_ttt_untrained).toBe(0.5);
    expect(metrics.tasks).toBe(2);
    // Resampling two tasks: the untrained share is 0.5 (a twice), 0.25 or 0 (b twice).
    expect(metrics.ttt_untrained_ci_low).toBe(0);
    expect(metrics.ttt_untrained_ci_high).toBe(0.5);
    // Paired by task: a gains 0.5, b gains 0.5, so every resample's difference is 0.5.
    expect(metrics.seal_minus_ttt_untrained_ci_low).toBe(0.5);
    expect(metrics.seal_minus_ttt_untrained_ci_high).toBe(0.5);
    expect(metrics.oracle_ci_low).toBe(1);
    // Split by the in-context answer: b is solved in context, a is not.
    expect(metrics.ttt_untrained_on_icl_solved).toBe(0);
    expect(metrics.ttt_untrained_on_icl_unsolved).toBe(0.5);
    expect(metrics.seal_on_icl_solved).toBe(0.5);
    expect(metrics.seal_on_icl_unsolved).toBe(1);
    expect(metrics.oracle_on_icl_unsolved).toBe(1);
    expect(metrics.seal_on_icl_unsolved_ci_low).toBe(1);
  });

  it('splits a row by the in-context answer only on tasks whose in-context answer is stored', () => {
    const metrics = table1Metrics([
      evalEpisode('icl', 'a', 1, 0, 'in-context'),
      evalEpisode('ttt_untrained', 'a', 1),
      evalEpisode('ttt_untrained', 'a', 0),
      evalEpisode('ttt_untrained', 'b', 0),
    ]);
    expect(metrics.ttt_untrained).toBeCloseTo(1 / 3);
    expect(metrics.ttt_untrained_on_icl_solved).toBe(0.5);
    expect(metrics).not.toHaveProperty('ttt_untrained_on_icl_unsolved');
    expect(metrics).not.toHaveProperty('seal_on_icl_solved');
  });

  it('leaves out rows with nothing measured yet', () => {
    const metrics = table1Metrics([evalEpisode('icl', 'a', 0, 0, 'in-context')]);
    expect(Object.keys(metrics).sort()).toEqual(['icl', 'icl_ci_high', 'icl_ci_low', 'tasks']);
  });
});

const RECIPE: Recipe = {
  basic: true,
  size: false,
  chain: true,
  repeat: false,
  loss: 'all',
  learningRate: 0.001,
  epochs: 2,
};

type CloningEpisode = Pick<EpisodeRecord, 'kind' | 'reward' | 'prompt' | 'parsedExamples'>;

describe('Table 1 goals', () => {
  it("checks the paper's ordering on the rows and the paired interval's low end", () => {
    const goals = table1Goals({
      icl: 0.156,
      ttt_untrained: 0.084,
      seal: 0.119,
      oracle: 0.119,
      seal_minus_ttt_untrained_ci_low: 0.003,
    });
    expect(goals.map((g) => [g.goal, g.met])).toEqual([
      ['icl < ttt_untrained', false],
      ['ttt_untrained < seal', true],
      ['seal ≤ oracle', true],
      ['seal − ttt_untrained above 0 (paired interval)', true],
    ]);
    expect(goals[0]!.detail).toBe('icl 15.6 %, ttt_untrained 8.4 %');
    expect(goals[3]!.detail).toBe("the interval's low end is 0.3 points");
    const partial = table1Goals({ icl: 0, seal_minus_ttt_untrained_ci_low: 0 });
    expect(partial.map((g) => g.met)).toEqual([null, null, null, false]);
  });
});

describe('behaviour cloning', () => {
  const demos = [
    { input: [[1, 0]], output: [[0, 1]] },
    { input: [[2, 0]], output: [[0, 2]] },
  ];
  const prompt = recipePrompt(demos);
  const episodes: CloningEpisode[] = [
    { kind: 'recipe', reward: 1, prompt, parsedExamples: [recipeText(RECIPE)] },
    { kind: 'recipe', reward: 0, prompt, parsedExamples: [recipeText({ ...RECIPE, epochs: 9 })] },
    { kind: 'recipe', reward: 0, prompt, parsedExamples: [] },
    { kind: 'puzzle-eval', reward: 1, prompt, parsedExamples: [recipeText(RECIPE)] },
  ];

  it('learns only the solved recipes of the E-step, written canonically', () => {
    expect(behaviourCloningData(episodes)).toEqual([
      { prompt, selfEdit: recipeCompletion(RECIPE) },
    ]);
  });

  it('moves the model toward them and frees every tensor it made', async () => {
    const model = tinyPuzzleModel(4);
    const config = resolveTable1Config(TINY);
    const before = tf.memory().numTensors;
    const weight = model.weights.get('model.layers.0.self_attn.q_proj.weight')!;
    const old = (await weight.data()).slice();
    await updateGenerator(
      model,
      behaviourCloningData(episodes),
      { outer: { mStep: config.rl.behaviourCloning } },
      5,
    );
    expect(tf.memory().numTensors).toBe(before);
    const changed = await weight.data();
    expect(changed.some((value, i) => value !== old[i])).toBe(true);
    tf.dispose([...model.weights.values()]);
  });
});

/** The tiny Table 1 run, optionally stopped after some episodes or right after a round's M-step, then resumed. */
async function tinyRun(interrupt?: { afterEpisodes: number } | 'after-the-m-step') {
  const model = tinyPuzzleModel(3);
  const store = freshStore();
  const jobs = new JobRegistry();
  const tasks = table1Tasks(resolveTable1Config(TINY));
  const tensorsAtRounds: number[] = [];
  let episodes = 0;
  let interrupted = false;
  const options = (jobId: string) => ({
    model,
    tasks,
    records: store,
    onEvent: (event: Table1Event) => {
      if (event.type === 'round') tensorsAtRounds.push(tf.memory().numTensors);
      if (interrupted) return;
      if (typeof interrupt === 'object' && event.type === 'episode') {
        if (++episodes === interrupt.afterEpisodes) {
          interrupted = true;
          jobs.cancel(jobId);
        }
      } else if (interrupt === 'after-the-m-step' && event.type === 'round') {
        interrupted = true;
        throw new Error('the tab went away');
      }
    },
  });
  const tensorsBefore = tf.memory().numTensors;
  let run = await jobs
    .run('first', (checkpoint) =>
      startTable1Run({ ...options('first'), checkpoint }, { config: TINY }),
    )
    .catch(async (error: unknown) => {
      const [stopped] = await store.listRuns();
      expect(stopped!.status).toBe(isCancelledError(error) ? 'paused' : 'failed');
      return jobs.run('second', (checkpoint) =>
        resumeTable1Run({ ...options('second'), checkpoint }, stopped!.id),
      );
    });
  const tensorsAfter = tf.memory().numTensors;
  run = (await store.getRun(run.id))!;
  const stored = await store.listEpisodes(run.id);
  const checkpoints = await store.listCheckpoints(run.id);
  const exported = await store.exportRun(run.id);
  tf.dispose([...model.weights.values()]);
  await store.close();
  const weightCount = model.weights.size;
  return {
    run,
    stored,
    checkpoints,
    exported,
    tensorsBefore,
    tensorsAfter,
    tensorsAtRounds,
    weightCount,
  };
}

/** What must not change when a run is stopped and resumed. */
const outcomeOf = (episodes: readonly EpisodeRecord[]) =>
  episodes.map((e) => ({
    position: [e.round, e.contextIndex, e.sampleIndex],
    kind: e.kind,
    selfEdit: e.selfEdit,
    reward: e.reward,
    losses: e.lossCurve,
    puzzle: e.puzzle,
  }));

describe('a tiny Table 1 run', () => {
  it('stores every evaluation as a puzzle episode, keeps the round model, repeats and resumes exactly', async () => {
    const first = await tinyRun();
    expect(first.run.status).toBe('done');
    expect(first.run.kind).toBe('table1');
    expect(first.tensorsAfter).toBe(first.tensorsBefore);
    expect(first.tensorsAtRounds).toHaveLength(1);
    // At the M-step's end only the run's copy of the starting weights is held besides the model.
    expect(first.tensorsAtRounds[0]).toBe(first.tensorsBefore + first.weightCount);
    expect(first.stored.map((e) => e.puzzle?.condition ?? e.kind)).toEqual([
      'icl',
      'oracle',
      'ttt_untrained',
      'ttt_untrained',
      'recipe',
      'recipe',
      'seal',
      'seal',
    ]);
    expect(first.checkpoints.map((c) => [c.kind, c.round])).toEqual([['full', 0]]);
    const [icl, oracle] = first.stored;
    expect(icl!.puzzle!.status).toBe('in-context');
    expect(icl!.puzzle!.ballots).toHaveLength(8);
    expect(oracle!.puzzle!.status).toBe('applied');
    expect(oracle!.lossCurve.length).toBe(oracle!.puzzle!.steps);
    expect(oracle!.selfEdit).toBe(recipeText(oracleRecipe(resolveTable1Config(TINY))));
    for (const episode of first.stored) {
      expect(episode.reward).toBe(episode.puzzle!.solved ? 1 : 0);
      // A random model's recipes are noise: each is resampled, then counted as a failure.
      if (episode.puzzle!.status === 'invalid') {
        expect(episode.puzzle!.samples).toHaveLength(2);
        expect(episode.reward).toBe(0);
      }
    }
    const metrics = table1Metrics(first.stored);
    for (const row of ['icl', 'oracle', 'ttt_untrained', 'seal', 'seal_round_1']) {
      expect(metrics[row]).toBeGreaterThanOrEqual(metrics[`${row}_ci_low`]!);
      expect(metrics[row]).toBeLessThanOrEqual(metrics[`${row}_ci_high`]!);
    }
    expect(Buffer.from(first.exported.subarray(0, 2)).toString()).toBe('PK');

    const again = await tinyRun();
    expect(outcomeOf(again.stored)).toEqual(outcomeOf(first.stored));

    const resumed = await tinyRun({ afterEpisodes: 3 });
    expect(resumed.run.status).toBe('done');
    expect(outcomeOf(resumed.stored)).toEqual(outcomeOf(first.stored));

    const kept = await tinyRun('after-the-m-step');
    expect(kept.run.status).toBe('done');
    expect(kept.checkpoints).toHaveLength(1);
    expect(outcomeOf(kept.stored)).toEqual(outcomeOf(first.stored));
  }, 600_000);
});
