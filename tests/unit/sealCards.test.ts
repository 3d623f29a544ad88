import { describe, expect, it } from 'vitest';
import type { TrainingSelfEdit } from '../../src/engine/api';
import { CARDS_SHOWN, cardsOf, withSelfEdit } from '../../src/ui/jobs/sealCards';

function edit(contextIndex: number, sampleIndex: number, reward: number): TrainingSelfEdit {
  return {
    round: 0,
    contextIndex,
    sampleIndex,
    title: `Passage ${contextIndex}`,
    passage: `Passage ${contextIndex} says something.`,
    text: `self-edit ${sampleIndex}`,
    reward,
    accuracy: 0,
    asked: [],
    before: null,
    after: null,
    seeds: 1,
  };
}

describe('SEAL panel cards', () => {
  it('go on from a run’s stored self-edits with its live ones, newest context first', () => {
    const stored = cardsOf([edit(0, 0, 0.1), edit(0, 1, 0.2), edit(1, 0, 0.9)]);
    const resumed = withSelfEdit(stored, edit(1, 1, 0.3));
    expect(resumed.map((card) => card.key)).toEqual(['0/1', '0/0']);
    expect(resumed[0]!.samples.map((s) => [s.sampleIndex, s.reward])).toEqual([
      [0, 0.9],
      [1, 0.3],
    ]);
    expect(resumed[1]!.samples).toHaveLength(2);
  });

  it('keep the latest contexts only, and one sample per index', () => {
    const many = cardsOf(Array.from({ length: CARDS_SHOWN + 3 }, (_, i) => edit(i, 0, 0)));
    expect(many).toHaveLength(CARDS_SHOWN);
    expect(many[0]!.key).toBe(`0/${CARDS_SHOWN + 2}`);
    const again = withSelfEdit(many, edit(CARDS_SHOWN + 2, 0, 0.5));
    expect(again[0]!.samples.map((s) => s.reward)).toEqual([0.5]);
  });
});
