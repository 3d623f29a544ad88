/**
 * Table 1 from a run's episodes, as the paper measures it: for each way of writing self-edits,
 * the share of them whose test-time training leads to a right answer on held-out puzzles. A
 * recipe that is invalid after its resamples, or over the step budget, counts as a failure. Each
 * row has a 95 % interval from a bootstrap over tasks (a task's samples stay together), and SEAL
 * minus the untrained model is paired by task.
 *
 * Rows: `icl` (tasks solved in context), `ttt_untrained` (recipes from the model before RL),
 * `seal_round_<r>` (recipes from the model after r rounds), `seal` (after the last round),
 * `oracle` (tasks solved with the fixed hand-tuned recipe), `seal_minus_ttt_untrained`.
 *
 * Where the in-context row is measured, `ttt_untrained`, `seal` and `oracle` are also split by
 * whether the task is solved in context (`<row>_on_icl_solved`, `<row>_on_icl_unsolved`): a
 * recipe that keeps an answer the model already gives differs from one that teaches a new rule.
 */
import type { EpisodeRecord, PuzzleCondition } from '../../store';
import {
  accuracyInterval,
  DEFAULT_BOOTSTRAP,
  pairedDifferenceInterval,
  type BootstrapOptions,
  type ContextScore,
  intervalAboveZero,
  type ExperimentGoal,
  type Interval,
} from '../../seal/statistics';

export type Table1Episode = Pick<EpisodeRecord, 'round' | 'contextId' | 'kind' | 'reward'> & {
  puzzle?: Pick<NonNullable<EpisodeRecord['puzzle']>, 'condition' | 'status'>;
};

/** Per task, in order of first appearance: its solved samples of those drawn. */
function taskScores(episodes: readonly Table1Episode[]): ContextScore[] {
  const scores = new Map<string, ContextScore>();
  for (const episode of episodes) {
    const score = scores.get(episode.contextId) ?? {
      context: episode.contextId,
      cluster: episode.contextId,
      correct: 0,
      asked: 0,
    };
    score.correct += episode.reward;
    score.asked += 1;
    scores.set(episode.contextId, score);
  }
  return [...scores.values()];
}

function heldOut(
  episodes: readonly Table1Episode[],
  condition: PuzzleCondition,
  round?: number,
): Table1Episode[] {
  return episodes.filter(
    (e) =>
      e.kind === 'puzzle-eval' &&
      e.puzzle?.condition === condition &&
      (round === undefined || e.round === round),
  );
}

function row(metrics: Record<string, number>, name: string, interval: Interval): void {
  metrics[name] = interval.point;
  metrics[`${name}_ci_low`] = interval.low;
  metrics[`${name}_ci_high`] = interval.high;
}

/** Scores of `a` and `b` on the tasks both have, in `a`'s order. */
function aligned(a: ContextScore[], b: ContextScore[]): [ContextScore[], ContextScore[]] {
  const byTask = new Map(b.map((score) => [score.context, score]));
  const shared = a.filter((score) => byTask.has(score.context));
  return [shared, shared.map((score) => byTask.get(score.context)!)];
}

/**
 * Table 1's rows (0–1) from the episodes stored so far; rows with no episode yet are left out.
 * Also `tasks` (held-out tasks evaluated) and, per sampled row, the share of its recipes that
 * were invalid or over budget (`<row>_invalid`, `<row>_over_budget`).
 */
export function table1Metrics(
  episodes: readonly Table1Episode[],
  options: BootstrapOptions = DEFAULT_BOOTSTRAP,
): Record<string, number> {
  const metrics: Record<string, number> = {};
  const scored = (name: string, rows: readonly Table1Episode[]) => {
    if (rows.length === 0) return null;
    const scores = taskScores(rows);
    row(metrics, name, accuracyInterval(scores, options));
    if (name !== 'icl' && name !== 'oracle') {
      metrics[`${name}_invalid`] =
        rows.filter((e) => e.puzzle?.status === 'invalid').length / rows.length;
      metrics[`${name}_over_budget`] =
        rows.filter((e) => e.puzzle?.status === 'over-budget').length / rows.length;
    }
    return scores;
  };
  const inContext = scored('icl', heldOut(episodes, 'icl'));
  const oracle = scored('oracle', heldOut(episodes, 'oracle'));
  const untrained = scored('ttt_untrained', heldOut(episodes, 'ttt_untrained'));
  const rounds = [...new Set(heldOut(episodes, 'seal').map((e) => e.round))].sort((a, b) => a - b);
  let final: ContextScore[] | null = null;
  for (const round of rounds)
    final = scored(`seal_round_${round}`, heldOut(episodes, 'seal', round));
  if (final) {
    scored('seal', heldOut(episodes, 'seal', rounds.at(-1)));
    if (untrained) {
      const [seal, before] = aligned(final, untrained);
      if (seal.length > 0) {
        row(metrics, 'seal_minus_ttt_untrained', pairedDifferenceInterval(seal, before, options));
      }
    }
  }
  if (inContext) {
    // A task whose in-context answer is not stored yet is in neither part.
    const solvedInContext = new Map(inContext.map((s) => [s.context, s.correct > 0]));
    const byInContext = (name: string, scores: ContextScore[] | null) => {
      if (!scores) return;
      for (const [suffix, solved] of [
        ['on_icl_solved', true],
        ['on_icl_unsolved', false],
      ] as const) {
        const subset = scores.filter((s) => solvedInContext.get(s.context) === solved);
        if (subset.length > 0) row(metrics, `${name}_${suffix}`, accuracyInterval(subset, options));
      }
    };
    byInContext('ttt_untrained', untrained);
    byInContext('seal', final);
    byInContext('oracle', oracle);
  }
  metrics.tasks = new Set(
    episodes.filter((e) => e.kind === 'puzzle-eval').map((e) => e.contextId),
  ).size;
  return metrics;
}

/**
 * Per row, the held-out tasks whose every sample is stored (`samples` per task for sampled rows,
 * one for `icl` and `oracle`); a row with none stored is left out. A run stores a row task by
 * task, so the rest of its tasks are still to come.
 */
export function table1RowTasks(
  episodes: readonly Table1Episode[],
  samples: number,
): Record<string, number> {
  const done: Record<string, number> = {};
  const count = (name: string, rows: readonly Table1Episode[], perTask: number) => {
    if (rows.length === 0) return;
    done[name] = taskScores(rows).filter((score) => score.asked >= perTask).length;
  };
  count('icl', heldOut(episodes, 'icl'), 1);
  count('oracle', heldOut(episodes, 'oracle'), 1);
  count('ttt_untrained', heldOut(episodes, 'ttt_untrained'), samples);
  const rounds = [...new Set(heldOut(episodes, 'seal').map((e) => e.round))].sort((a, b) => a - b);
  for (const round of rounds)
    count(`seal_round_${round}`, heldOut(episodes, 'seal', round), samples);
  if (rounds.length > 0) count('seal', heldOut(episodes, 'seal', rounds.at(-1)), samples);
  return done;
}

/** Per RL round: recipes sampled for training puzzles, how many solved theirs (kept for cloning). */
export interface Table1RoundSummary {
  round: number;
  recipes: number;
  solved: number;
  invalid: number;
  overBudget: number;
}

export function table1Rounds(episodes: readonly Table1Episode[]): Table1RoundSummary[] {
  const rounds = new Map<number, Table1RoundSummary>();
  for (const e of episodes) {
    if (e.kind !== 'recipe') continue;
    const summary = rounds.get(e.round) ?? {
      round: e.round,
      recipes: 0,
      solved: 0,
      invalid: 0,
      overBudget: 0,
    };
    summary.recipes += 1;
    summary.solved += e.reward;
    if (e.puzzle?.status === 'invalid') summary.invalid += 1;
    if (e.puzzle?.status === 'over-budget') summary.overBudget += 1;
    rounds.set(e.round, summary);
  }
  return [...rounds.values()].sort((a, b) => a.round - b.round);
}

const percent = (share: number) => `${(100 * share).toFixed(1)} %`;

/**
 * Table 1's goals checked against its rows: the paper's ordering icl < ttt_untrained < seal ≤
 * oracle (point estimates) and SEAL above the untrained model by its paired interval.
 */
export function table1Goals(m: Record<string, number>): ExperimentGoal[] {
  const ordered = (lower: string, higher: string, orEqual: boolean): ExperimentGoal => {
    const goal = `${lower} ${orEqual ? '≤' : '<'} ${higher}`;
    const [a, b] = [m[lower], m[higher]];
    if (a === undefined || b === undefined) return { goal, met: null, detail: 'not measured' };
    return {
      goal,
      met: orEqual ? a <= b : a < b,
      detail: `${lower} ${percent(a)}, ${higher} ${percent(b)}`,
    };
  };
  return [
    ordered('icl', 'ttt_untrained', false),
    ordered('ttt_untrained', 'seal', false),
    ordered('seal', 'oracle', true),
    intervalAboveZero(
      m,
      'seal_minus_ttt_untrained',
      'seal − ttt_untrained above 0 (paired interval)',
    ),
  ];
}
