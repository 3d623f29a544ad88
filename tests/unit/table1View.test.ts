import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveTable1Config, type Table1Config } from '../../src/engine/puzzles/experiment/config';
import { table1RowTasks, type Table1Episode } from '../../src/engine/puzzles/experiment/results';
import { formatDuration, paceNote, remainingMs } from '../../src/ui/explain/pace';
import {
  inContextSplitRows,
  PAPER_TABLE1,
  partialNote,
  table1ChartRows,
  table1Rows,
} from '../../src/ui/explain/table1';
import {
  RECIPE_CARDS_SHOWN,
  recipeCardOf,
  withRecipeCard,
  type RecipeCardEpisode,
} from '../../src/ui/jobs/table1Cards';
import { presetConfig, TABLE1_PRESETS } from '../../src/ui/jobs/table1Presets';

function config(rounds: number, tasks = 4, samples = 2): Table1Config {
  return resolveTable1Config({ rl: { rounds }, evaluation: { tasks, samples } });
}

function evalEpisode(condition: string, task: string, round = 0): Table1Episode {
  return {
    kind: 'puzzle-eval',
    round,
    contextId: task,
    reward: 0,
    puzzle: { condition: condition as never, status: 'applied' },
  };
}

describe('Table 1 rows as the panel shows them', () => {
  it('lists every row of the run from the start, unmeasured and partial', () => {
    const rows = table1Rows(config(1), {}, {});
    expect(rows.map((row) => row.key)).toEqual([
      'icl',
      'ttt_untrained',
      'seal',
      'seal_minus_ttt_untrained',
      'oracle',
    ]);
    expect(rows.every((row) => row.ours === null && row.tasksDone === 0)).toBe(true);
    expect(partialNote(rows[0]!)).toBe('partial: 0 of 4 tasks');
  });

  it('fills rows in with intervals, failure shares and completed tasks, with the paper beside', () => {
    const table1 = {
      icl: 0,
      icl_ci_low: 0,
      icl_ci_high: 0,
      ttt_untrained: 0.25,
      ttt_untrained_ci_low: 0.1,
      ttt_untrained_ci_high: 0.4,
      ttt_untrained_invalid: 0.5,
      ttt_untrained_over_budget: 0.125,
      seal: 0.5,
      seal_ci_low: 0.3,
      seal_ci_high: 0.7,
      seal_invalid: 0,
      seal_over_budget: 0.25,
      seal_minus_ttt_untrained: 0.25,
      seal_minus_ttt_untrained_ci_low: -0.1,
      seal_minus_ttt_untrained_ci_high: 0.6,
    };
    const rows = table1Rows(config(1), table1, { icl: 4, ttt_untrained: 4, seal: 3 });
    const byKey = new Map(rows.map((row) => [row.key, row]));
    expect(byKey.get('ttt_untrained')).toMatchObject({
      ours: { point: 0.25, low: 0.1, high: 0.4 },
      invalid: 0.5,
      overBudget: 0.125,
      paper: PAPER_TABLE1.ttt_untrained,
      tasksDone: 4,
    });
    expect(byKey.get('icl')).toMatchObject({ invalid: null, overBudget: null, paper: 0 });
    expect(partialNote(byKey.get('icl')!)).toBeNull();
    expect(partialNote(byKey.get('seal')!)).toBe('partial: 3 of 4 tasks');
    // The difference is as far along as the less complete of its two rows.
    expect(byKey.get('seal_minus_ttt_untrained')).toMatchObject({
      tasksDone: 3,
      paper: PAPER_TABLE1.seal - PAPER_TABLE1.ttt_untrained,
    });
    expect(byKey.get('oracle')!.ours).toBeNull();
    // The chart shows shares only: not the difference, which can be negative.
    expect(table1ChartRows(rows).map((row) => row.key)).toEqual([
      'icl',
      'ttt_untrained',
      'seal',
      'oracle',
    ]);
  });

  it('shows each round of a run with more than one, and no SEAL rows without RL', () => {
    const keys = (rounds: number) => table1Rows(config(rounds), {}, {}).map((row) => row.key);
    expect(keys(2)).toEqual([
      'icl',
      'ttt_untrained',
      'seal_round_1',
      'seal_round_2',
      'seal',
      'seal_minus_ttt_untrained',
      'oracle',
    ]);
    expect(keys(0)).toEqual(['icl', 'ttt_untrained', 'oracle']);
  });

  it('counts a row task as done once all its samples are stored', () => {
    const done = table1RowTasks(
      [
        evalEpisode('icl', 'a'),
        evalEpisode('icl', 'b'),
        evalEpisode('oracle', 'a'),
        evalEpisode('ttt_untrained', 'a'),
        evalEpisode('ttt_untrained', 'a'),
        evalEpisode('ttt_untrained', 'b'),
        evalEpisode('seal', 'a', 1),
        evalEpisode('seal', 'a', 1),
        evalEpisode('seal', 'a', 2),
      ],
      2,
    );
    expect(done).toEqual({
      icl: 2,
      oracle: 1,
      ttt_untrained: 1,
      seal_round_1: 1,
      seal_round_2: 0,
      seal: 0,
    });
  });
});

describe('the recipe rows split by the in-context answer', () => {
  it('shows each recipe row measured on either side, with its interval, and nothing before icl', () => {
    expect(inContextSplitRows({ ttt_untrained: 0.2, ttt_untrained_ci_low: 0.1 })).toEqual([]);
    const rows = inContextSplitRows({
      ttt_untrained_on_icl_solved: 0.5,
      ttt_untrained_on_icl_solved_ci_low: 0.25,
      ttt_untrained_on_icl_solved_ci_high: 0.75,
      ttt_untrained_on_icl_unsolved: 0.02,
      ttt_untrained_on_icl_unsolved_ci_low: 0,
      ttt_untrained_on_icl_unsolved_ci_high: 0.05,
      oracle_on_icl_unsolved: 0.1,
      oracle_on_icl_unsolved_ci_low: 0.05,
      oracle_on_icl_unsolved_ci_high: 0.2,
    });
    expect(rows.map((row) => row.key)).toEqual(['ttt_untrained', 'oracle']);
    expect(rows[0]!.solved).toEqual({ point: 0.5, low: 0.25, high: 0.75 });
    expect(rows[0]!.unsolved).toEqual({ point: 0.02, low: 0, high: 0.05 });
    expect(rows[1]!.solved).toBeNull();
  });
});

describe('the time estimate', () => {
  it('says nothing before an episode is timed, then scales the measured pace', () => {
    expect(remainingMs({ episodes: 0, ms: 0 }, 10)).toBeNull();
    expect(paceNote({ episodes: 0, ms: 0 }, 10)).toBeNull();
    expect(remainingMs({ episodes: 4, ms: 8000 }, 10)).toBe(20_000);
    expect(remainingMs({ episodes: 4, ms: 8000 }, -1)).toBe(0);
    expect(paceNote({ episodes: 4, ms: 8000 }, 30)).toBe(
      'about 60 s left at 2.0 s an episode (4 timed so far; episodes differ in cost)',
    );
  });

  it('writes durations in the unit that reads best', () => {
    expect(formatDuration(400)).toBe('1 s');
    expect(formatDuration(89_000)).toBe('89 s');
    expect(formatDuration(30 * 60_000)).toBe('30 min');
    expect(formatDuration(150 * 60_000)).toBe('2 h 30 min');
  });
});

describe('the presets', () => {
  it('are the experiments configs, resolved', () => {
    for (const [id, file] of [
      ['tiny', 'table1-tiny'],
      ['validation', 'table1-validation'],
      ['paper', 'table1'],
    ] as const) {
      const written = JSON.parse(readFileSync(`experiments/${file}.json`, 'utf8')) as {
        table1: unknown;
      };
      expect(presetConfig(id)).toEqual(resolveTable1Config(written.table1));
    }
    expect(TABLE1_PRESETS.map((preset) => preset.id)).toEqual(['tiny', 'validation', 'paper']);
    expect(presetConfig('validation').evaluation.split).toBe('validation');
    // A preset is copied: editing the form does not change it.
    presetConfig('tiny').seed = -1;
    expect(presetConfig('tiny').seed).not.toBe(-1);
  });
});

function recipeEpisode(
  sampleIndex: number,
  status: 'applied' | 'invalid' | 'over-budget' | 'in-context',
): RecipeCardEpisode {
  const recipe =
    '{"basic": true, "size": false, "chain": false, "repeat": false, "loss": "all", "lr": 0.01, "epochs": 2}';
  return {
    round: 0,
    contextIndex: 2,
    sampleIndex,
    contextId: 'evaluation-0001',
    kind: 'puzzle-eval',
    selfEdit: status === 'invalid' ? 'nonsense' : recipe,
    lossCurve: status === 'applied' ? [1, 0.5] : [],
    puzzle: {
      condition: 'ttt_untrained',
      status,
      samples:
        status === 'invalid'
          ? [
              { text: 'junk', reason: 'not JSON' },
              { text: 'nonsense', reason: 'not JSON' },
            ]
          : [
              { text: 'junk', reason: 'not JSON' },
              { text: recipe, reason: null },
            ],
      examples: 4,
      steps: status === 'applied' ? 2 : 0,
      ballots: [],
      attempts: status === 'applied' ? [[[1]], [[2]]] : [],
      solved: status === 'applied',
    },
  };
}

describe('recipe cards', () => {
  it('reads the recipe, its fate, loss and attempts from an episode', () => {
    const card = recipeCardOf(recipeEpisode(1, 'applied'), [[2]])!;
    expect(card).toMatchObject({
      title: 'Held-out evaluation-0001, untrained model, recipe 2',
      status: 'applied',
      recipe: { basic: true, loss: 'all', learningRate: 0.01, epochs: 2 },
      resamples: 1,
      steps: 2,
      losses: [1, 0.5],
      attempts: [[[1]], [[2]]],
      truth: [[2]],
      solved: true,
    });
    const invalid = recipeCardOf(recipeEpisode(0, 'invalid'), null)!;
    expect(invalid).toMatchObject({ recipe: null, text: 'nonsense', resamples: 1 });
    expect(recipeCardOf(recipeEpisode(0, 'over-budget'), null)!.recipe?.epochs).toBe(2);
    expect(recipeCardOf(recipeEpisode(0, 'in-context'), null)).toBeNull();
  });

  it('keeps the newest few, newest first', () => {
    let cards = withRecipeCard([], null);
    for (let i = 0; i < RECIPE_CARDS_SHOWN + 2; i++) {
      cards = withRecipeCard(cards, recipeCardOf(recipeEpisode(i, 'applied'), null));
    }
    expect(cards.map((card) => card.key)).toEqual(
      Array.from({ length: RECIPE_CARDS_SHOWN }, (_, i) => `0/2/${RECIPE_CARDS_SHOWN + 1 - i}`),
    );
  });
});
