import { describe, expect, it } from 'vitest';
import { resolveSealConfig } from '../../src/engine/seal/config';
import {
  randomSelectionMetrics,
  reliabilityBySeeds,
  rewardReliability,
  rewardsOfEpisode,
  roundSummaries,
  table2Metrics,
  type ResultEpisode,
} from '../../src/engine/seal/results';
import type { EvaluationCondition } from '../../src/engine/store';

const BOOTSTRAP = { replicates: 300, seed: 2, level: 0.95 };

/** A held-out episode of `context` whose answers are right `right` times out of `asked`. */
function heldOut(
  round: number,
  contextIndex: number,
  condition: EvaluationCondition,
  right: number,
  {
    asked = 4,
    draw = 0,
    metrics,
  }: { asked?: number; draw?: number; metrics?: Record<string, number> } = {},
): ResultEpisode {
  return {
    round,
    contextIndex,
    sampleIndex: draw,
    contextId: `org-${contextIndex}`,
    kind: 'held-out',
    condition,
    draw,
    grades: Array.from({ length: asked }, (_, i) => (i < right ? 1 : 0)),
    reward: right / asked,
    metrics,
  };
}

/** Two rounds on 4 contexts (2 in the curve's subset), two draws per self-edit condition. */
function runEpisodes(): ResultEpisode[] {
  const episodes: ResultEpisode[] = [];
  for (let c = 0; c < 4; c++) {
    episodes.push(heldOut(0, c, 'base', 0));
    episodes.push(heldOut(0, c, 'passage', 1));
    for (const draw of [0, 1]) {
      episodes.push(
        heldOut(0, c, 'self-edit', 2, {
          draw,
          metrics: { lines: 4, consistent_lines: 2, truncated: draw },
        }),
      );
      episodes.push(heldOut(0, c, 'teacher', 4, { draw }));
    }
  }
  for (let c = 0; c < 2; c++) {
    for (const draw of [0, 1]) episodes.push(heldOut(1, c, 'self-edit', 3, { draw }));
  }
  for (let c = 0; c < 4; c++) {
    for (const draw of [0, 1]) {
      episodes.push(heldOut(2, c, 'self-edit', c < 2 ? 4 : 3, { draw, metrics: { truncated: 0 } }));
    }
  }
  for (let c = 0; c < 2; c++) {
    episodes.push(heldOut(2, c, 'passage', 2));
    for (const draw of [0, 1]) episodes.push(heldOut(2, 4 + c, 'self-edit-on-base', 3, { draw }));
  }
  // The base-model block sits after the held-out units but names the same contexts.
  return episodes.map((e) =>
    e.condition === 'self-edit-on-base' ? { ...e, contextId: `org-${e.contextIndex - 4}` } : e,
  );
}

const CONFIG = resolveSealConfig({
  outer: { rounds: 2 },
  heldOut: {
    contexts: 4,
    draws: 2,
    subsetContexts: 2,
    crossConditions: true,
    conditions: ['base', 'passage', 'self-edit', 'teacher'],
  },
});

describe('Table 2 from hand-built episodes', () => {
  const metrics = table2Metrics(CONFIG, runEpisodes(), BOOTSTRAP);

  it('scores every row over all questions and draws of its contexts', () => {
    expect(metrics.base).toBe(0);
    expect(metrics.passage).toBe(0.25);
    expect(metrics.base_self_edits).toBe(0.5);
    expect(metrics.teacher_self_edits).toBe(1);
    // Final: contexts 0–1 right 4/4, contexts 2–3 right 3/4.
    expect(metrics.seal_final).toBe(0.875);
    expect(metrics.seal_minus_base_self_edits).toBeCloseTo(0.375, 12);
    expect(metrics.contexts).toBe(4);
  });

  it('draws the curve on the subset only, the same contexts in every round', () => {
    expect(metrics.seal_round_0).toBe(0.5);
    expect(metrics.seal_round_1).toBe(0.75);
    expect(metrics.seal_round_2).toBe(1);
    expect(metrics.subset_contexts).toBe(2);
  });

  it('reports the cross conditions after the last round', () => {
    expect(metrics.seal_edits_on_base_model).toBe(0.75);
    expect(metrics.passage_on_seal_model).toBe(0.5);
  });

  it('gives every accuracy an interval around its point', () => {
    for (const row of ['base_self_edits', 'seal_final', 'seal_minus_base_self_edits']) {
      expect(metrics[`${row}_ci_low`]).toBeLessThanOrEqual(metrics[row]!);
      expect(metrics[`${row}_ci_high`]).toBeGreaterThanOrEqual(metrics[row]!);
    }
  });

  it('counts self-edits cut short by the token limit', () => {
    // Round 0: 4 of 8 held-out draws truncated; round 2: none of 8.
    expect(metrics.self_edit_truncated_fraction).toBe(0.25);
  });

  it('compares with the random-selection control on the same contexts', () => {
    const control = runEpisodes()
      .filter((e) => e.round > 0 && e.condition === 'self-edit')
      .map((e) => ({ ...e, grades: e.grades.map((g, i) => (i === 0 ? 0 : g)) }));
    const random = randomSelectionMetrics(CONFIG, runEpisodes(), control, BOOTSTRAP);
    expect(random.random_selection_final).toBe(0.625);
    expect(random.seal_minus_random_selection).toBeCloseTo(0.25, 12);
    expect(random.random_selection_round_0).toBe(metrics.seal_round_0);
    expect(random.random_selection_round_2).toBe(0.75);
  });
});

describe('older episodes', () => {
  it('are read by the condition their contextId names', () => {
    const legacy: ResultEpisode[] = [
      {
        ...heldOut(0, 0, 'base', 1),
        kind: undefined,
        condition: undefined,
        draw: undefined,
        contextId: 'held-out/base/org-0',
      },
      {
        ...heldOut(0, 0, 'passage', 3),
        kind: undefined,
        condition: undefined,
        draw: undefined,
        contextId: 'held-out/passage/org-0',
      },
    ];
    const metrics = table2Metrics(resolveSealConfig({ outer: { rounds: 0 } }), legacy, BOOTSTRAP);
    expect(metrics.base).toBe(0.25);
    expect(metrics.passage).toBe(0.75);
  });
});

/** A rewarded training self-edit with the scores every reward mode is made of. */
function rewarded(
  kind: 'self-edit' | 'reward-check',
  context: string,
  sampleIndex: number,
  seeds: [accuracy: number, goldLogLikelihood: number][],
  before: [accuracy: number, goldLogLikelihood: number] = [0.25, -3],
): ResultEpisode {
  const metrics: Record<string, number> = {
    before_accuracy: before[0],
    before_gold_log_likelihood: before[1],
  };
  seeds.forEach(([accuracy, ll], i) => {
    metrics[`seed${i}_accuracy`] = accuracy;
    metrics[`seed${i}_gold_log_likelihood`] = ll;
  });
  const gain = seeds.reduce((sum, [, ll]) => sum + ll, 0) / seeds.length - before[1];
  return {
    round: 0,
    contextIndex: 10,
    sampleIndex,
    contextId: context,
    kind,
    grades: [],
    reward: gain,
    metrics,
  };
}

describe('reward reliability', () => {
  it('recomputes every reward mode from the stored scores', () => {
    const rewards = rewardsOfEpisode(
      rewarded('self-edit', 'a', 0, [
        [0.5, -2],
        [0.25, -1],
      ]),
    );
    expect(rewards).toEqual({ improvement: 0.5, accuracy: 0.375, 'likelihood-gain': 1.5 });
    expect(rewardsOfEpisode({ metrics: { lines: 3 } })).toBeNull();
  });

  it('correlates the two evaluations of each self-edit inside its context', () => {
    const episodes = [
      rewarded('self-edit', 'a', 0, [[0.5, -1]]),
      rewarded('self-edit', 'a', 1, [[0.25, -2]]),
      rewarded('self-edit', 'b', 0, [[0.75, -1.5]]),
      rewarded('self-edit', 'b', 1, [[0.5, -2.5]]),
      // The checks agree on the likelihood ranking in both contexts, and on accuracy in one.
      rewarded('reward-check', 'a', 0, [[0.5, -0.5]]),
      rewarded('reward-check', 'a', 1, [[0.25, -1.5]]),
      rewarded('reward-check', 'b', 0, [[0.5, -2]]),
      rewarded('reward-check', 'b', 1, [[0.75, -3]]),
    ];
    const metrics = rewardReliability(episodes);
    expect(metrics.reward_reliability).toBeCloseTo(1, 12);
    expect(metrics['reward_reliability_likelihood-gain']).toBeCloseTo(1, 12);
    expect(metrics.reward_reliability_accuracy).toBeCloseTo(0, 12);
    expect(metrics.reward_checked_self_edits).toBe(4);
    expect(rewardReliability(episodes.slice(0, 4))).toEqual({});
  });

  it('says what fewer seeds would have measured', () => {
    // The checks agree with the first evaluations on seed 0; their seed 1 reverses the order.
    const episodes = [
      rewarded('self-edit', 'a', 0, [
        [0.5, -1],
        [0.5, -1],
      ]),
      rewarded('self-edit', 'a', 1, [
        [0.25, -2],
        [0.25, -2],
      ]),
      rewarded('reward-check', 'a', 0, [
        [0.5, -1],
        [0.5, -4],
      ]),
      rewarded('reward-check', 'a', 1, [
        [0.25, -2],
        [0.25, -1],
      ]),
    ];
    const rows = reliabilityBySeeds(episodes);
    expect(rows.map((r) => r.seeds)).toEqual([1, 2]);
    expect(rows[0]!.metrics['reward_reliability_likelihood-gain']).toBeCloseTo(1, 12);
    expect(rows[1]!.metrics['reward_reliability_likelihood-gain']).toBeCloseTo(-1, 12);
    expect(rewardsOfEpisode(episodes[2]!, 1)!['likelihood-gain']).toBe(2);
    expect(rewardsOfEpisode(episodes[2]!)!['likelihood-gain']).toBe(0.5);
  });
});

describe('round summaries', () => {
  it('report held-out accuracy on the curve, line diagnostics and truncation per round', () => {
    const rounds = roundSummaries(CONFIG, runEpisodes(), BOOTSTRAP);
    expect(rounds.map((r) => r.round)).toEqual([0, 1, 2]);
    expect(rounds.map((r) => r.heldOutAccuracy)).toEqual([0.5, 0.75, 1]);
    expect(rounds[0]!.linesPerSelfEdit).toBe(4);
    expect(rounds[0]!.consistentShare).toBe(0.5);
    expect(rounds[0]!.truncatedShare).toBe(0.5);
    expect(rounds[2]!.truncatedShare).toBe(0);
  });
});
