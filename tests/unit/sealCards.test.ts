import { describe, expect, it } from 'vitest';
import type { TrainingSelfEdit } from '../../src/engine/api';
import { CARDS_SHOWN, cardPage, cardsOf, withSelfEdit } from '../../src/ui/jobs/sealCards';

function edit(
  contextIndex: number,
  sampleIndex: number,
  reward: number,
  round = 0,
): TrainingSelfEdit {
  return {
    round,
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

  it('of a shown run are kept whole and paged round by round, in run order', () => {
    const perRound = CARDS_SHOWN + 5;
    const edits = [0, 1].flatMap((round) =>
      Array.from({ length: perRound }, (_, i) => edit(i, 0, round, round)),
    );
    const cards = cardsOf(edits, Number.POSITIVE_INFINITY);
    expect(cards).toHaveLength(2 * perRound);

    const latest = cardPage(cards, null, 0)!;
    expect(latest).toMatchObject({ rounds: [0, 1], round: 1, page: 0, pages: 2, first: 0 });
    expect(latest.total).toBe(perRound);
    expect(latest.cards.map((card) => card.contextIndex)).toEqual(
      Array.from({ length: CARDS_SHOWN }, (_, i) => i),
    );
    const second = cardPage(cards, 0, 1)!;
    expect(second).toMatchObject({ round: 0, page: 1, first: CARDS_SHOWN });
    expect(second.cards.map((card) => card.key)).toEqual(
      Array.from({ length: 5 }, (_, i) => `0/${CARDS_SHOWN + i}`),
    );
    // A page or round that is not there shows the nearest there is.
    expect(cardPage(cards, 7, 9)).toMatchObject({ round: 1, page: 1 });
    expect(cardPage([], null, 0)).toBeNull();
  });
});
