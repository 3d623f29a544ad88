/**
 * What a run's episodes say, computed the same way in the panel, the scripts and the tests: Table
 * 2's rows with 95 % intervals (a paired bootstrap over clusters of linked contexts), the curve of
 * held-out accuracy over rounds, how reliably the reward ranks a context's self-edits, and the
 * diagnostics of each round's self-edits.
 */
import type { EpisodeRecord, EvaluationCondition, RunPosition } from '../store';
import { REWARD_MODES, type RewardMode, type SealConfig } from './config';
import { clusterOf } from './contexts';
import { episodeCondition, episodeContext, episodeKind } from './episodes';
import { rewardOf, type ProbeScore } from './innerLoop';
import { subsetUnitCount, type RoundPlan } from './plan';
import { keptSelfEdits } from './selection';
import {
  accuracyInterval,
  DEFAULT_BOOTSTRAP,
  mean,
  pairedDifferenceInterval,
  withinGroupCorrelation,
  type BootstrapOptions,
  type ContextScore,
  type Interval,
  type PairedMeasurement,
} from './statistics';

export type ResultEpisode = RunPosition &
  Pick<
    EpisodeRecord,
    'contextId' | 'kind' | 'condition' | 'draw' | 'grades' | 'reward' | 'metrics'
  >;

/** Per context (in order of first appearance): its right answers and questions over every draw. */
function contextScores(episodes: readonly ResultEpisode[]): Map<string, ContextScore> {
  const scores = new Map<string, ContextScore>();
  for (const episode of episodes) {
    const context = episodeContext(episode);
    const score = scores.get(context) ?? {
      context,
      cluster: clusterOf({ id: context.split('+')[0]! }),
      correct: 0,
      asked: 0,
    };
    score.correct += episode.grades.reduce((sum, g) => sum + g, 0);
    score.asked += episode.grades.length;
    scores.set(context, score);
  }
  return scores;
}

/** The held-out episodes of one round and condition, optionally only the curve's subset. */
function heldOut(
  episodes: readonly ResultEpisode[],
  round: number,
  condition: EvaluationCondition,
  subsetUnits: number | null = null,
): ResultEpisode[] {
  return episodes.filter(
    (e) =>
      e.round === round &&
      episodeCondition(e) === condition &&
      (subsetUnits === null || e.contextIndex < subsetUnits),
  );
}

/** Scores of `a` and `b` on the contexts both have, in `a`'s order. */
function aligned(
  a: Map<string, ContextScore>,
  b: Map<string, ContextScore>,
): [ContextScore[], ContextScore[]] {
  const shared = [...a.keys()].filter((context) => b.has(context));
  return [shared.map((c) => a.get(c)!), shared.map((c) => b.get(c)!)];
}

function put(metrics: Record<string, number>, name: string, interval: Interval | null): void {
  if (!interval) return;
  metrics[name] = interval.point;
  metrics[`${name}_ci_low`] = interval.low;
  metrics[`${name}_ci_high`] = interval.high;
}

function accuracyOf(
  episodes: readonly ResultEpisode[],
  options: BootstrapOptions,
): Interval | null {
  const scores = [...contextScores(episodes).values()];
  return scores.length === 0 ? null : accuracyInterval(scores, options);
}

function differenceOf(
  a: readonly ResultEpisode[],
  b: readonly ResultEpisode[],
  options: BootstrapOptions,
): Interval | null {
  const [left, right] = aligned(contextScores(a), contextScores(b));
  return left.length === 0 ? null : pairedDifferenceInterval(left, right, options);
}

/** Each reward mode's value for a rewarded self-edit, from the scores its episode keeps. */
export function rewardsOfEpisode(
  episode: Pick<ResultEpisode, 'metrics'>,
  seedCount = Number.POSITIVE_INFINITY,
): Record<RewardMode, number> | null {
  const metrics = episode.metrics ?? {};
  if (metrics.before_accuracy === undefined) return null;
  const before: ProbeScore = {
    accuracy: metrics.before_accuracy,
    goldLogLikelihood: metrics.before_gold_log_likelihood ?? 0,
  };
  const seeds: ProbeScore[] = [];
  for (let i = 0; i < seedCount && metrics[`seed${i}_accuracy`] !== undefined; i++) {
    seeds.push({
      accuracy: metrics[`seed${i}_accuracy`]!,
      goldLogLikelihood: metrics[`seed${i}_gold_log_likelihood`] ?? 0,
    });
  }
  if (seeds.length === 0) return null;
  return Object.fromEntries(
    REWARD_MODES.map((mode) => [mode, mean(seeds.map((seed) => rewardOf(mode, seed, before)))]),
  ) as Record<RewardMode, number>;
}

/**
 * The share of right answers after a rewarded self-edit's update, averaged over its LoRA seeds as
 * the run measured it; 0 when nothing was applied (self-edits picked at random).
 */
export function appliedAccuracy(episode: Pick<ResultEpisode, 'metrics'>): number {
  const metrics = episode.metrics ?? {};
  const seeds: number[] = [];
  for (let i = 0; metrics[`seed${i}_accuracy`] !== undefined; i++) {
    seeds.push(metrics[`seed${i}_accuracy`]!);
  }
  return seeds.length === 0 ? 0 : mean(seeds);
}

/** A self-edit's E-step episode and its reward check, each with every mode's reward. */
interface CheckedSelfEdit {
  group: string;
  first: Record<RewardMode, number>;
  second: Record<RewardMode, number>;
  /** The configured reward of each evaluation as stored. */
  storedFirst: number;
  storedSecond: number;
}

function checkedSelfEdits(
  episodes: readonly ResultEpisode[],
  seedCount = Number.POSITIVE_INFINITY,
): CheckedSelfEdit[] {
  const key = (e: ResultEpisode) => `${e.round}/${episodeContext(e)}/${e.sampleIndex}`;
  const firsts = new Map(
    episodes.filter((e) => episodeKind(e) === 'self-edit').map((e) => [key(e), e]),
  );
  return episodes.flatMap((check) => {
    const first = episodeKind(check) === 'reward-check' ? firsts.get(key(check)) : undefined;
    const firstRewards = first && rewardsOfEpisode(first, seedCount);
    const secondRewards = rewardsOfEpisode(check, seedCount);
    if (!first || !firstRewards || !secondRewards) return [];
    return [
      {
        group: `${check.round}/${episodeContext(check)}`,
        first: firstRewards,
        second: secondRewards,
        storedFirst: first.reward,
        storedSecond: check.reward,
      },
    ];
  });
}

/**
 * How reliably rewards rank self-edits, from the episodes that were rewarded twice with
 * independent seeds: per mode, the correlation of the two evaluations inside each context
 * (`reward_reliability_<mode>`, and `reward_reliability` for the configured reward as stored),
 * and how well one evaluation's reward predicts the other's exact-match accuracy
 * (`reward_validity_<mode>`). Empty without reward checks.
 */
export function rewardReliability(
  episodes: readonly ResultEpisode[],
  seedCount = Number.POSITIVE_INFINITY,
): Record<string, number> {
  const checked = checkedSelfEdits(episodes, seedCount);
  const metrics: Record<string, number> = {};
  const set = (name: string, items: PairedMeasurement[]) => {
    const value = withinGroupCorrelation(items);
    if (value !== null) metrics[name] = value;
  };
  if (checked.length === 0) return metrics;
  set(
    'reward_reliability',
    checked.map((c) => ({ group: c.group, first: c.storedFirst, second: c.storedSecond })),
  );
  for (const mode of REWARD_MODES) {
    set(
      `reward_reliability_${mode}`,
      checked.map((c) => ({ group: c.group, first: c.first[mode], second: c.second[mode] })),
    );
    set(
      `reward_validity_${mode}`,
      checked.map((c) => ({ group: c.group, first: c.first[mode], second: c.second.accuracy })),
    );
  }
  metrics.reward_checked_self_edits = checked.length;
  return metrics;
}

/**
 * The reliability and validity of every reward mode had each evaluation used only its first n LoRA
 * seeds, for n = 1 … the seeds the run used: what fewer seeds would have cost in ranking.
 */
export function reliabilityBySeeds(
  episodes: readonly ResultEpisode[],
): { seeds: number; metrics: Record<string, number> }[] {
  const seedsUsed = Math.max(
    0,
    ...episodes.map(
      (e) => Object.keys(e.metrics ?? {}).filter((key) => /^seed\d+_accuracy$/.test(key)).length,
    ),
  );
  return Array.from({ length: seedsUsed }, (_, i) => ({
    seeds: i + 1,
    metrics: rewardReliability(episodes, i + 1),
  }));
}

export interface RoundSummary {
  /** 0 = before any RL round (the base generator). */
  round: number;
  /** Held-out accuracy with the self-edits of this round's generator, on the curve's contexts. */
  heldOutAccuracy: number | null;
  heldOutLow: number | null;
  heldOutHigh: number | null;
  /** Mean reward of the round's training self-edits (none after the last round). */
  meanReward: number | null;
  /** Mean reward of the self-edits the M-step kept. */
  keptReward: number | null;
  /** Correlation of the round's reward checks with the first rewards, inside contexts. */
  rewardReliability: number | null;
  selfEdits: number;
  /** How many self-edits the M-step kept. */
  kept: number;
  /** Lines per sampled self-edit (training and held-out). */
  linesPerSelfEdit: number | null;
  /** Share of those lines that agree with / contradict the world's facts (world contexts). */
  consistentShare: number | null;
  contradictingShare: number | null;
  /** Share of sampled self-edits that the token limit cut short. */
  truncatedShare: number | null;
}

function sumOf(episodes: readonly ResultEpisode[], metric: string): number | null {
  const values = episodes.flatMap((e) =>
    e.metrics?.[metric] === undefined ? [] : [e.metrics[metric]!],
  );
  return values.length === 0 ? null : values.reduce((sum, x) => sum + x, 0);
}

/** The generator's own samples of a round: training self-edits and held-out self-edit draws. */
function sampledSelfEdits(episodes: readonly ResultEpisode[]): ResultEpisode[] {
  return episodes.filter(
    (e) => episodeKind(e) === 'self-edit' || episodeCondition(e) === 'self-edit',
  );
}

export function roundSummaries(
  config: SealConfig,
  episodes: readonly ResultEpisode[],
  bootstrap: BootstrapOptions = DEFAULT_BOOTSTRAP,
): RoundSummary[] {
  const subset = subsetUnitCount(config, Number.MAX_SAFE_INTEGER);
  const rounds = [...new Set(episodes.map((e) => e.round))].sort((a, b) => a - b);
  return rounds.map((round) => {
    const ofRound = episodes.filter((e) => e.round === round);
    const training = ofRound.filter((e) => episodeKind(e) === 'self-edit');
    const rewarded = config.outer.selection === 'reward' ? training : [];
    const kept = keptSelfEdits(config, round, training);
    const accuracy = accuracyOf(heldOut(ofRound, round, 'self-edit', subset), bootstrap);
    const sampled = sampledSelfEdits(ofRound);
    const lines = sumOf(sampled, 'lines');
    const share = (metric: string) => {
      const count = sumOf(sampled, metric);
      return count === null || !lines ? null : count / lines;
    };
    const truncated = sumOf(sampled, 'truncated');
    const withTruncation = sampled.filter((e) => e.metrics?.truncated !== undefined).length;
    return {
      round,
      heldOutAccuracy: accuracy?.point ?? null,
      heldOutLow: accuracy?.low ?? null,
      heldOutHigh: accuracy?.high ?? null,
      meanReward: rewarded.length === 0 ? null : mean(rewarded.map((e) => e.reward)),
      keptReward:
        rewarded.length === 0 || kept.length === 0 ? null : mean(kept.map((e) => e.reward)),
      rewardReliability: rewardReliability(ofRound).reward_reliability ?? null,
      selfEdits: training.length,
      kept: kept.length,
      linesPerSelfEdit: lines === null || sampled.length === 0 ? null : lines / sampled.length,
      consistentShare: share('consistent_lines'),
      contradictingShare: share('contradicting_lines'),
      truncatedShare: truncated === null ? null : truncated / withTruncation,
    };
  });
}

/**
 * Table 2's rows as metrics (accuracies 0–1, each with `_ci_low` / `_ci_high`): before the first
 * round `base`, `passage`, `base_self_edits` and `teacher_self_edits`; the final generator's
 * `seal_final` and its paired difference `seal_minus_base_self_edits`; the curve `seal_round_<r>`
 * on the contexts every round evaluates; and after the last round, on those contexts, the cross
 * conditions `seal_edits_on_base_model` and `passage_on_seal_model`. A row with no episodes yet
 * is left out.
 */
export function table2Metrics(
  config: SealConfig,
  episodes: readonly ResultEpisode[],
  bootstrap: BootstrapOptions = DEFAULT_BOOTSTRAP,
): Record<string, number> {
  const metrics: Record<string, number> = {};
  const subset = subsetUnitCount(config, Number.MAX_SAFE_INTEGER);
  const last = config.outer.rounds;
  put(metrics, 'base', accuracyOf(heldOut(episodes, 0, 'base'), bootstrap));
  put(metrics, 'passage', accuracyOf(heldOut(episodes, 0, 'passage'), bootstrap));
  const baseSelfEdits = heldOut(episodes, 0, 'self-edit');
  put(metrics, 'base_self_edits', accuracyOf(baseSelfEdits, bootstrap));
  put(metrics, 'teacher_self_edits', accuracyOf(heldOut(episodes, 0, 'teacher'), bootstrap));
  const finalSelfEdits = heldOut(episodes, last, 'self-edit');
  if (last > 0) {
    put(metrics, 'seal_final', accuracyOf(finalSelfEdits, bootstrap));
    put(
      metrics,
      'seal_minus_base_self_edits',
      differenceOf(finalSelfEdits, baseSelfEdits, bootstrap),
    );
  }
  for (let round = 0; round <= last; round++) {
    put(
      metrics,
      `seal_round_${round}`,
      accuracyOf(heldOut(episodes, round, 'self-edit', subset), bootstrap),
    );
  }
  put(
    metrics,
    'seal_edits_on_base_model',
    accuracyOf(heldOut(episodes, last, 'self-edit-on-base'), bootstrap),
  );
  if (last > 0) {
    put(
      metrics,
      'passage_on_seal_model',
      accuracyOf(heldOut(episodes, last, 'passage'), bootstrap),
    );
  }
  Object.assign(metrics, rewardReliability(episodes));
  const sampled = sampledSelfEdits(episodes).filter((e) => e.metrics?.truncated !== undefined);
  if (sampled.length > 0) {
    metrics.self_edit_truncated_fraction = mean(sampled.map((e) => e.metrics!.truncated!));
  }
  metrics.contexts = contextScores(heldOut(episodes, last, 'self-edit')).size;
  metrics.subset_contexts = contextScores(
    heldOut(episodes, Math.min(1, last), 'self-edit', subset),
  ).size;
  return metrics;
}

/**
 * The control's rows beside SEAL's: `random_selection_final`, `random_selection_round_<r>` (round
 * 0 is SEAL's own: both start from the same generator with the same draws) and the paired
 * `seal_minus_random_selection`.
 */
export function randomSelectionMetrics(
  config: SealConfig,
  seal: readonly ResultEpisode[],
  control: readonly ResultEpisode[],
  bootstrap: BootstrapOptions = DEFAULT_BOOTSTRAP,
): Record<string, number> {
  const metrics: Record<string, number> = {};
  const subset = subsetUnitCount(config, Number.MAX_SAFE_INTEGER);
  const last = config.outer.rounds;
  const controlFinal = heldOut(control, last, 'self-edit');
  put(metrics, 'random_selection_final', accuracyOf(controlFinal, bootstrap));
  put(
    metrics,
    'seal_minus_random_selection',
    differenceOf(heldOut(seal, last, 'self-edit'), controlFinal, bootstrap),
  );
  for (let round = 0; round <= last; round++) {
    const source = round === 0 ? seal : control;
    put(
      metrics,
      `random_selection_round_${round}`,
      accuracyOf(heldOut(source, round, 'self-edit', subset), bootstrap),
    );
  }
  return metrics;
}

/** A round's held-out evaluation that has begun and not finished: its figures are partial. */
export interface UnfinishedHeldOut {
  round: number;
  /** Held-out passages evaluated under every condition and draw the round plans for them. */
  evaluated: number;
  /** Held-out passages the round evaluates. */
  passages: number;
}

/** The rounds of `plans` whose held-out evaluation has some of its episodes stored, not all. */
export function unfinishedHeldOut(
  plans: readonly RoundPlan[],
  episodes: readonly RunPosition[],
): UnfinishedHeldOut[] {
  const key = (p: RunPosition) => `${p.round}/${p.contextIndex}/${p.sampleIndex}`;
  const stored = new Set(episodes.map(key));
  return plans.flatMap((plan) => {
    const steps = plan.steps.flatMap((step) => (step.kind === 'held-out' ? [step] : []));
    const unfinishedUnits = new Set(
      steps.filter((step) => !stored.has(key(step.position))).map((step) => step.unit),
    );
    const passagesOfUnit = new Map(steps.map((step) => [step.unit, step.passages.length]));
    const begun = steps.some((step) => stored.has(key(step.position)));
    if (!begun || unfinishedUnits.size === 0) return [];
    let evaluated = 0;
    let passages = 0;
    for (const [unit, count] of passagesOfUnit) {
      passages += count;
      if (!unfinishedUnits.has(unit)) evaluated += count;
    }
    return [{ round: plan.round, evaluated, passages }];
  });
}
