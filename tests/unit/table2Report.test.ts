import { describe, expect, it } from 'vitest';
import { replaceTable2Section, table2Goals, table2Section } from '../../scripts/table2Report';

const RESULT = {
  date: '2026-11-29T00:00:00.000Z',
  commit: '0123456789abcdef',
  metrics: {
    base: 0.072,
    base_ci_low: 0.06,
    base_ci_high: 0.085,
    seal_final: 0.55,
    seal_minus_base_self_edits: 0.031,
    seal_minus_base_self_edits_ci_low: 0.004,
    seal_minus_base_self_edits_ci_high: 0.058,
    seal_round_0: 0.5,
    seal_round_1: 0.52,
    seal_round_1_ci_low: 0.49,
    seal_round_1_ci_high: 0.55,
    cpt_base: 0.08,
    cpt_seal: 0.3,
    seal_edits_on_base_model: 0.54,
    reward_reliability: 0.67,
    random_selection_round_0: 0.5,
    random_selection_round_1: 0.49,
    contexts: 240,
    subset_contexts: 60,
    wall_s: 7200,
  },
};

describe("the README's Table 2 section", () => {
  const section = table2Section(RESULT, 'bench/results/table2-x.json');

  it("puts our rows with their intervals beside the paper's, saying which version each is", () => {
    expect(section).toContain('| base model | 7.2 (6.0 to 8.5) | 32.7 | 8.0 | 32.7 |');
    expect(section).toContain(
      '| passage + SEAL self-edits, final round | 55.0 | 47.0 | 30.0 | 58.2 |',
    );
    expect(section).toContain(
      '| SEAL − base-model self-edits (paired) | +3.1 (0.4 to 5.8) | — | — | — |',
    );
    expect(section).toContain('paper v1, single passage');
    expect(section).toContain('paper v2, CPT n = 200');
    expect(section).toContain('GPT-4.1 yes/no judge');
    expect(section).toContain('240 evaluation contexts');
    expect(section).not.toContain('train on the passage');
    expect(section).toContain(
      "| the final generator's self-edits, trained into the base model | 54.0 |",
    );
    expect(section).not.toContain('the passage alone, trained into the final generator');
    expect(section).toContain("the reward's reliability 0.67");
  });

  it('draws the curve of both runs round by round, with intervals where there are', () => {
    expect(section).toContain('| round | 0 | 1 |');
    expect(section).toContain('| SEAL | 50.0 | 52.0 (49.0 to 55.0) |');
    expect(section).toContain('| random selection | 50.0 | 49.0 |');
  });

  it('says which goals were met, from the intervals and the curve', () => {
    expect(section).toContain(
      "- SEAL above the base-model self-edits: **met** (the interval's low end is 0.4 points).",
    );
    expect(section).toContain(
      '- SEAL above the random-selection control: **not known** (not measured).',
    );
    expect(section).toContain(
      "- the curve's last round at or above every earlier round: **met** (round 1: 52.0; the best earlier, round 0: 50.0).",
    );
    const goals = table2Goals({
      seal_minus_base_self_edits_ci_low: -0.01,
      seal_minus_random_selection_ci_low: 0.002,
      seal_round_0: 0.5,
      seal_round_1: 0.6,
      seal_round_2: 0.55,
    });
    expect(goals.map((g) => g.met)).toEqual([false, true, false]);
    expect(goals[2]!.detail).toBe('round 2: 55.0; the best earlier, round 1: 60.0');
    expect(table2Goals({ seal_round_0: 0.5 })[2]!.met).toBeNull();
  });

  it('replaces only what lies between the markers, and needs them', () => {
    const readme = 'intro\n<!-- table2:start -->\nold\n<!-- table2:end -->\noutro\n';
    const updated = replaceTable2Section(readme, section);
    expect(updated.startsWith('intro\n<!-- table2:start -->')).toBe(true);
    expect(updated.endsWith('<!-- table2:end -->\noutro\n')).toBe(true);
    expect(updated).not.toContain('old');
    expect(() => replaceTable2Section('no markers', section)).toThrow(/markers/);
  });
});
