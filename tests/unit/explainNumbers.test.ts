import { describe, expect, it } from 'vitest';
import { trainingSelfEdit } from '../../src/engine/seal/episodes';
import { PAPER_TABLE2 } from '../../src/engine/seal/paper';
import { accuracyColour, forgettingRows, textColourOn } from '../../src/ui/explain/heatmap';
import { noiseNote, WIDE_INTERVAL } from '../../src/ui/explain/noise';
import {
  bestOf,
  bestRule,
  formatReward,
  likelihoodFactor,
  lowerAccuracyNote,
} from '../../src/ui/explain/reward';
import { PAPER_LABEL, table2ChartRows } from '../../src/ui/explain/table2Chart';

const sample = (sampleIndex: number, reward: number, accuracy: number) => ({
  sampleIndex,
  reward,
  accuracy,
});

describe('a self-edit’s reward in words', () => {
  it('carries its unit and sign', () => {
    expect(formatReward('likelihood-gain', 0.8124)).toBe('+0.812 nats/token');
    expect(formatReward('likelihood-gain', -0.5)).toBe('−0.500 nats/token');
    expect(formatReward('accuracy', 2 / 3)).toBe('67%');
    expect(formatReward('improvement', 1)).toBe('1.00');
  });

  it('reads a likelihood gain as a probability factor per gold token', () => {
    const factor = likelihoodFactor(
      { accuracy: 0, goldLogLikelihood: -3 },
      { accuracy: 0.5, goldLogLikelihood: -3 + Math.log(2) },
    );
    expect(factor).toBeCloseTo(2, 10);
  });

  it('marks as best the highest reward, the earliest on a tie, as the M-step keeps it', () => {
    const samples = [sample(0, 0.2, 1), sample(1, 0.9, 0), sample(2, 0.9, 0.5)];
    expect(bestOf(samples)).toBe(samples[1]);
    expect(bestOf([])).toBeNull();
  });

  it('explains a best self-edit with fewer right answers than another, and only then', () => {
    const samples = [sample(0, 0.2, 1), sample(1, 0.9, 0.5)];
    const note = lowerAccuracyNote(samples[1]!, samples, 'likelihood-gain');
    expect(note).toContain('#1');
    expect(note).toContain('chosen by reward');
    expect(lowerAccuracyNote(samples[0]!, samples, 'likelihood-gain')).toBeNull();
    expect(lowerAccuracyNote(samples[1]!, samples, 'accuracy')).toBeNull();
  });

  it('says what "best" means under each selection', () => {
    expect(bestRule({ selection: 'reward', keepOnlyPositive: true })).toContain('above zero');
    expect(bestRule({ selection: 'random', keepOnlyPositive: false })).toContain('random');
  });
});

describe('an episode as the card shows it', () => {
  it('pairs each stored answer with its question and gold answer, and keeps the baseline', () => {
    const edit = trainingSelfEdit(
      {
        round: 0,
        contextIndex: 1,
        sampleIndex: 2,
        selfEdit: 'a line',
        reward: 0.5,
        answers: ['1759', 'Lury'],
        grades: [1, 0],
        metrics: {
          before_accuracy: 0,
          before_gold_log_likelihood: -4,
          seed0_accuracy: 0.5,
          seed0_gold_log_likelihood: -3.5,
        },
      },
      {
        title: 'T',
        context: 'C',
        questions: [
          { question: 'When?', answer: '1759' },
          { question: 'Where?', answer: 'Troratoun' },
          { question: 'Not asked?', answer: 'x' },
        ],
      },
      0.5,
    );
    expect(edit.asked).toEqual([
      { question: 'When?', gold: '1759', answer: '1759', grade: 1 },
      { question: 'Where?', gold: 'Troratoun', answer: 'Lury', grade: 0 },
    ]);
    expect(edit.before).toEqual({ accuracy: 0, goldLogLikelihood: -4 });
    expect(edit.after).toEqual({ accuracy: 0.5, goldLogLikelihood: -3.5 });
    expect(edit.seeds).toBe(1);
  });
});

describe('the noise note', () => {
  it('speaks up for a wide interval only, naming its ends and the passages', () => {
    const wide = noiseNote({ point: 0.3, low: 0.1, high: 0.5 }, 4);
    expect(wide).toContain('4 held-out passages');
    expect(wide).toContain('10.0% to 50.0%');
    expect(wide).toContain('40 points');
    expect(noiseNote({ point: 0.3, low: 0.28, high: 0.28 + WIDE_INTERVAL / 2 }, 400)).toBeNull();
  });
});

describe('Table 2 as a chart', () => {
  it('puts each measured condition’s interval beside the paper’s number', () => {
    const rows = table2ChartRows({
      base: 0.1,
      base_ci_low: 0.05,
      base_ci_high: 0.2,
      seal_final: 0.3,
      seal_final_ci_low: 0.2,
      seal_final_ci_high: 0.4,
      seal_minus_base_self_edits: 0.1,
    });
    expect(rows.map((r) => r.key)).toEqual(['base', 'seal_final']);
    expect(rows[0]).toMatchObject({
      ours: { point: 0.1, low: 0.05, high: 0.2 },
      paper: PAPER_TABLE2.v1Single.base / 100,
    });
    expect(rows[1]!.paper).toBeCloseTo(PAPER_TABLE2.v1Single.seal_final / 100, 10);
    expect(PAPER_LABEL).toBe('paper (Qwen2.5-7B, SQuAD)');
  });
});

describe('the forgetting heat map', () => {
  it('has a row per edit step, after a row before any edit, with each step’s own passage marked', () => {
    const rows = forgettingRows({
      before: [0.1, 0.2],
      rows: [
        [0.9, 0.2],
        [0.5, 0.8],
      ],
    });
    expect(rows.map((r) => r.label)).toEqual([
      'before any edit',
      'after editing passage 1',
      'after editing passage 2',
    ]);
    expect(rows[2]!.cells).toEqual([
      { value: 0.5, ownEdit: false },
      { value: 0.8, ownEdit: true },
    ]);
    expect(rows[0]!.cells.every((c) => !c.ownEdit)).toBe(true);
  });

  it('leaves cells of steps still running empty', () => {
    const rows = forgettingRows({ before: [], rows: [[0.5, 0.25, 0]] });
    expect(rows).toHaveLength(1);
    expect(rows[0]!.cells.map((c) => c.value)).toEqual([0.5, 0.25, 0]);
  });

  it('colours higher accuracies lighter and writes on them in a readable colour', () => {
    const lightness = (v: number) => Number(/(\d+)%\)$/.exec(accuracyColour(v))![1]);
    expect(lightness(1)).toBeGreaterThan(lightness(0.5));
    expect(lightness(0.5)).toBeGreaterThan(lightness(0));
    expect(textColourOn(0)).toBe('#ffffff');
    expect(textColourOn(1)).toBe('#0d1117');
  });
});
